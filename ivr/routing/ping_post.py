"""Ping-post: ask each eligible officer what they would pay for this call, before transferring it.

Under the ``ping_post`` strategy the router does not decide the order itself: the buyers do.
Every eligible officer's ``ping_url`` is sent the call's anonymised attributes at once, bids are
taken until one shared deadline, and the call goes to the highest bidder (ties by priority, then
by the order the officers were given). The caller is on hold meanwhile, so the deadline is a hard
one: requests still running when it passes are cancelled, body reads included.

A bidder's endpoint is outside our control, so whatever it does (time out, refuse the
connection, answer 500, send a body that is not JSON, bid "abc", NaN or a million) becomes a
:class:`Skipped` with the reason, never an exception; only our own mistakes (a deadline that is
not positive) raise. What is sent is the four attributes routing may know and a ping id, built
here field by field: never the caller's phone number, nor anything else about who they are.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Final

import aiohttp

from ivr.routing.eligibility import CallAttributes
from ivr.routing.officers import Officer

USER_AGENT: Final = "Warmline-ping/1"
MAX_BODY_BYTES: Final = 64 * 1024
MAX_BID: Final = Decimal(100_000)
CENT: Final = Decimal("0.01")
DECLINED: Final = "declined (no bid)"

_NUMERIC: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_HEADERS: Final = {"Content-Type": "application/json", "User-Agent": USER_AGENT}


@dataclass(frozen=True)
class Bid:
    """What one officer offered, rounded down to the cent (never charge more than offered)."""

    officer: str
    amount: Decimal
    elapsed_ms: float
    """From the start of the auction to the parsed answer."""


@dataclass(frozen=True)
class Skipped:
    """An officer left out of the auction, and why (shown to operators, so short and static)."""

    officer: str
    reason: str


@dataclass(frozen=True)
class Auction:
    """Every officer's outcome: the bids best first, the rest in the order given."""

    bids: list[Bid]
    skipped: list[Skipped]
    elapsed_ms: float

    @property
    def ranking(self) -> list[str]:
        """Officer ids, best bid first: the order the router tries them in."""
        return [bid.officer for bid in self.bids]


class _Rejected(Exception):
    """A bidder's answer that is not a bid; the message is the :class:`Skipped` reason."""


async def collect_bids(
    session: aiohttp.ClientSession,
    officers: Sequence[Officer],
    call: CallAttributes,
    deadline_s: float,
    ping_id: str,
) -> Auction:
    """Ping every officer at once and rank the bids that arrive within ``deadline_s``.

    Returns no later than the deadline (plus the few milliseconds cancelling takes). The session's
    connector limits apply: one that allows fewer connections than officers serialises them.
    """
    _check_arguments(officers, deadline_s, ping_id)
    loop = asyncio.get_running_loop()
    start = loop.time()
    ask = _Ask(session, _payload(call, ping_id), start, start + deadline_s)
    outcomes = await asyncio.gather(*(ask.officer(officer) for officer in officers))
    order = {officer.id: (officer.priority, index) for index, officer in enumerate(officers)}
    bids = [outcome for outcome in outcomes if isinstance(outcome, Bid)]
    bids.sort(key=lambda bid: (-bid.amount, *order[bid.officer]))
    skipped = [outcome for outcome in outcomes if isinstance(outcome, Skipped)]
    return Auction(bids, skipped, _ms(loop.time() - start))


def _check_arguments(officers: Sequence[Officer], deadline_s: float, ping_id: str) -> None:
    if not math.isfinite(deadline_s) or deadline_s <= 0:
        raise ValueError(f"deadline_s must be a positive number of seconds, not {deadline_s!r}")
    if not ping_id:
        raise ValueError("ping_id must not be empty")
    ids = [officer.id for officer in officers]
    if len(set(ids)) != len(ids):
        raise ValueError("officer ids must be unique in one auction")


def _payload(call: CallAttributes, ping_id: str) -> bytes:
    """Exactly these five keys, field by field, so nothing identifying can slip in."""
    body = {
        "ping_id": ping_id,
        "loan_type": call.loan_type,
        "state": call.state,
        "credit_band": call.credit_band,
        "score": call.score,
    }
    return json.dumps(body).encode()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


@dataclass(frozen=True)
class _Ask:
    """One auction's shared request: the body, when it started, and its one deadline."""

    session: aiohttp.ClientSession
    body: bytes
    start: float
    deadline: float

    async def officer(self, officer: Officer) -> Bid | Skipped:
        """One officer's outcome; bidder misbehaviour is a :class:`Skipped`, never raised."""
        if officer.ping_url is None:
            return Skipped(officer.id, "no ping URL")
        try:
            async with asyncio.timeout_at(self.deadline):
                amount = await self._ping(officer.ping_url)
        except _Rejected as rejected:
            return Skipped(officer.id, str(rejected))
        except TimeoutError:  # only the deadline's: the session's own are caught in _ping
            return Skipped(officer.id, f"no bid in {round((self.deadline - self.start) * 1000)} ms")
        elapsed = asyncio.get_running_loop().time() - self.start
        return Bid(officer.id, amount, _ms(elapsed))

    async def _ping(self, url: str) -> Decimal:
        try:
            async with self.session.post(
                url, data=self.body, headers=_HEADERS, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise _Rejected(f"HTTP {response.status}")
                body = await _read_limited(response)
        except (aiohttp.ClientError, OSError, ValueError) as error:  # OSError: session timeouts too
            raise _Rejected(f"connection failed: {type(error).__name__}") from None
        return _parse_bid(body)


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    """The body, refusing to hold more than :data:`MAX_BODY_BYTES` of a bidder's answer."""
    if (response.content_length or 0) > MAX_BODY_BYTES:
        raise _Rejected("malformed bid: body over 64 KiB")
    body = bytearray()
    async for chunk in response.content.iter_chunked(16 * 1024):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _Rejected("malformed bid: body over 64 KiB")
    return bytes(body)


def _parse_bid(body: bytes) -> Decimal:
    """A bid from a 200 answer's body, or :class:`_Rejected` with the reason it is not one."""
    answer = _json_object(body)
    if answer.get("accept") is False:
        raise _Rejected(DECLINED)
    if "bid" not in answer:
        raise _Rejected("malformed bid: 'bid' missing")
    if answer["bid"] is None:
        raise _Rejected(DECLINED)
    return _amount(_number(answer["bid"]))


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        # Decimals throughout: 42.10 stays 42.10, and NaN or Infinity become Decimals to refuse.
        answer = json.loads(body, parse_float=Decimal, parse_constant=Decimal)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, or nested too deep
        raise _Rejected("malformed bid: not JSON") from None
    if not isinstance(answer, dict):
        raise _Rejected("malformed bid: not a JSON object")
    return answer


def _number(value: object) -> Decimal:
    """A JSON number or a plain decimal string ("42.50"); not true, "1e3" or "abc"."""
    if isinstance(value, bool):
        raise _Rejected("malformed bid: not a number")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, str) and _NUMERIC.fullmatch(value):
        return Decimal(value)
    raise _Rejected("malformed bid: not a number")


def _amount(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise _Rejected("malformed bid: not finite")
    if value == 0:
        raise _Rejected(DECLINED)
    if value < 0:
        raise _Rejected("malformed bid: negative")
    if value > MAX_BID:
        raise _Rejected(f"malformed bid: over {MAX_BID}")
    amount = value.quantize(CENT, rounding=ROUND_DOWN)
    if amount == 0:
        raise _Rejected(f"malformed bid: under {CENT}")
    return amount
