"""The router: from a route request to one claimed officer, at the edge of the pure engine.

It runs the pure eligibility checks (licence, loan type, hours, minimums) for the pool's
officers not yet tried, drops repeat callers where the campaign says not to route them, ranks
the rest by the pool's strategy (asking for bids first under ping-post) and lets one Redis
script take the first with room under every cap (:mod:`ivr.routing.usage`). Releasing the
slot when the officer's leg ends is here too, so every adapter frees slots the same way.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
from redis.asyncio import Redis

from ivr.compliance.repeats import RepeatCallers
from ivr.deployment import Pool, Setup
from ivr.metrics import ServerMetrics
from ivr.routing.decision import Decision, Pick, RouteRequest
from ivr.routing.eligibility import Usage, eligibility
from ivr.routing.officers import Officer
from ivr.routing.ping_post import collect_bids
from ivr.routing.usage import UsageBook

Clock = Callable[[], float]

OVERFLOW = "overflow"
"""The pick when the pool's overflow line is dialled: no officer, no slot, no caps."""

ANSWERED_LEASE_S = 4 * 3600 + 300
"""An answered leg's slot lasts the longest bridge (the dial's time limit) and a margin."""


class Router:
    """Picks and claims officers for transfers, and frees them when their legs end."""

    def __init__(
        self,
        setup: Setup,
        book: UsageBook,
        repeats: RepeatCallers,
        clock: Clock,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.setup = setup
        self.book = book
        self.repeats = repeats
        self.clock = clock
        self.session = session
        """For ping-post bids; set at start-up (a pool that pings needs it)."""
        self.metrics: ServerMetrics | None = None
        """Set by the server: decisions are counted by result."""

    async def route(self, request: RouteRequest) -> Decision:
        pool = self.setup.pool(request.pool)
        if request.repeat and not self._routes_repeats(request.campaign):
            self._decided("repeat_caller")
            return Decision(None, ("repeat caller inside the campaign's window: not routed",))
        now = self.clock()
        reasons: list[str] = []
        candidates = self._eligible(pool, request, now, reasons)
        sent_before = await self.repeats.sent_before(request.caller, candidates)
        if sent_before and not self._routes_repeats(request.campaign):
            reasons += [f"{o}: repeat caller inside their window" for o in sorted(sent_before)]
            candidates = [o for o in candidates if o.id not in sent_before]
        bids: dict[str, Decimal] = {}
        if pool.strategy == "ping_post" and candidates:
            candidates, bids = await self._auction(pool, request, candidates, reasons)
        elif pool.strategy == "waterfall":
            candidates = sorted(candidates, key=lambda o: o.priority)  # stable: pool order
        claim = secrets.token_hex(12)
        claimed = await self.book.claim(
            claim, pool.id, pool.strategy, candidates, now, request.lease_s
        )
        reasons += [f"{officer}: {why}" for officer, why in claimed.full.items()]
        if claimed.officer is None:
            if pool.fallback_number and OVERFLOW not in request.tried:
                reasons.append("no officer can take the call: the pool's overflow line")
                self._decided("overflow")
                return Decision(Pick(OVERFLOW, pool.fallback_number, claim=""), tuple(reasons))
            self._decided("nobody")
            return Decision(None, tuple(reasons))
        officer = self._officer(claimed.officer)
        pick = Pick(
            officer.id,
            officer.phone,
            claim,
            duplicate=officer.id in sent_before,
            bid=bids.get(officer.id),
        )
        self._decided("ping_post_winner" if pool.strategy == "ping_post" else "officer")
        return Decision(pick, tuple(reasons))

    def _decided(self, result: str) -> None:
        """Count a decision (a turn retried after a lost compare-and-set decides, and counts,
        again: these are decisions made, not calls)."""
        if self.metrics is not None:
            self.metrics.routing_decisions.labels(result=result).inc()

    async def answered(self, claim: str) -> None:
        """The officer picked up: hold the slot for as long as the bridge may last."""
        if claim:
            await self.book.extend(claim, self.clock() + ANSWERED_LEASE_S)

    async def leg_ended(self, claim: str) -> None:
        if claim:
            await self.book.end_leg(claim)

    async def settle(self, claim: str, officer_id: str, caller: str, connected: bool) -> None:
        """The attempt's outcome is known: free the slot, refund or keep the counts, once."""
        if not claim:  # the overflow line holds no slot
            return
        await self.book.settle(claim, connected)
        if connected:
            await self.repeats.connected(caller, self._officer(officer_id))

    def _eligible(
        self, pool: Pool, request: RouteRequest, now: float, reasons: list[str]
    ) -> list[Officer]:
        """Officers passing every check but the caps (those are the claim's, atomically)."""
        moment = datetime.fromtimestamp(now, UTC)
        eligible = []
        for officer in self.setup.pool_officers(pool):
            if officer.id in request.tried:
                continue
            verdict = eligibility(officer, request.call, moment, Usage())
            if verdict.eligible:
                eligible.append(officer)
            else:
                reasons.append(f"{officer.id}: {'; '.join(verdict.reasons)}")
        return eligible

    async def _auction(
        self,
        pool: Pool,
        request: RouteRequest,
        candidates: Sequence[Officer],
        reasons: list[str],
    ) -> tuple[list[Officer], dict[str, Decimal]]:
        if self.session is None:
            raise RuntimeError("ping-post routing needs an HTTP session (set at start-up)")
        auction = await collect_bids(
            self.session,
            candidates,
            request.call,
            pool.ping_deadline_ms / 1000,
            ping_id=secrets.token_hex(8),
        )
        reasons += [f"{s.officer}: {s.reason}" for s in auction.skipped]
        by_id = {o.id: o for o in candidates}
        ranked = [by_id[officer_id] for officer_id in auction.ranking]
        return ranked, {bid.officer: bid.amount for bid in auction.bids}

    def _routes_repeats(self, campaign_id: str) -> bool:
        return self.setup.campaign(campaign_id).duplicates.route

    def _officer(self, officer_id: str) -> Officer:
        return next(o for o in self.setup.deployment.officers if o.id == officer_id)


@contextlib.asynccontextmanager
async def open_router(
    setup: Setup, redis_url: str, clock: Clock = time.time
) -> AsyncIterator[Router]:
    """A router with its own Redis connection and HTTP session, for in-process calls and tools
    (the server builds one into its application's lifecycle instead)."""
    redis = Redis.from_url(redis_url)
    try:
        async with aiohttp.ClientSession() as session:
            yield Router(setup, UsageBook(redis), RepeatCallers(redis), clock, session)
    finally:
        await redis.aclose()
