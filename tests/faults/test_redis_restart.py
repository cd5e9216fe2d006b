"""Redis stopped under load, then started again: callers get the fallback, never an error.

A private ``redis-server`` (the embedded binary, on a port of its own) backs two server
processes. Six calls are parked at their third question; Redis is shut down (SHUTDOWN NOSAVE,
so it comes back empty, as after a crash without persistence) and the calls go on, and two new
calls arrive. Every webhook is answered 200 with TwiML that puts the caller through to the
campaign's fallback line; ``/healthz`` says 503. Redis comes back on the same port: without a
restart, the servers' connection pools reconnect, new calls run normally and the recorders
resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine

from ivr.redis_server import embedded_redis
from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier
from ivr.simulator.model import CallRecord
from ivr.simulator.session import number_config
from ivr.telephony.twilio.webhooks import TECHNICAL_TROUBLE_TRANSFER
from tests.e2e.conftest import LOAD_BALANCER, QUALIFIED
from tests.e2e.test_records_over_http import billed
from tests.faults.common import (
    AtPrompt,
    TakesFallback,
    health,
    start_servers,
    stop_servers,
    twiml_requests,
    wait_for,
)
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, ServerProcess, free_port

pytestmark = pytest.mark.e2e

NUMBER = "+18005550100"
FALLBACK = "+15125550100"  # the sample campaigns' fallback_number
IN_FLIGHT = 6
NEW_DURING_OUTAGE = 2
AFTER = 4


async def test_a_redis_outage_gives_callers_the_fallback_and_the_servers_recover(
    workdir: Path, scenario_deployment_path: Path, records_db: tuple[str, Engine]
) -> None:
    url, engine = records_db
    port = free_port()
    redis_server = contextlib.ExitStack()
    redis_url = redis_server.enter_context(embedded_redis(port=port))
    env = {"WARMLINE_DATABASE_URL": url}
    servers = await start_servers(2, redis_url, workdir, scenario_deployment_path, env)
    config = number_config(
        LOAD_BALANCER,
        AUTH_TOKEN,
        account_sid=ACCOUNT_SID,
        backends=[s.url for s in servers],
        seed=202,
    )
    try:
        async with Carrier(config) as carrier, aiohttp.ClientSession() as http:
            parked = 0
            down = asyncio.Event()

            async def park() -> None:
                nonlocal parked
                parked += 1
                if parked == IN_FLIGHT:
                    await shutdown_nosave(redis_url)
                    await asyncio.to_thread(redis_server.close)
                    down.set()
                await down.wait()

            callers = [
                TakesFallback(AtPrompt(ScriptedCaller(QUALIFIED), at=3, action=park), FALLBACK)
                for _ in range(IN_FLIGHT)
            ]
            in_flight = asyncio.gather(
                *(
                    carrier.place_call(c, from_number=f"+1512555{2000 + i}", to_number=NUMBER)
                    for i, c in enumerate(callers)
                )
            )
            await asyncio.wait_for(down.wait(), timeout=60)
            started = time.monotonic()
            arriving = [
                TakesFallback(ScriptedCaller([]), FALLBACK) for _ in range(NEW_DURING_OUTAGE)
            ]
            new_calls = await asyncio.gather(
                *(
                    carrier.place_call(c, from_number=f"+1512555{2100 + i}", to_number=NUMBER)
                    for i, c in enumerate(arriving)
                )
            )
            during = [*await in_flight, *new_calls]
            health_down = [await health(s, http) for s in servers]
            assert all(s.process.poll() is None for s in servers), "a server died"

            fallbacks = [fallback_answers(record) for record in during]
            for record, answers in zip(during, fallbacks, strict=True):
                assert_no_server_error(record)
                assert answers == 1, [(r.kind, r.status, r.body) for r in record.requests]
                assert record.ended_by == "app-hangup"
                assert record.transfer is not None and record.transfer.number == FALLBACK
            assert all(c.dialled == [FALLBACK] for c in [*callers, *arriving])
            # The carrier's callbacks cannot be journaled without Redis: refused with a 503 so
            # the carrier's debugger shows them (never a 500, never an error page).
            refused = [
                r for record in during for r in record.requests if r.status not in (200, None)
            ]
            assert {(r.kind, r.status) for r in refused} <= {
                ("status-callback", 503),
                ("child-status-callback", 503),
                ("recording-status-callback", 503),
            }
            assert all(r.body == "Records unavailable.\n" for r in refused)
            assert health_down == [503, 503]

            outage_s = time.monotonic() - started
            redis_server.enter_context(embedded_redis(port=port))
            recovered_s = await wait_for(
                lambda: all_healthy(servers, http), timeout_s=60, what="/healthz 200 again"
            )
            after = await asyncio.gather(
                *(
                    carrier.place_call(
                        ScriptedCaller(QUALIFIED),
                        from_number=f"+1512555{2200 + i}",
                        to_number=NUMBER,
                    )
                    for i in range(AFTER)
                )
            )
            for record in after:
                assert_no_server_error(record)
                assert all(r.status == 200 for r in record.requests)
                assert fallback_answers(record) == 0
                assert record.transfer is not None and record.transfer.bridged
                assert record.transfer.number == "+15125550121"
            caught_up = time.monotonic()
            for record in after:
                line = await billed(engine, record.call_sid, timeout_s=60)
                assert (line.billable, line.officer_id, line.revenue_cents) == (
                    True,
                    "amy-ng",
                    4500,
                )
            caught_up_s = time.monotonic() - caught_up
            assert all(s.process.poll() is None for s in servers)
        print(
            f"\nredis outage: {sum(fallbacks)} TwiML webhooks answered with the fallback "
            f"({IN_FLIGHT} calls in progress, {NEW_DURING_OUTAGE} new) during a "
            f"{outage_s:.2f} s outage, "
            f"{len(refused)} status callbacks refused with 503; "
            f"slowest {max(slowest(r) for r in during):.2f} s; healthz 200 again "
            f"{recovered_s:.1f} s after the restart; {AFTER} new calls billed "
            f"{caught_up_s:.1f} s after they ended"
        )
    finally:
        await stop_servers(servers)
        redis_server.close()


async def shutdown_nosave(url: str) -> None:
    client = Redis.from_url(url)
    with contextlib.suppress(RedisError):  # the server drops the connection as it goes
        await client.shutdown(nosave=True)
    await client.aclose()


async def all_healthy(servers: list[ServerProcess], http: aiohttp.ClientSession) -> bool:
    return all([await health(s, http) == 200 for s in servers])


def fallback_answers(record: CallRecord) -> int:
    """TwiML answers that put the caller through to the fallback line."""
    return sum(
        1
        for r in twiml_requests(record)
        if r.status == 200 and TECHNICAL_TROUBLE_TRANSFER in r.body and FALLBACK in r.body
    )


def assert_no_server_error(record: CallRecord) -> None:
    """Every webhook answered, every TwiML webhook with 200."""
    assert all(r.status is not None for r in record.requests), [
        (r.kind, r.error) for r in record.requests
    ]
    assert all(r.status == 200 for r in twiml_requests(record)), [
        (r.kind, r.status, r.body) for r in record.requests
    ]


def slowest(record: CallRecord) -> float:
    return max(r.elapsed_s for r in twiml_requests(record))
