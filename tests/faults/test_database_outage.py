"""The records database unreachable for a while: calls go on, and nothing is lost.

The machine's PostgreSQL stays up (other tests use it): the servers reach their scratch
database through a TCP proxy, and the test cuts the proxy (live connections reset, new ones
refused) while calls are taken. Webhooks never touch the database, so the calls run as usual;
the journal keeps their records in Redis. A recorder that meets the cut holds its batch for
the database's return instead of failing it (no entry loses an attempt, so a long outage
dead-letters nothing); once the proxy is restored the recorders write every call and its
billing line, each exactly once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from ivr.jobs.queue import JobQueue
from ivr.records import tables as t
from ivr.records.recorder import records_queue
from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier
from ivr.simulator.session import number_config
from tests.e2e.conftest import LOAD_BALANCER, QUALIFIED
from tests.e2e.test_records_over_http import billed
from tests.faults.common import start_servers, stop_servers, twiml_requests, wait_for
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, ServerProcess
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

CALLS = 5


async def test_calls_taken_while_the_database_is_cut_are_recorded_once_it_returns(
    redis: Redis, redis_url: str, workdir: Path, scenario_deployment_path: Path,
    records_db: tuple[str, Engine],
) -> None:  # fmt: skip
    url, engine = records_db
    database = make_url(url)
    async with TcpProxy((database.host or "127.0.0.1", database.port or 5432)) as proxy:
        proxied = database.set(host="127.0.0.1", port=proxy.port)
        env = {"WARMLINE_DATABASE_URL": proxied.render_as_string(hide_password=False)}
        servers = await start_servers(2, redis_url, workdir, scenario_deployment_path, env)
        try:
            config = number_config(
                LOAD_BALANCER,
                AUTH_TOKEN,
                account_sid=ACCOUNT_SID,
                backends=[s.url for s in servers],
                seed=303,
            )
            async with Carrier(config) as carrier:
                # Cut while running: once a first call's records have been written.
                first = await carrier.place_call(
                    ScriptedCaller([{"digits": "1"}, {"hangup": True}]),
                    from_number="+15125552999",
                    to_number="+18005550100",
                )
                await billed(engine, first.call_sid, timeout_s=60)
                await proxy.cut()
                records = await asyncio.gather(
                    *(
                        carrier.place_call(
                            ScriptedCaller(QUALIFIED),
                            from_number=f"+1512555{3000 + i}",
                            to_number="+18005550100",
                        )
                        for i in range(CALLS)
                    )
                )
            for record in records:
                assert all(r.status == 200 for r in record.requests), [
                    (r.kind, r.status, r.error) for r in record.requests
                ]
                assert [r.kind for r in twiml_requests(record)][:2] == ["voice", "gather-action"]
                assert record.transfer is not None and record.transfer.bridged
                assert record.ended_by == "app-hangup"  # after the officer's talk, goodbye
            sids = [record.call_sid for record in records]
            assert await asyncio.to_thread(calls_recorded, engine, sids) == 0  # cut, so far
            queue = records_queue(redis)
            await wait_for(
                lambda: met_the_cut(servers), timeout_s=30, what="a recorder to meet the cut"
            )
            held = await queue.stats()
            # The batch that met the cut is held for the database's return, not failed: an
            # outage costs the entries none of their attempts (so a long one dead-letters
            # nothing), and what came after waits in the journal.
            assert (held.delayed, held.dead) == (0, 0)
            assert held.pending > 0

            await proxy.restore()
            restored = time.monotonic()
            for sid in sids:
                line = await billed(engine, sid, timeout_s=90)
                assert (line.billable, line.officer_id, line.revenue_cents, line.payout_cents) == (
                    True,
                    "amy-ng",
                    4500,
                    3500,
                )
            billed_s = time.monotonic() - restored
            await wait_for(lambda: drained(queue), timeout_s=120, what="the journal to drain")
            caught_up_s = time.monotonic() - restored
            assert await asyncio.to_thread(calls_recorded, engine, sids) == CALLS
            assert await asyncio.to_thread(lines_billed, engine, sids) == CALLS
            stats = await queue.stats()
            assert (stats.dead, stats.delayed, stats.pending) == (0, 0, 0)
            assert all(s.process.poll() is None for s in servers)
            print(
                f"\ndatabase cut: {CALLS} calls taken, every webhook 200; {held.pending} journal "
                f"entries held and {held.depth} waiting at the restore, none failed; every "
                f"billing line written "
                f"{billed_s:.1f} s and the whole journal {caught_up_s:.1f} s after the database "
                f"returned; dead letters {stats.dead}"
            )
        finally:
            await stop_servers(servers)


def calls_recorded(engine: Engine, sids: list[str]) -> int:
    with Session(engine) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(t.Call).where(t.Call.call_sid.in_(sids))
            )
            or 0
        )


def lines_billed(engine: Engine, sids: list[str]) -> int:
    with Session(engine) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(t.BillingLine)
                .join(t.Call)
                .where(t.Call.call_sid.in_(sids))
            )
            or 0
        )


async def met_the_cut(servers: list[ServerProcess]) -> bool:
    """A recorder found the database unreachable while writing a batch (its log says so)."""
    return any("DatabaseUnavailable" in server.log() for server in servers)


async def drained(queue: JobQueue) -> bool:
    stats = await queue.stats()
    return (stats.depth, stats.pending, stats.delayed) == (0, 0, 0)
