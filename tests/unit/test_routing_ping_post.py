"""Ping-post against real bidders on 127.0.0.1: ranking, the one shared deadline, concurrency,
every way a bidder can misbehave (each skipped with its reason, never raised), and what is sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ivr.routing.eligibility import CallAttributes
from ivr.routing.officers import Officer
from ivr.routing.ping_post import Auction, Bid, Skipped, collect_bids
from tests.unit.test_routing_eligibility import CALL, officer

pytestmark = pytest.mark.unit

HUGE = b'{"bid": 5, "pad": "' + b"x" * (64 * 1024) + b'"}'


@dataclass
class Bidders:
    """One local server; each officer's ping URL says how its bidder behaves."""

    server: TestServer
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, body: str = "", sleep: float = 0, status: int = 200, path: str = "/") -> str:
        query = urlencode({"body": body, "sleep": sleep, "status": status})
        return str(self.server.make_url(f"{path}?{query}"))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append((await request.read(), dict(request.headers)))
        await self._sleep(float(request.query["sleep"]))
        body = request.query["body"].encode()
        return web.Response(status=int(request.query["status"]), body=body)

    async def huge(self, request: web.Request) -> web.Response:
        return web.Response(body=HUGE, content_type="application/json")

    async def trickle(self, request: web.Request) -> web.StreamResponse:
        """Headers at once, the body only after ``sleep``: the deadline covers the read too."""
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b'{"bid": ')
        await self._sleep(float(request.query["sleep"]))
        await response.write(b"99}")
        return response

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):  # released at teardown so the server stops fast
            await asyncio.wait_for(self.release.wait(), seconds)


@pytest.fixture
async def bidders() -> AsyncIterator[Bidders]:
    app = web.Application()
    server = TestServer(app, host="127.0.0.1")
    state = Bidders(server)
    app.router.add_post("/", state.handle)
    app.router.add_post("/huge", state.huge)
    app.router.add_post("/trickle", state.trickle)
    async with server:
        yield state
        state.release.set()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def buyer(id: str, url: str | None, priority: int = 1) -> Officer:
    return officer(id=id, ping_url=url, priority=priority)


async def auction(session: aiohttp.ClientSession, *buyers: Officer, deadline: float = 1) -> Auction:
    return await collect_bids(session, buyers, CALL, deadline, "ping-1")


async def test_bids_are_ranked_highest_first_with_amounts_in_cents(
    session: aiohttp.ClientSession, bidders: Bidders
) -> None:
    result = await auction(
        session,
        buyer("ana", bidders.url('{"bid": 42.5}')),
        buyer("ben", bidders.url('{"bid": "61.50"}')),
        buyer("cal", bidders.url('{"bid": 7.999, "accept": true}')),
        buyer("dee", None),
    )
    assert result.ranking == ["ben", "ana", "cal"]
    assert [b.amount for b in result.bids] == [Decimal("61.50"), Decimal("42.50"), Decimal("7.99")]
    assert all(0 < b.elapsed_ms <= result.elapsed_ms < 1000 for b in result.bids)
    assert result.skipped == [Skipped("dee", "no ping URL")]


@pytest.mark.parametrize(
    ("given", "ranking"),
    [(["a", "b", "c", "d"], ["d", "b", "c", "a"]), (["a", "c", "b", "d"], ["d", "c", "b", "a"])],
)
async def test_ties_go_to_the_lower_priority_number_then_the_order_given(
    session: aiohttp.ClientSession, bidders: Bidders, given: list[str], ranking: list[str]
) -> None:
    bids = {"a": ("50", 2), "b": ("50", 1), "c": ("50.00", 1), "d": ("60", 3)}
    buyers = [buyer(i, bidders.url(f'{{"bid": {bids[i][0]}}}'), bids[i][1]) for i in given]
    result = await auction(session, *buyers)
    assert result.ranking == ranking
    assert result.skipped == []


@pytest.mark.parametrize("path", ["/", "/trickle"])
async def test_a_bidder_past_the_deadline_is_cut_off_and_the_auction_ends_on_time(
    session: aiohttp.ClientSession, bidders: Bidders, path: str
) -> None:
    slow_s = 2.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await auction(
        session,
        buyer("ana", bidders.url('{"bid": 10}')),
        buyer("ben", bidders.url('{"bid": 90}', sleep=slow_s, path=path)),
        deadline=0.3,
    )
    took = loop.time() - started
    assert took < slow_s / 2  # long before the slow bidder would have answered
    assert result.elapsed_ms >= 300  # ana's bid alone does not end the auction early
    assert result.ranking == ["ana"]
    assert result.skipped == [Skipped("ben", "no bid in 300 ms")]


async def test_bidders_are_asked_concurrently(
    session: aiohttp.ClientSession, bidders: Bidders
) -> None:
    """Three 0.2 s bidders all answer inside 0.5 s, which one after another could not."""
    buyers = [buyer(i, bidders.url(f'{{"bid": {n}}}', sleep=0.2)) for n, i in enumerate("abc", 1)]
    result = await auction(session, *buyers, deadline=0.5)
    assert result.ranking == ["c", "b", "a"]
    assert result.skipped == []


@pytest.mark.parametrize("status", [500, 404, 302])
async def test_an_answer_other_than_200_is_skipped_with_its_status(
    session: aiohttp.ClientSession, bidders: Bidders, status: int
) -> None:
    result = await auction(session, buyer("ana", bidders.url('{"bid": 10}', status=status)))
    assert result == Auction([], [Skipped("ana", f"HTTP {status}")], result.elapsed_ms)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"bid": 10', "malformed bid: not JSON"),
        ("", "malformed bid: not JSON"),
        ("[10]", "malformed bid: not a JSON object"),
        ('{"price": 10}', "malformed bid: 'bid' missing"),
        ('{"bid": -5}', "malformed bid: negative"),
        ('{"bid": "-5"}', "malformed bid: negative"),
        ('{"bid": "abc"}', "malformed bid: not a number"),
        ('{"bid": "1e3"}', "malformed bid: not a number"),
        ('{"bid": true}', "malformed bid: not a number"),
        ('{"bid": [10]}', "malformed bid: not a number"),
        ('{"bid": NaN}', "malformed bid: not finite"),
        ('{"bid": Infinity}', "malformed bid: not finite"),
        ('{"bid": -Infinity}', "malformed bid: not finite"),
        ('{"bid": 1e400}', "malformed bid: over 100000"),
        ('{"bid": 100000.01}', "malformed bid: over 100000"),
        ('{"bid": 0.001}', "malformed bid: under 0.01"),
        ('{"bid": null}', "declined (no bid)"),
        ('{"bid": 0}', "declined (no bid)"),
        ('{"bid": "0.00"}', "declined (no bid)"),
        ('{"accept": false}', "declined (no bid)"),
        ('{"accept": false, "bid": 10}', "declined (no bid)"),
    ],
)
async def test_a_malformed_or_declined_answer_is_skipped_with_the_reason(
    session: aiohttp.ClientSession, bidders: Bidders, body: str, reason: str
) -> None:
    result = await auction(
        session, buyer("ana", bidders.url(body)), buyer("ben", bidders.url('{"bid": 1}'))
    )
    assert result.ranking == ["ben"]
    assert result.skipped == [Skipped("ana", reason)]


async def test_the_largest_bid_allowed_is_accepted(
    session: aiohttp.ClientSession, bidders: Bidders
) -> None:
    result = await auction(session, buyer("ana", bidders.url('{"bid": 100000}')))
    assert result.bids == [Bid("ana", Decimal("100000.00"), result.bids[0].elapsed_ms)]


async def test_a_body_over_64_kib_is_skipped(
    session: aiohttp.ClientSession, bidders: Bidders
) -> None:
    result = await auction(session, buyer("ana", bidders.url(path="/huge")))
    assert result.skipped == [Skipped("ana", "malformed bid: body over 64 KiB")]


async def test_a_refused_connection_is_skipped(session: aiohttp.ClientSession) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = await auction(session, buyer("ana", f"http://127.0.0.1:{port}/ping"))
    assert result.skipped == [Skipped("ana", "connection failed: ClientConnectorError")]
    assert result.bids == []


@pytest.mark.parametrize(
    ("call", "sent"),
    [
        (CALL, {"loan_type": "refinance", "state": "TX", "credit_band": "good", "score": 80}),
        (CallAttributes(), {"loan_type": None, "state": None, "credit_band": None, "score": None}),
    ],
)
async def test_the_ping_sends_the_five_keys_and_nothing_that_identifies_anyone(
    session: aiohttp.ClientSession, bidders: Bidders, call: CallAttributes, sent: dict[str, Any]
) -> None:
    ana = buyer("ana", bidders.url('{"bid": 1}'))
    await collect_bids(session, [ana], call, 1, "ping-7")
    [(raw, headers)] = bidders.received
    assert json.loads(raw) == {"ping_id": "ping-7", **sent}
    assert ana.phone not in raw.decode()
    assert b"phone" not in raw
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "Warmline-ping/1"


@pytest.mark.parametrize("deadline", [0, -1, float("nan"), float("inf")])
async def test_a_deadline_that_is_not_positive_and_finite_is_a_programming_error(
    session: aiohttp.ClientSession, deadline: float
) -> None:
    with pytest.raises(ValueError, match="deadline_s must be a positive number of seconds"):
        await collect_bids(session, [], CALL, deadline, "ping-1")


async def test_no_officers_is_an_empty_auction(session: aiohttp.ClientSession) -> None:
    result = await collect_bids(session, [], CALL, 0.3, "ping-1")
    assert (result.bids, result.skipped, result.ranking) == ([], [], [])
