"""A whole call through a real server process into its records, its billing line and its P&L row,
on SQLite and PostgreSQL.

The fake carrier subscribes to every status event and delivers each status callback twice,
shuffled; the server's own recorder builds the call record and its billing line from the
journal, and the P&L reads them back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.deployment import load_setup
from ivr.records import tables as t
from ivr.records.database import database_url
from ivr.records.recorder import RecordWriter
from ivr.records.reports import pnl
from tests.records.played import play
from tests.support.services import ROOT, ServerProcess, start_server

pytestmark = pytest.mark.e2e

FAULTS = {"duplicate_status_callbacks": True, "shuffle_status_callbacks": True}


@pytest.fixture(scope="module")
def recording_server(
    redis_url: str,
    records_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    scenario_deployment_path: Path,
) -> Iterator[ServerProcess]:
    """A server whose records go to the test database (SQLite or PostgreSQL)."""
    process = start_server(
        redis_url,
        None,
        tmp_path_factory.mktemp("records-server"),
        deployment=scenario_deployment_path,
        extra_env={"WARMLINE_DATABASE_URL": records_url},
    )
    yield process
    process.stop()


@pytest.fixture
def synced(records: Engine, redis: Redis, scenario_deployment_path: Path) -> Engine:
    """The emptied test database with the deployment synced back (the server synced it once,
    at start-up, before the ``records`` fixture emptied it), and Redis flushed (the carrier's
    seeded CallSids repeat from run to run)."""
    RecordWriter(records, load_setup(scenario_deployment_path), time.time).prepare()
    return records


async def billed(engine: Engine, call_sid: str, timeout_s: float = 20.0) -> t.BillingLine:
    """The call's billing line, once the server's recorder has written it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = await asyncio.to_thread(_line, engine, call_sid)
        if line is not None:
            return line
        await asyncio.sleep(0.1)
    raise AssertionError(f"no billing line for {call_sid} after {timeout_s} s")


def _line(engine: Engine, call_sid: str) -> t.BillingLine | None:
    with Session(engine) as session:
        return session.scalar(select(t.BillingLine).join(t.Call).where(t.Call.call_sid == call_sid))


async def test_a_transferred_call_is_recorded_billed_and_reported(
    recording_server: ServerProcess, synced: Engine
) -> None:
    call_sid = await play(
        recording_server.url, "keypad_refinance_texas", caller="+15125550140", seed=21, **FAULTS
    )
    line = await billed(synced, call_sid)
    assert (line.billable, line.rule, line.officer_id) == (True, "billable", "amy-ng")
    assert line.reason == "bridged 240 s ≥ 90 s to amy-ng"
    assert (line.revenue_cents, line.payout_cents) == (4500, 3500)
    assert (line.publisher_id, line.campaign_id, line.score) == ("rate-compare", "sunbelt-refi", 70)
    with Session(synced) as session:
        call = session.scalars(select(t.Call).where(t.Call.call_sid == call_sid)).one()
        assert (call.number, call.caller, call.caller_state) == (
            "+18005550100",
            "+15125550140",
            "TX",
        )
        assert (call.status, call.outcome, call.flow, call.flow_version) == (
            "ended",
            "transferred",
            "mortgage",
            load_setup(ROOT / "warmline.yaml").flows["mortgage"].version,
        )
        assert (call.carrier_status, call.carrier_sequence) == ("completed", 2)
        assert call.duration_s is not None and call.duration_s >= 240
        assert [(a.officer_id, a.outcome, a.duration_s) for a in call.attempts] == [
            ("amy-ng", "bridged", 240.0)
        ]
        status_events = session.scalars(
            select(t.CallEvent.event)
            .where(t.CallEvent.call_sid == call_sid, t.CallEvent.source == "status")
            .order_by(t.CallEvent.sequence)
        ).all()
        assert status_events == ["ringing", "in-progress", "completed"]  # each once
        steps = session.scalars(
            select(t.CallEvent.step)
            .where(
                t.CallEvent.call_sid == call_sid,
                t.CallEvent.source == "engine",
                t.CallEvent.event == "enter",
            )
            .order_by(t.CallEvent.sequence)
        ).all()
        assert steps[0] == "disclosure" and steps[-1] == "connect"
        score = session.scalars(select(t.Score).where(t.Score.call_id == call.id)).one()
        assert (score.score, score.qualified) == (70, True)
        assert score.reasons
        day = call.started_at.replace(hour=0, minute=0, second=0, microsecond=0)
        report = pnl(session, "publisher", day, day + timedelta(days=1))
    [row] = report.rows
    assert (row.key, row.name, row.calls, row.connected, row.billable) == (
        "rate-compare",
        "RateCompare (sample publisher)",
        1,
        1,
        1,
    )
    assert (row.revenue, row.payout, row.margin, row.billable_rate) == (
        Decimal("45.00"),
        Decimal("35.00"),
        Decimal("10.00"),
        1.0,
    )


async def test_a_call_nobody_took_bills_nothing_and_says_why(
    recording_server: ServerProcess, synced: Engine
) -> None:
    call_sid = await play(
        recording_server.url,
        "every_officer_unavailable_takes_message",
        caller="+15125550141",
        seed=22,
        **FAULTS,
    )
    line = await billed(synced, call_sid)
    assert (line.billable, line.rule, line.revenue_cents, line.payout_cents) == (
        False,
        "not_connected",
        0,
        0,
    )
    assert line.reason.startswith("not connected (")


async def test_consent_is_recorded_with_the_flow_version_and_linked_to_the_line(
    recording_server: ServerProcess, synced: Engine
) -> None:
    call_sid = await play(
        recording_server.url,
        "california_agrees_to_recording",
        caller="+14155550142",
        seed=23,
        **FAULTS,
    )
    line = await billed(synced, call_sid)
    assert line.consent_id is not None
    with Session(synced) as session:
        consent = session.get(t.ConsentRecord, line.consent_id)
        assert consent is not None
        flow = load_setup(ROOT / "warmline.yaml").flows["mortgage"]
        assert (consent.flow, consent.flow_version) == ("mortgage", flow.version)
        assert (consent.caller_state, consent.all_party, consent.asked, consent.given) == (
            "CA",
            True,
            True,
            True,
        )
        assert "press 1 or say yes" in consent.disclosure
        assert consent.heard == "yes I agree"


def test_the_server_says_where_its_records_go(
    recording_server: ServerProcess, records_url: str
) -> None:
    shown = database_url(records_url, ".").render_as_string(hide_password=True)
    assert f"records in {shown}" in recording_server.log()
