"""A server process killed with SIGKILL in the middle of a call: the other one carries it on.

Two ``warmline serve`` processes share Redis and the records database behind a load balancer
(a TCP proxy that sends every connection to one backend). The caller answers two questions on
server A; while they think about the third, A is killed and the balancer takes it out of
rotation. The next webhook reaches B, which finds the call in Redis exactly where A left it.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import psutil  # type: ignore[import-untyped]
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier
from ivr.simulator.session import number_config
from tests.e2e.conftest import LOAD_BALANCER, QUALIFIED, stored_state
from tests.e2e.test_records_over_http import billed
from tests.faults.common import AtPrompt, start_servers, stop_servers, twiml_requests, wait_for
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e


async def test_a_call_carries_on_after_its_server_is_killed(
    redis_url: str,
    redis: object,
    workdir: Path,
    scenario_deployment_path: Path,
    records_db: tuple[str, Engine],
) -> None:
    url, engine = records_db
    env = {"WARMLINE_DATABASE_URL": url}
    a, b = await start_servers(2, redis_url, workdir, scenario_deployment_path, env)
    orphans: list[psutil.Process] = []
    try:
        async with TcpProxy(("127.0.0.1", a.port)) as balancer:

            async def kill_a() -> None:
                orphans.extend(psutil.Process(a.process.pid).children(recursive=True))
                a.process.send_signal(signal.SIGKILL)
                assert await asyncio.to_thread(a.process.wait, 10) == -signal.SIGKILL
                balancer.upstream = ("127.0.0.1", b.port)
                killed.append(len(balancer.served))

            killed: list[int] = []
            caller = AtPrompt(ScriptedCaller(QUALIFIED), at=3, action=kill_a)
            config = number_config(
                LOAD_BALANCER,
                AUTH_TOKEN,
                account_sid=ACCOUNT_SID,
                backends=[f"http://{balancer.url_host}"],
                seed=101,
            )
            # One connection per request, so the balancer sees (and routes) each webhook.
            connector = aiohttp.TCPConnector(force_close=True)
            async with (
                aiohttp.ClientSession(connector=connector) as http,
                Carrier(config, session=http) as carrier,
            ):
                record = await carrier.place_call(
                    caller, from_number="+15125550160", to_number="+18005550100"
                )

        assert killed, "the caller never reached the third question"
        served = twiml_requests(record)
        # The first three webhooks (the call and two answers) went to A; all after the kill to B.
        assert killed == [3]
        backends = {port for _, port in balancer.served}
        assert [port for _, port in balancer.served[: killed[0]]] == [a.port] * killed[0]
        assert backends == {a.port, b.port}
        assert {port for _, port in balancer.served[killed[0] :]} == {b.port}
        assert all(r.status == 200 for r in record.requests), [
            (r.kind, r.status, r.error) for r in record.requests
        ]
        assert [r.kind for r in served][:5] == ["voice"] + ["gather-action"] * 4
        assert record.transfer is not None and record.transfer.bridged
        assert record.transfer.number == "+15125550121"

        state = await stored_state(redis_url, record.call_sid)
        assert (state.slots["loan_type"], state.slots["state"]) == ("refinance", "TX")
        assert state.slots["credit_band"] == "good"
        assert (state.slots["score"], state.slots["qualified"]) == ("70", "yes")
        assert (state.status, state.outcome) == ("ended", "transferred")
        entered = [h.step for h in state.history if h.event == "enter"]
        assert entered.count("credit") == 1  # asked once: not started again on B

        ended = time.monotonic()
        line = await billed(engine, record.call_sid, timeout_s=60)
        billed_s = time.monotonic() - ended
        # What A spawned (its records writer) does not outlive it.
        orphans_s = await wait_for(
            lambda: none_alive(orphans), timeout_s=30, what="the dead server's children to exit"
        )
        assert (line.billable, line.rule, line.officer_id) == (True, "billable", "amy-ng")
        assert (line.revenue_cents, line.payout_cents) == (4500, 3500)
        with Session(engine) as session:
            call = session.scalars(select(t.Call).where(t.Call.call_sid == record.call_sid)).one()
            assert (call.status, call.outcome, call.connected) == ("ended", "transferred", True)
            answers = {a.slot: a.value for a in call.answers}
            assert answers["loan_type"] == "refinance" and answers["state"] == "TX"
            assert answers["credit_band"] == "good"
            lines = session.scalars(
                select(t.BillingLine).where(t.BillingLine.call_id == call.id)
            ).all()
            assert len(lines) == 1
        assert b.process.poll() is None
        print(
            f"\nserver killed: {len(balancer.served)} webhooks, {killed[0]} on A before SIGKILL; "
            f"billing line {billed_s:.1f} s after the call; A's {len(orphans)} children gone "
            f"{orphans_s:.1f} s later"
        )
    finally:
        await stop_servers([a, b])
        for orphan in orphans:  # a writer the dead server spawned, if it outlived it
            if orphan.is_running():
                orphan.kill()


async def none_alive(processes: list[psutil.Process]) -> bool:
    return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes)
