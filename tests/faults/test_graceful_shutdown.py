"""SIGTERM while a webhook is in flight: it is finished, new connections are refused, the
process exits 0 within its grace period, and the call goes on on the other server.

The slow webhook is a legitimate one: the transfer step waits for a ping-post bid, and the
bidder (this test) answers only once the server has been told to stop and has closed its
listener, well inside the auction's deadline.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier
from ivr.simulator.session import number_config
from tests.e2e.conftest import LOAD_BALANCER, QUALIFIED, stored_state
from tests.faults.common import (
    bidder_server,
    ping_post_deployment,
    start_servers,
    stop_servers,
    twiml_requests,
    wait_for,
)
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

GRACE_S = 10


class HeldBidder:
    """A buyer whose bid waits until the test lets it go (``pinged`` is set on arrival)."""

    def __init__(self) -> None:
        self.pinged = asyncio.Event()
        self.release = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/bid", self.bid)

    async def bid(self, request: web.Request) -> web.Response:
        self.pinged.set()
        await self.release.wait()
        return web.json_response({"bid": "47.50"})


@pytest.fixture
async def bidder() -> AsyncIterator[tuple[HeldBidder, str]]:
    held = HeldBidder()
    async with bidder_server(held.app, held.release) as base:
        yield held, f"{base}/bid"


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True  # reset: taken into the backlog as the listener closed, then dropped
    return False


async def test_sigterm_finishes_the_webhook_in_flight_and_the_call_goes_on(
    bidder: tuple[HeldBidder, str], redis_url: str, redis: object, workdir: Path
) -> None:
    held, ping_url = bidder
    deployment = ping_post_deployment(workdir, {"amy-ng": ping_url}, deadline_ms=5000)  # the most
    env = {"WARMLINE_SHUTDOWN_GRACE_S": str(GRACE_S)}
    a, b = await start_servers(2, redis_url, workdir, deployment, env)
    try:
        async with TcpProxy(("127.0.0.1", a.port)) as balancer:
            config = number_config(
                LOAD_BALANCER,
                AUTH_TOKEN,
                account_sid=ACCOUNT_SID,
                backends=[f"http://{balancer.url_host}"],
                seed=707,
            )
            connector = aiohttp.TCPConnector(force_close=True)  # the balancer routes each one
            async with (
                aiohttp.ClientSession(connector=connector) as session,
                Carrier(config, session=session) as carrier,
            ):
                call = asyncio.create_task(
                    carrier.place_call(
                        ScriptedCaller(QUALIFIED),
                        from_number="+15125550180",
                        to_number="+18005550100",
                    )
                )
                await asyncio.wait_for(held.pinged.wait(), timeout=60)
                a.process.send_signal(signal.SIGTERM)
                stopping = time.monotonic()
                balancer.upstream = ("127.0.0.1", b.port)  # A is out of rotation
                await wait_for(
                    lambda: asyncio.to_thread(refuses, a.port),
                    timeout_s=4,
                    what="the stopping server to refuse connections",
                )
                assert a.process.poll() is None  # still finishing the webhook in hand
                held.release.set()
                record = await asyncio.wait_for(call, timeout=60)
            code = await asyncio.to_thread(a.process.wait, GRACE_S + 5)
            exited_s = time.monotonic() - stopping

        assert code == 0, a.log()[-3000:]
        served = twiml_requests(record)
        transfer = next(r for r in served if "<Dial" in r.body)
        assert transfer.status == 200 and "+15125550121" in transfer.body
        assert all(r.status == 200 for r in record.requests), [
            (r.kind, r.status, r.error) for r in record.requests
        ]
        assert record.transfer is not None and record.transfer.bridged
        served_by = [port for _, port in balancer.served]
        assert served_by[: served_by.index(b.port)] == [a.port] * served_by.index(b.port)
        assert set(served_by[served_by.index(b.port) :]) == {b.port}  # the rest went to B
        state = await stored_state(redis_url, record.call_sid)
        assert [(t.officer, t.outcome, t.bid) for t in state.transfers] == [
            ("amy-ng", "bridged", "47.50")
        ]
        assert (state.status, state.outcome) == ("ended", "transferred")
        print(
            f"\ngraceful shutdown: webhook in flight answered {transfer.status} after "
            f"{transfer.elapsed_s:.2f} s; A exited {code} {exited_s:.1f} s after SIGTERM "
            f"(grace {GRACE_S} s); {len(served_by) - served_by.index(b.port)} later webhooks on B"
        )
    finally:
        await stop_servers([a, b])


async def test_with_a_drain_sigterm_first_turns_readiness_off_and_keeps_serving(
    redis_url: str, redis: object, workdir: Path, scenario_deployment_path: Path
) -> None:
    """WARMLINE_DRAIN_S: a load balancer polling /readyz takes the server out before it stops
    listening; calls that still arrive meanwhile are served."""
    env = {"WARMLINE_DRAIN_S": "30", "WARMLINE_SHUTDOWN_GRACE_S": str(GRACE_S)}
    [server] = await start_servers(1, redis_url, workdir, scenario_deployment_path, env, None)
    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> int:
                async with session.get(f"{server.url}/readyz") as response:
                    return response.status

            assert await ready() == 200
            server.process.send_signal(signal.SIGTERM)
            await wait_for(
                lambda: _is(ready, 503), timeout_s=10, what="readiness to answer 503 at SIGTERM"
            )
            config = number_config(server.url, AUTH_TOKEN, account_sid=ACCOUNT_SID, seed=808)
            async with Carrier(config) as carrier:
                record = await carrier.place_call(
                    ScriptedCaller(QUALIFIED), from_number="+15125550181", to_number="+18005550100"
                )
            assert all(r.status == 200 for r in record.requests)
            assert record.transfer is not None and record.transfer.bridged
            assert server.process.poll() is None  # still draining
            server.process.send_signal(signal.SIGTERM)  # told twice: stops now
            code = await asyncio.to_thread(server.process.wait, GRACE_S + 5)
        assert code == 0, server.log()[-3000:]
        assert await asyncio.to_thread(refuses, server.port)
        assert "draining: readiness 503, still serving" in server.log()
    finally:
        await stop_servers([server])


async def _is(probe: Callable[[], Awaitable[int]], status: int) -> bool:
    return await probe() == status
