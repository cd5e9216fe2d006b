"""Router.route on a real deployment file, Redis and local bidders: who is passed over and why,
the tried list, the pool's overflow line, repeat callers, and ping-post with caps."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from ivr.compliance.repeats import RepeatCallers
from ivr.deployment import load_setup
from ivr.routing.decision import Decision, Pick, RouteRequest
from ivr.routing.eligibility import CallAttributes
from ivr.routing.officers import Officer
from ivr.routing.router import OVERFLOW, Router
from ivr.routing.usage import UsageBook
from tests.support.deployments import scenario_deployment
from tests.unit.test_routing_eligibility import CALL, MONDAY_2PM, officer
from tests.unit.test_routing_ping_post import Bidders

pytestmark = pytest.mark.integration

NOW = datetime.fromisoformat(MONDAY_2PM).timestamp()  # a Monday, 14:00 in Chicago
CALLER = "+12145550188"
OVERFLOW_LINE = "+15125550100"
ROUTES = "sunbelt-refi"  # the sample campaign routing repeat callers (flagged)
REFUSES = "national"  # made here to refuse them

TESS = officer(id="tess", licences={"TX": "2020-06-30"}, priority=1)
LATE = officer(id="late", time_zone="America/New_York", hours={"mon-fri": "09:00-12:00"})
AMY = officer(id="amy", priority=2, duplicate_window_h=24)
BO = officer(id="bo", priority=3)


def deploy(folder: Path, officers: Sequence[Officer], **pool: Any) -> Path:
    """The sample deployment with these officers in ``loan_officers`` (the flows' pool)."""
    path = scenario_deployment(folder)
    data = yaml.safe_load(path.read_text())
    data["officers"] = [o.model_dump(mode="json", exclude_defaults=True) for o in officers]
    data["pools"] = [{"id": "loan_officers", "officers": [o.id for o in officers], **pool}]
    for campaign in data["campaigns"]:
        campaign["duplicates"]["route"] = campaign["id"] == ROUTES
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def bidders() -> AsyncIterator[Bidders]:
    app = web.Application()
    server = TestServer(app, host="127.0.0.1")
    state = Bidders(server)
    app.router.add_post("/", state.handle)
    async with server:
        yield state
        state.release.set()


MakeRouter = Callable[..., Router]
"""Officers (and the pool's other settings) → a router on a fresh deployment and key prefix."""


@pytest.fixture
def make_router(tmp_path: Path, redis: Redis, session: aiohttp.ClientSession) -> MakeRouter:
    prefix = f"test:{uuid.uuid4().hex}:"

    def make(officers: Sequence[Officer], **pool: Any) -> Router:
        path = deploy(tmp_path, officers, **pool)
        book, repeats = UsageBook(redis, prefix=prefix), RepeatCallers(redis, prefix=prefix)
        return Router(load_setup(path), book, repeats, lambda: NOW, session)

    return make


def request(
    caller: str = CALLER,
    campaign: str = ROUTES,
    tried: tuple[str, ...] = (),
    repeat: bool = False,
    call: CallAttributes = CALL,
) -> RouteRequest:
    return RouteRequest("loan_officers", call, caller, campaign, repeat, tried, lease_s=60)


def picked(decision: Decision) -> str | None:
    return decision.pick.officer if decision.pick else None


# --- eligibility and the tried list --------------------------------------------------------


async def test_an_expired_licence_is_never_picked_even_at_priority_one(
    make_router: MakeRouter,
) -> None:
    router = make_router([TESS, AMY, BO])
    for _ in range(3):
        decision = await router.route(request())
        assert picked(decision) == "amy"
        assert decision.reasons == ("tess: licence TX expired 2020-06-30",)


async def test_a_closed_officer_is_skipped_with_the_local_time(make_router: MakeRouter) -> None:
    router = make_router([LATE, AMY])
    decision = await router.route(request())
    assert picked(decision) == "amy"
    assert decision.reasons == ("late: closed: 15:00 America/New_York",)


async def test_tried_officers_are_not_offered_again(make_router: MakeRouter) -> None:
    router = make_router([AMY, BO])
    decision = await router.route(request(tried=("amy",)))
    assert (picked(decision), decision.reasons) == ("bo", ())
    assert await router.route(request(tried=("amy", "bo"))) == Decision(None, ())


async def test_nobody_eligible_lists_every_officer_and_why(make_router: MakeRouter) -> None:
    amy = officer(id="amy", priority=2, caps={"concurrent": 1})
    router = make_router([TESS, LATE, amy])
    assert picked(await router.route(request())) == "amy"
    assert await router.route(request()) == Decision(
        None,
        (
            "tess: licence TX expired 2020-06-30",
            "late: closed: 15:00 America/New_York",
            "amy: concurrent cap 1/1",
        ),
    )


# --- the overflow line ---------------------------------------------------------------------


async def test_the_overflow_line_is_dialled_only_when_no_officer_is_left(
    make_router: MakeRouter,
) -> None:
    amy = officer(id="amy", caps={"concurrent": 1})
    router = make_router([amy], fallback_number=OVERFLOW_LINE)
    first = await router.route(request())
    assert picked(first) == "amy" and first.reasons == ()

    overflow = await router.route(request())
    assert overflow == Decision(
        Pick(OVERFLOW, OVERFLOW_LINE, claim=""),
        ("amy: concurrent cap 1/1", "no officer can take the call: the pool's overflow line"),
    )
    await router.settle("", OVERFLOW, CALLER, connected=True)  # holds no slot: nothing to do

    again = await router.route(request(tried=(OVERFLOW,)))
    assert again == Decision(None, ("amy: concurrent cap 1/1",))


async def test_without_an_overflow_line_nobody_is_picked(make_router: MakeRouter) -> None:
    router = make_router([AMY])
    assert await router.route(request(tried=("amy",))) == Decision(None, ())


# --- repeat callers ------------------------------------------------------------------------


async def connect(router: Router, caller: str = CALLER) -> Pick:
    """Route a call and settle it as connected: the officer has now taken this caller."""
    decision = await router.route(request(caller=caller))
    assert decision.pick is not None
    await router.settle(decision.pick.claim, decision.pick.officer, caller, connected=True)
    return decision.pick


async def test_a_repeat_caller_is_flagged_for_the_officer_who_took_them(
    make_router: MakeRouter,
) -> None:
    router = make_router([AMY, BO])
    assert (await connect(router)).duplicate is False
    again = await router.route(request())
    assert again.pick is not None
    assert (again.pick.officer, again.pick.duplicate) == ("amy", True)
    other = await router.route(request(caller="+12145550199"))
    assert other.pick is not None and other.pick.duplicate is False


async def test_a_call_that_did_not_connect_does_not_make_a_repeat(make_router: MakeRouter) -> None:
    router = make_router([AMY, BO])
    first = await router.route(request())
    assert first.pick is not None
    await router.settle(first.pick.claim, "amy", CALLER, connected=False)
    again = await router.route(request())
    assert again.pick is not None and again.pick.duplicate is False


async def test_an_officers_repeat_is_skipped_where_the_campaign_does_not_route_them(
    make_router: MakeRouter,
) -> None:
    router = make_router([AMY, BO])
    await connect(router)
    decision = await router.route(request(campaign=REFUSES))
    assert picked(decision) == "bo"
    assert decision.reasons == ("amy: repeat caller inside their window",)


async def test_a_campaign_repeat_is_not_routed_where_the_campaign_says_not_to(
    make_router: MakeRouter,
) -> None:
    router = make_router([AMY, BO])
    refused = await router.route(request(campaign=REFUSES, repeat=True))
    assert refused == Decision(None, ("repeat caller inside the campaign's window: not routed",))
    assert picked(await router.route(request(campaign=ROUTES, repeat=True))) == "amy"


# --- ping-post -----------------------------------------------------------------------------


def bidder(bidders: Bidders, id: str, amount: int, sleep: float = 0, **fields: Any) -> Officer:
    return officer(id=id, ping_url=bidders.url(json.dumps({"bid": amount}), sleep), **fields)


async def test_ping_post_picks_the_highest_bid_in_time_and_never_sends_the_caller(
    make_router: MakeRouter, bidders: Bidders
) -> None:
    buyers = [
        bidder(bidders, "low", 30),
        bidder(bidders, "high", 50),
        bidder(bidders, "slow", 90, sleep=2),
    ]
    router = make_router(buyers, strategy="ping_post", ping_deadline_ms=200)
    decision = await router.route(request())
    assert decision.pick is not None
    assert (decision.pick.officer, decision.pick.bid) == ("high", Decimal("50"))
    assert decision.reasons == ("slow: no bid in 200 ms",)

    assert len(bidders.received) == 3
    digits = CALLER.lstrip("+")
    for body, headers in bidders.received:
        assert set(json.loads(body)) == {"ping_id", "loan_type", "state", "credit_band", "score"}
        assert digits not in body.decode() and digits[-7:] not in body.decode()
        assert not any(digits[-7:] in value for value in headers.values())


async def test_ping_post_claims_the_next_bidder_when_the_top_one_is_at_its_cap(
    make_router: MakeRouter, bidders: Bidders
) -> None:
    buyers = [
        bidder(bidders, "low", 30),
        bidder(bidders, "high", 50, caps={"concurrent": 1}),
    ]
    router = make_router(buyers, strategy="ping_post", ping_deadline_ms=200)
    first = await router.route(request())
    assert first.pick is not None and first.pick.officer == "high"
    second = await router.route(request())
    assert second.pick is not None
    assert (second.pick.officer, second.pick.bid) == ("low", Decimal("30"))
    assert second.reasons == ("high: concurrent cap 1/1",)
