"""Parties that keep the caller waiting: a ping-post bidder too slow to answer, officers whose
phones ring forever, who answer and never press the key, or whose whisper cannot be fetched.
The caller always gets somewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import Engine

from ivr.simulator.caller import (
    Caller,
    DialAnswer,
    DialSpec,
    GatherInput,
    GatherSpec,
    RecordAnswer,
    RecordSpec,
    ScriptedCaller,
)
from ivr.simulator.carrier import Carrier
from ivr.simulator.model import Heard
from ivr.simulator.session import number_config
from tests.e2e.conftest import LOAD_BALANCER, QUALIFYING_ANSWERS, stored_state
from tests.e2e.test_records_over_http import billed
from tests.faults.common import bidder_server, ping_post_deployment, start_servers, stop_servers
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

AMY, BO = "+15125550121", "+14045550122"
DEADLINE_MS = 300


class Bidders:
    """Two buyers' ping endpoints: ``/slow`` answers only after the auction is long over (with
    a bid that would have won), ``/fast`` bids at once."""

    def __init__(self) -> None:
        self.pings: list[str] = []
        self.release = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/slow", self.slow)
        self.app.router.add_post("/fast", self.fast)

    async def slow(self, request: web.Request) -> web.Response:
        self.pings.append("slow")
        await self.release.wait()  # set when the test ends: far past the deadline
        return web.json_response({"bid": "99.00"})

    async def fast(self, request: web.Request) -> web.Response:
        self.pings.append("fast")
        return web.json_response({"bid": "41.00"})


@pytest.fixture
async def bidders() -> AsyncIterator[tuple[Bidders, str]]:
    bidders = Bidders()
    async with bidder_server(bidders.app, bidders.release) as base:
        yield bidders, base


async def test_a_bidder_slower_than_the_deadline_is_passed_over(
    bidders: tuple[Bidders, str], redis_url: str, redis: object, workdir: Path,
    records_db: tuple[str, Engine],
) -> None:  # fmt: skip
    asked, base = bidders
    url, engine = records_db
    deployment = ping_post_deployment(
        workdir, {"amy-ng": f"{base}/slow", "bo-reyes": f"{base}/fast"}, DEADLINE_MS
    )
    [server] = await start_servers(
        1, redis_url, workdir, deployment, {"WARMLINE_DATABASE_URL": url}, public_url=None
    )
    try:
        config = number_config(server.url, AUTH_TOKEN, account_sid=ACCOUNT_SID, seed=606)
        turns = [*QUALIFYING_ANSWERS, {"transfer": "accepted", "duration": 200}]
        async with Carrier(config) as carrier:
            record = await carrier.place_call(
                ScriptedCaller(turns), from_number="+15125550170", to_number="+18005550100"
            )
        assert sorted(asked.pings) == ["fast", "slow"]  # both buyers were asked...
        assert all(r.status == 200 for r in record.requests)
        assert record.transfer is not None and record.transfer.bridged
        assert record.transfer.number == BO  # ...and the auction closed without the slow one
        state = await stored_state(redis_url, record.call_sid)
        assert [(a.officer, a.outcome, a.bid) for a in state.transfers] == [
            ("bo-reyes", "bridged", "41.00")
        ]
        assert (state.status, state.outcome) == ("ended", "transferred")
        line = await billed(engine, record.call_sid, timeout_s=60)
        assert (line.billable, line.officer_id, line.revenue_cents) == (True, "bo-reyes", 4100)
    finally:
        await stop_servers([server])


async def test_officers_who_never_answer_or_never_press_the_key_are_passed_by(
    redis_url: str, redis: object, workdir: Path, scenario_deployment_path: Path
) -> None:
    [server] = await start_servers(1, redis_url, workdir, scenario_deployment_path, public_url=None)
    try:
        config = number_config(server.url, AUTH_TOKEN, account_sid=ACCOUNT_SID, seed=607)
        turns: list[dict[str, object]] = [
            *QUALIFYING_ANSWERS,
            {"transfer": "accepted", "ring": 3600},  # would pick up an hour later
            {"transfer": "declined"},  # picks up, hears the whisper, presses nothing
            {"record": {"seconds": 9}},
        ]
        async with Carrier(config) as carrier:
            record = await carrier.place_call(
                ScriptedCaller(turns), from_number="+15125550171", to_number="+18005550100"
            )
        assert all(r.status == 200 for r in record.requests)
        assert [(d.number, d.dial_call_status, d.bridged) for d in record.dials] == [
            (AMY, "no-answer", False),
            (BO, "completed", False),
        ]
        dials = [r.body for r in record.requests if "<Dial" in r.body]
        assert len(dials) == 2 and all('timeout="25"' in body for body in dials)  # the step's
        dial_actions = record.requests_of("dial-action")
        assert [r.params["DialCallStatus"] for r in dial_actions] == ["no-answer", "completed"]
        officer_leg = [r for r in record.requests if "ParentCallSid" in r.params]
        whispers = [r.kind for r in officer_leg if r.kind in ("whisper", "gather-action")]
        assert whispers == ["whisper"]  # Bo's whisper ran; no key came back from it
        assert any("try another" in text for text in record.said)
        state = await stored_state(redis_url, record.call_sid)
        assert [(a.officer, a.outcome) for a in state.transfers] == [
            ("amy-ng", "no_answer"),
            ("bo-reyes", "declined"),
        ]
        assert (state.status, state.outcome) == ("ended", "callback_requested")
    finally:
        await stop_servers([server])


class WhisperUnreachable:
    """A caller whose first officer answers just as the server becomes unreachable for one
    request: the whisper document for that officer's leg cannot be fetched."""

    def __init__(self, caller: Caller, balancer: TcpProxy) -> None:
        self.caller = caller
        self.balancer = balancer
        self.dials = 0

    async def gather(self, heard: list[Heard], spec: GatherSpec) -> GatherInput:
        return await self.caller.gather(heard, spec)

    async def record(self, heard: list[Heard], spec: RecordSpec) -> RecordAnswer:
        return await self.caller.record(heard, spec)

    async def dial(self, heard: list[Heard], spec: DialSpec) -> DialAnswer:
        self.dials += 1
        if self.dials == 1:
            self.balancer.refuse_next(1)  # the next request is the officer leg's whisper
        return await self.caller.dial(heard, spec)


async def test_an_officer_whose_whisper_cannot_be_fetched_is_passed_by(
    redis_url: str, redis: object, workdir: Path, scenario_deployment_path: Path
) -> None:
    [server] = await start_servers(1, redis_url, workdir, scenario_deployment_path)
    try:
        async with TcpProxy(("127.0.0.1", server.port)) as balancer:
            config = number_config(
                LOAD_BALANCER,
                AUTH_TOKEN,
                account_sid=ACCOUNT_SID,
                backends=[f"http://{balancer.url_host}"],
                shuffle_status_callbacks=True,  # callbacks wait for the call's end: no races
                seed=608,
            )
            turns: list[dict[str, object]] = [
                *QUALIFYING_ANSWERS,
                {"transfer": "accepted"},
                {"transfer": "accepted", "duration": 150},
            ]
            caller = WhisperUnreachable(ScriptedCaller(turns), balancer)
            connector = aiohttp.TCPConnector(force_close=True)  # one connection per request
            async with (
                aiohttp.ClientSession(connector=connector) as http,
                Carrier(config, session=http) as carrier,
            ):
                record = await carrier.place_call(
                    caller, from_number="+15125550172", to_number="+18005550100"
                )
        [lost, *whispers] = record.requests_of("whisper")
        assert (lost.status, lost.params["To"]) == (None, AMY)
        assert [(r.status, r.params["To"]) for r in whispers] == [(200, BO)]
        assert all(r.status == 200 for r in record.requests if r is not lost)
        assert [(d.number, d.dial_call_status, d.bridged) for d in record.dials] == [
            (AMY, "completed", False),
            (BO, "completed", True),
        ]
        state = await stored_state(redis_url, record.call_sid)
        assert [(a.officer, a.outcome) for a in state.transfers] == [
            ("amy-ng", "declined"),
            ("bo-reyes", "bridged"),
        ]
        assert (state.status, state.outcome) == ("ended", "transferred")
    finally:
        await stop_servers([server])
