"""Webhook events are made by the records writer, in the transaction that records their facts.

Real calls are played by the fake carrier against the real app; their journal is applied with
a deployment that has an officer's endpoint and a campaign's endpoint. Each event type must
appear at the right moment with the right payload, once, however often and in whatever order
the entries are applied. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ivr.deployment import Setup, load_setup
from ivr.records import tables as t
from ivr.records.disputes import correct, dispute, resolve
from ivr.records.ingest import JournalEntry
from ivr.records.recorder import RecordWriter
from tests.hooks.support import hooked_deployment
from tests.records.played import journal, journaling_server, play, scrambled

pytestmark = pytest.mark.integration

CALLER = "+15125550123"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def setup(scenario_deployment_path: Path, tmp_path: Path) -> Setup:
    return load_setup(hooked_deployment(scenario_deployment_path, tmp_path))


@pytest.fixture
async def played(
    redis: Redis, redis_url: str, records_url: str, setup: Setup
) -> list[JournalEntry]:
    """Two calls from one caller (billable, then a repeat), and one that hangs up early."""
    faults = {"duplicate_status_callbacks": True, "shuffle_status_callbacks": True}
    async with journaling_server(setup, redis_url, records_url) as base:
        await play(base, "keypad_refinance_texas", caller=CALLER, seed=1, **faults)
        await play(base, "keypad_refinance_texas", caller=CALLER, seed=2, **faults)
        await play(base, "caller_hangs_up_early", caller="+15125550188", seed=4, **faults)
    return await journal(redis)


def writer(engine: Engine, setup: Setup) -> RecordWriter:
    prepared = RecordWriter(engine, setup, time.time)
    prepared.prepare()
    return prepared


def events(engine: Engine) -> list[t.WebhookEvent]:
    with Session(engine) as session:
        return list(session.scalars(select(t.WebhookEvent).order_by(t.WebhookEvent.id)))


def kinds(rows: Sequence[t.WebhookEvent], endpoint: str, call_sid: str) -> list[str]:
    return sorted(r.event for r in rows if r.endpoint_id == endpoint and r.call_sid == call_sid)


def call_sids(engine: Engine) -> list[str]:
    """The recorded calls, in start order."""
    with Session(engine) as session:
        return list(session.scalars(select(t.Call.call_sid).order_by(t.Call.started_at)))


def test_each_call_event_is_made_once_with_the_calls_data(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    writer(records, setup).apply(played)
    first, repeat, early = call_sids(records)
    rows = events(records)
    # Amy's endpoint asked for every event; she was bridged the first two calls.
    assert kinds(rows, "amy-crm", first) == [
        "billable",
        "completed",
        "score_ready",
        "transferred",
    ]
    # The repeat bridged too, but a duplicate does not bill: no billable event.
    assert kinds(rows, "amy-crm", repeat) == ["completed", "score_ready", "transferred"]
    assert kinds(rows, "amy-crm", early) == []
    # The campaign's endpoint asked for completed and billable only; it hears of every call.
    assert kinds(rows, "sunbelt-ops", first) == ["billable", "completed"]
    assert kinds(rows, "sunbelt-ops", repeat) == ["completed"]
    assert kinds(rows, "sunbelt-ops", early) == ["completed"]

    transferred = next(r for r in rows if r.event == "transferred" and r.call_sid == first)
    body = transferred.payload
    assert body["id"] == transferred.delivery_id
    assert transferred.delivery_id.startswith("evt_")
    assert (body["type"], body["endpoint"]) == ("transferred", "amy-crm")
    call = body["data"]["call"]
    assert call["call_sid"] == first
    assert call["caller"] == CALLER
    assert (call["campaign"], call["publisher"], call["officer"]) == (
        "sunbelt-refi",
        "rate-compare",
        "amy-ng",
    )
    assert call["tracking_number"] == "+18005550100"
    assert call["answers"]["loan_type"] == "refinance"
    assert call["answers"]["state"] == "TX"
    assert call["answers"]["credit_band"] == "good"
    assert call["score"]["score"] == 70
    assert body["data"]["transfer"]["officer"] == "amy-ng"
    assert transferred.officer_id == "amy-ng"
    assert transferred.status == "pending" and transferred.relayed_at is None

    billable = next(
        r
        for r in rows
        if r.event == "billable" and r.call_sid == first and r.endpoint_id == "amy-crm"
    )
    line = billable.payload["data"]["call"]["billing"]
    assert (line["billable"], line["rule"], line["revenue"]) == (True, "billable", "45.00")
    assert "payout" not in line  # the buyer never sees the publisher's payout
    assert billable.payload["data"]["changed_from"] is None


def test_applying_the_journal_again_makes_no_new_event(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    prepared = writer(records, setup)
    prepared.apply(played)
    before = [(r.dedupe_key, r.delivery_id) for r in events(records)]
    assert len(before) == 11
    prepared.apply(scrambled(played, seed=11))
    for entry in played:
        prepared.apply([entry])
    assert [(r.dedupe_key, r.delivery_id) for r in events(records)] == before


def test_a_re_decision_that_changes_the_verdict_is_an_event(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    """The repeat's entries first: alone it bills. Then the original: the repeat becomes its
    duplicate, and its buyer hears that it no longer bills."""
    by_call: dict[str, list[JournalEntry]] = {}
    for entry in played:
        by_call.setdefault(entry.call_sid, []).append(entry)
    first_sid, repeat_sid, _ = list(by_call)
    prepared = writer(records, setup)
    prepared.apply(by_call[repeat_sid])
    assert kinds(events(records), "amy-crm", repeat_sid) == [
        "billable",
        "completed",
        "score_ready",
        "transferred",
    ]
    prepared.apply(by_call[first_sid])
    flips = [
        r
        for r in events(records)
        if r.event == "billable" and r.call_sid == repeat_sid and r.endpoint_id == "amy-crm"
    ]
    assert [r.payload["data"]["call"]["billing"]["billable"] for r in flips] == [True, False]
    assert flips[1].payload["data"]["changed_from"] is True
    assert flips[1].payload["data"]["call"]["billing"]["rule"] == "duplicate"


def test_a_transcript_is_an_event_with_its_text(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    prepared = writer(records, setup)
    prepared.apply(played)
    first = call_sids(records)[0]
    document: dict[str, Any] = {
        "recording_sid": "RE" + "1" * 32,
        "call_sid": first,
        "model": "tiny.en",
        "segments": [
            {"speaker": "caller", "text": "I want to refinance", "start": 0.0, "end": 2.0},
            {"speaker": "officer", "text": "Happy to help", "start": 2.0, "end": 3.0},
        ],
    }
    entry = JournalEntry(kind="transcript", call_sid=first, body=document)
    prepared.apply([entry])
    prepared.apply([entry])
    ready = [r for r in events(records) if r.event == "transcript_ready"]
    assert [r.endpoint_id for r in ready] == ["amy-crm"]
    assert ready[0].payload["data"]["transcript"] == {
        "recording_sid": "RE" + "1" * 32,
        "model": "tiny.en",
        "text": "caller: I want to refinance\nofficer: Happy to help",
    }


def test_disputes_opened_and_resolved_are_events(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    writer(records, setup).apply(played)
    first = call_sids(records)[0]
    with Session(records) as session, session.begin():
        line_id = session.scalar(
            select(t.BillingLine.id).join(t.Call).where(t.Call.call_sid == first)
        )
        assert line_id is not None
        opened = dispute(session, line_id, "wrong number", "amy", NOW).id
    with Session(records) as session, session.begin():
        resolve(session, opened, True, "root", "agreed", NOW)
        correct(session, line_id, Decimal("1.00"), Decimal("0"), "goodwill", "root", NOW)
    rows = [r for r in events(records) if r.event == "disputed"]
    assert [(r.endpoint_id, r.payload["data"]["dispute"]["status"]) for r in rows] == [
        ("amy-crm", "open"),
        ("amy-crm", "accepted"),
    ]
    accepted = rows[1].payload["data"]["dispute"]
    assert (accepted["reason"], accepted["resolved_by"], accepted["revenue_delta"]) == (
        "wrong number",
        "root",
        "-45.00",
    )
    with Session(records) as session:
        assert session.scalar(select(func.count()).select_from(t.WebhookEvent)) == 13


def test_each_event_appears_with_the_entry_that_records_its_fact(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    """The first call's entries one at a time, in journal order: an event appears in the very
    batch whose entry carries its fact, and not before."""
    assert setup.deployment.webhooks[0].officer == "amy-ng"
    first_sid = played[0].call_sid
    prepared = writer(records, setup)
    seen: dict[str, int] = {}
    accepted_at = None
    for position, entry in enumerate(e for e in played if e.call_sid == first_sid):
        if entry.source == "officer-reply":
            accepted_at = position
        prepared.apply([entry])
        for event in kinds(events(records), "amy-crm", first_sid):
            seen.setdefault(event, position)
        if entry.kind != "state":
            continue
        transfers = entry.body.get("transfers", [])
        bridged = any(attempt.get("outcome") == "bridged" for attempt in transfers)
        assert ("transferred" in seen) == bridged or seen.get("transferred", position) < position
        ended = entry.body.get("status") == "ended"
        assert ("completed" in seen) == ended or seen.get("completed", position) < position
    assert set(seen) == {"transferred", "completed", "billable", "score_ready"}
    # The transfer is an event the moment Amy presses the key, not when the carrier reports
    # the bridge (when her leg ends). The call was scored before, but Amy's endpoint hears of
    # the score when the call is recorded as hers: the bridge.
    assert accepted_at is not None
    assert seen["transferred"] == accepted_at < seen["score_ready"]
    assert seen["score_ready"] <= seen["completed"] <= seen["billable"]
    transferred = [e for e in events(records) if e.event == "transferred"]
    assert [(e.endpoint_id, e.payload["data"]["transfer"]) for e in transferred] == [
        ("amy-crm", {"officer": "amy-ng", "position": 0})
    ]
