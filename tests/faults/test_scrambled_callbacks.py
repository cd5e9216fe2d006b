"""Status and recording callbacks duplicated and out of order, at random, over real HTTP.

Two servers with their recorders on take 24 calls at once. The carrier subscribes to every
status event, sends about half of each call's callbacks (status, the officer legs' status and
the recording status) twice, holds them all and delivers them in a seeded random order when the
call ends, round-robin across both servers. Every call must still come out with exactly one
billing line, with the verdict and the amounts its scenario earns, and the P&L must add up to
the sum of those lines. (``tests/records/test_ingest.py`` shuffles the journal itself; this is the
same promise from the carrier's side.)
"""

from __future__ import annotations

import asyncio
import collections
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.records.reports import pnl
from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier
from ivr.simulator.model import CallGeo, CallRecord
from ivr.simulator.script import load_script
from ivr.simulator.session import number_config
from tests.e2e.conftest import LOAD_BALANCER
from tests.e2e.test_records_over_http import billed
from tests.faults.common import CALLBACKS, start_servers, stop_servers
from tests.records.played import EVERY_STATUS, SCENARIOS
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN

pytestmark = pytest.mark.e2e

# scenario -> (billable, rule, revenue cents, payout cents)
EXPECTED = {
    "keypad_refinance_texas": (True, "billable", 4500, 3500),
    "every_officer_unavailable_takes_message": (False, "not_connected", 0, 0),
    "caller_hangs_up_early": (False, "not_connected", 0, 0),
}
EACH = 8


async def test_duplicated_and_reordered_callbacks_bill_every_call_once(
    redis: Redis, redis_url: str, workdir: Path, scenario_deployment_path: Path,
    records_db: tuple[str, Engine],
) -> None:  # fmt: skip
    url, engine = records_db
    servers = await start_servers(
        2, redis_url, workdir, scenario_deployment_path, {"WARMLINE_DATABASE_URL": url}
    )
    try:
        config = number_config(
            LOAD_BALANCER,
            AUTH_TOKEN,
            account_sid=ACCOUNT_SID,
            backends=[s.url for s in servers],
            status_callback_events=EVERY_STATUS,
            duplicate_status_callbacks=True,
            duplicate_rate=0.5,
            shuffle_status_callbacks=True,
            scramble_recording_callbacks=True,
            seed=505,
        )
        plan = [name for name in EXPECTED for _ in range(EACH)]
        async with Carrier(config) as carrier:
            records = await asyncio.gather(
                *(play(carrier, name, f"+1512555{4000 + i}") for i, name in enumerate(plan))
            )
        for record in records:
            assert all(r.status == 200 for r in record.requests), [
                (r.kind, r.status, r.body) for r in record.requests if r.status != 200
            ]

        expected: dict[str, tuple[bool, str, int, int]] = {}
        for name, record in zip(plan, records, strict=True):
            expected[record.call_sid] = EXPECTED[name]
        for sid, verdict in expected.items():
            line = await billed(engine, sid, timeout_s=60)
            assert (line.billable, line.rule, line.revenue_cents, line.payout_cents) == verdict

        callbacks = [r for record in records for r in record.requests if r.kind in CALLBACKS]
        sent = collections.Counter(
            (r.call_sid, r.kind, r.params.get("CallStatus") or r.params.get("RecordingStatus"))
            for r in callbacks
        )
        duplicated = sum(1 for count in sent.values() if count > 1)
        assert 0 < duplicated < len(sent)  # some callbacks twice, not all
        recordings = [r for r in callbacks if r.kind == "recording-status-callback"]
        assert len({r.params["RecordingSid"] for r in recordings}) == EACH

        with Session(engine) as session:
            per_call = session.execute(
                select(t.Call.call_sid, func.count(t.BillingLine.id))
                .join(t.BillingLine, t.BillingLine.call_id == t.Call.id)
                .group_by(t.Call.call_sid)
            ).all()
            assert dict(per_call) == dict.fromkeys(expected, 1)  # one line each, no strays
            status_events = session.execute(
                select(t.CallEvent.call_sid, t.CallEvent.event, func.count())
                .where(t.CallEvent.source == "status")
                .group_by(t.CallEvent.call_sid, t.CallEvent.event)
            ).all()
            assert status_events and all(count == 1 for _, _, count in status_events)
            stored = session.scalars(select(t.Recording.recording_sid)).all()
            assert sorted(stored) == sorted({r.params["RecordingSid"] for r in recordings})
            started = session.scalar(select(func.min(t.Call.started_at)))
            assert started is not None
            day = started.replace(hour=0, minute=0, second=0, microsecond=0)
            report = pnl(session, "publisher", day, day + timedelta(days=2))
        revenue = sum(v[2] for v in expected.values())
        payout = sum(v[3] for v in expected.values())
        billable = sum(1 for v in expected.values() if v[0])
        totals = report.totals
        assert (totals.calls, totals.billable) == (len(plan), billable)
        assert (totals.revenue, totals.payout) == (Decimal(revenue) / 100, Decimal(payout) / 100)
        by_server = collections.Counter(r.sent_to.split("/twilio/")[0] for r in callbacks)
        print(
            f"\nscrambled callbacks: {len(plan)} calls, {len(callbacks)} callbacks "
            f"({duplicated} of {len(sent)} sent twice, {len(recordings)} recording status), "
            f"split {sorted(by_server.values())} across the servers; {len(expected)} billing "
            f"lines; P&L revenue {totals.revenue} payout {totals.payout}"
        )
    finally:
        await stop_servers(servers)


async def play(carrier: Carrier, scenario: str, caller: str) -> CallRecord:
    script = load_script(SCENARIOS / f"{scenario}.yaml")
    return await carrier.place_call(
        ScriptedCaller(script.turns),
        from_number=caller,
        to_number=script.to_number or "+18005550100",
        geo=CallGeo(from_state=script.from_state),
    )
