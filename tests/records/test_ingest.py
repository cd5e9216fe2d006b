"""The journal applied to real databases: idempotent, order-tolerant, and nothing lost.

Calls are played by the fake carrier against the real app (every status event subscribed,
status callbacks duplicated and shuffled), then the journal they left is applied in order and,
into a fresh database, every entry twice in a random order and random batches: both must give
the same records. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
import time
from concurrent.futures import BrokenExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from ivr.deployment import Setup, load_setup
from ivr.records import tables as t
from ivr.records.database import for_writing
from ivr.records.disputes import dispute, resolve
from ivr.records.ingest import Ingest, JournalEntry
from ivr.records.journal import RECORDS_STREAM, RecordJournal
from ivr.records.recorder import InProcess, InThread, Recorder, RecordWriter, records_queue
from tests.records.played import (
    in_batches,
    journal,
    journaling_server,
    play,
    scrambled,
    snapshot,
)
from tests.support.databases import empty_tables
from tests.support.services import warmline

pytestmark = pytest.mark.integration

CALLER = "+15125550123"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def setup(scenario_deployment_path: Path) -> Setup:
    return load_setup(scenario_deployment_path)


@pytest.fixture
async def played(
    redis: Redis, redis_url: str, records_url: str, setup: Setup
) -> list[JournalEntry]:
    """Four calls' journal: billable, a repeat that connects again, declined→next, abandoned."""
    faults = {"duplicate_status_callbacks": True, "shuffle_status_callbacks": True}
    async with journaling_server(setup, redis_url, records_url) as base:
        await play(base, "keypad_refinance_texas", caller=CALLER, seed=1, **faults)
        await play(base, "keypad_refinance_texas", caller=CALLER, seed=2, **faults)
        await play(base, "declined_then_next_officer", caller="+15125550177", seed=3, **faults)
        await play(base, "caller_hangs_up_early", caller="+15125550188", seed=4, **faults)
    return await journal(redis)


def writer(engine: Engine, setup: Setup) -> RecordWriter:
    prepared = RecordWriter(engine, setup, time.time)
    prepared.prepare()
    return prepared


def test_the_journal_holds_states_and_every_callback_twice(played: list[JournalEntry]) -> None:
    kinds = [e.kind for e in played]
    assert kinds.count("state") >= 4 * 3
    status = [e for e in played if e.kind == "callback" and e.source == "status"]
    # ringing, answered, completed (an inbound call is never "initiated") for each of 4 calls,
    # each delivered twice
    assert len(status) == 4 * 3 * 2
    sources = {e.source for e in played if e.kind == "callback"}
    assert sources == {"status", "officer-status", "officer-reply"}
    # an officer's key, once per transfer taken: both billable calls and the declined→next one
    accepted = [e for e in played if e.source == "officer-reply"]
    assert [(e.body["Digits"], e.body["Officer"]) for e in accepted] == [
        ("1", "amy-ng"),
        ("1", "amy-ng"),
        ("1", "bo-reyes"),
    ]


def test_in_order_records_are_the_expected_ones(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    writer(records, setup).apply(played)
    with Session(records) as session:
        lines = {line.call_id: line for line in session.scalars(select(t.BillingLine))}
        calls = session.scalars(select(t.Call).order_by(t.Call.started_at)).all()
        assert [c.outcome for c in calls] == [
            "transferred",
            "transferred",
            "transferred",
            "abandoned",
        ]
        first, repeat, rolled, abandoned = calls
        assert (first.officer_id, first.connected, first.carrier_status) == (
            "amy-ng",
            True,
            "completed",
        )
        assert first.carrier_sequence == 2 and first.duration_s is not None
        assert [(a.officer_id, a.outcome) for a in rolled.attempts] == [
            ("amy-ng", "declined"),
            ("bo-reyes", "bridged"),
        ]
        assert {a.slot: a.value for a in first.answers} == {
            "loan_type": "refinance",
            "state": "TX",
            "credit_band": "good",
            "goal": "refinance to a lower rate",
            "intent": "unknown",
            "score": "70",
            "qualified": "yes",
        }
        assert (lines[first.id].billable, lines[first.id].revenue_cents) == (True, 4500)
        assert lines[first.id].payout_cents == 3500
        assert lines[repeat.id].rule == "duplicate"
        assert lines[repeat.id].reason == f"duplicate of call {first.call_sid} 0 min ago"
        assert (lines[rolled.id].officer_id, lines[rolled.id].billable) == ("bo-reyes", True)
        assert lines[rolled.id].reason == "bridged 120 s ≥ 120 s to bo-reyes"
        assert (lines[abandoned.id].rule, lines[abandoned.id].officer_id) == ("not_connected", None)
        timeline = session.scalars(
            select(t.CallEvent.event)
            .where(t.CallEvent.call_sid == first.call_sid, t.CallEvent.source == "status")
            .order_by(t.CallEvent.sequence)
        ).all()
        assert timeline == ["ringing", "in-progress", "completed"]


def test_twice_and_shuffled_gives_the_same_records(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    writer(records, setup).apply(played)
    expected = snapshot(records)
    for seed in (11, 12):
        empty_tables(records)
        replay = writer(records, setup)
        for batch in in_batches(scrambled(played, seed), seed):
            replay.apply(batch)
        assert snapshot(records) == expected


def test_a_stale_snapshot_never_rolls_a_call_back(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    recorder = writer(records, setup)
    recorder.apply(played)
    first_state = next(e for e in played if e.kind == "state")
    recorder.apply([first_state])
    with Session(records) as session:
        call = session.scalars(select(t.Call).where(t.Call.call_sid == first_state.call_sid)).one()
        assert (call.status, call.revision) == (
            "ended",
            max(e.revision for e in played if e.call_sid == call.call_sid and e.kind == "state"),
        )


def test_a_callback_for_an_unknown_call_is_kept_and_joins_it_later(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    recorder = writer(records, setup)
    callbacks = [e for e in played if e.kind == "callback"]
    recorder.apply(callbacks)
    with Session(records) as session:
        assert session.scalar(select(func.count()).select_from(t.Call)) == 0
        kept = session.scalar(select(func.count()).select_from(t.CallEvent))
        assert kept == len(
            {(e.source, e.body["CallSid"], e.body.get("SequenceNumber")) for e in callbacks}
        )
    recorder.apply([e for e in played if e.kind == "state"])
    with Session(records) as session:
        carrier = session.execute(select(t.Call.carrier_status, t.Call.duration_s)).all()
        assert carrier and all(status == "completed" and s is not None for status, s in carrier)


async def test_a_recorder_that_dies_mid_batch_loses_nothing_and_counts_nothing_twice(
    played: list[JournalEntry], records: Engine, setup: Setup, redis: Redis
) -> None:
    queue = records_queue(redis, visibility_timeout_s=0.05)
    await queue.ensure_group()
    dead = await queue.claim("recorder-that-dies", count=10)  # claimed, never acknowledged
    assert len(dead) == 10
    survivor = Recorder(
        queue, InThread(RecordWriter(records, setup, time.time)), "survivor", batch=7
    )
    await survivor.start()
    await asyncio.sleep(0.06)  # the dead recorder's lease runs out
    assert await survivor.drain() == len(played)
    assert await redis.xlen(RECORDS_STREAM) == 0
    expected = snapshot(records)
    empty_tables(records)
    writer(records, setup).apply(played)
    assert snapshot(records) == expected


async def test_a_malformed_entry_is_dead_lettered_and_the_rest_applied(
    played: list[JournalEntry], records: Engine, setup: Setup, redis: Redis, redis_url: str
) -> None:
    await redis.xadd(RECORDS_STREAM, {"kind": "state", "call_sid": "CAbad", "body": "{not json"})
    await RecordJournal(redis).callback("status", {"CallSid": "CAx", "SequenceNumber": "0"}, None)
    queue = records_queue(redis)
    recorder = Recorder(queue, InThread(RecordWriter(records, setup, time.time)), "only")
    await recorder.start()
    await recorder.drain()
    dead = await queue.dead_letters()
    assert [d.fields["call_sid"] for d in dead] == ["CAbad"]
    assert "malformed records entry" in dead[0].error
    shown = warmline("jobs", "--queue", "records", "--json", env={"WARMLINE_REDIS_URL": redis_url})
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "stream": RECORDS_STREAM,
        "group": "recorders",
        "depth": 0,
        "pending": 0,
        "delayed": 0,
        "dead": 1,
        "consumers": 1,
    }
    with Session(records) as session:
        assert session.scalar(select(func.count()).select_from(t.Call)) == 4
        assert (
            session.scalar(
                select(func.count()).select_from(t.CallEvent).where(t.CallEvent.call_sid == "CAx")
            )
            == 1
        )


def test_a_transcript_joins_its_recording_once(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    call_sid = played[0].call_sid
    document = {
        "recording_sid": "RE" + "7" * 32,
        "call_sid": call_sid,
        "audio": f"2026/11/24/{call_sid}/RE{'7' * 32}.wav",
        "model": "base.en",
        "segments": [
            {"speaker": "caller", "start": 0.4, "end": 2.0, "text": "I want to refinance."},
            {"speaker": "officer", "start": 2.5, "end": 3.1, "text": "Happy to help."},
        ],
    }
    entry = JournalEntry("transcript", call_sid, document)
    recorder = writer(records, setup)
    recorder.apply([*played, entry])
    recorder.apply([entry])
    with Session(records) as session:
        transcript = session.scalars(select(t.Transcript)).one()
        assert transcript.text == "caller: I want to refinance.\nofficer: Happy to help."
        assert (transcript.call_sid, transcript.model) == (call_sid, "base.en")
        recording = session.scalars(select(t.Recording)).one()
        assert recording.path == document["audio"]


def test_a_disputed_line_is_not_re_decided_when_an_earlier_call_arrives_late(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    recorder = writer(records, setup)
    first_sid, repeat_sid, *_ = dict.fromkeys(e.call_sid for e in played if e.kind == "state")
    recorder.apply([e for e in played if e.call_sid == repeat_sid])  # the repeat comes first
    with Session(records) as session, session.begin():
        line = session.scalars(select(t.BillingLine)).one()
        assert (line.billable, line.revenue_cents) == (True, 4500)
        disputed = dispute(session, line.id, "caller already spoke to us", "amy-ng", NOW)
        resolve(session, disputed.id, True, "ops", "agreed", NOW)
    recorder.apply([e for e in played if e.call_sid == first_sid])  # the original, late
    with Session(records) as session:
        lines = {
            call_sid: line
            for call_sid, line in session.execute(
                select(t.Call.call_sid, t.BillingLine).join(t.BillingLine)
            ).all()
        }
        assert lines[first_sid].billable
        kept = lines[repeat_sid]
        assert (kept.rule, kept.revenue_cents) == ("billable", 4500)  # not re-decided
        net = kept.revenue_cents + sum(a.revenue_delta_cents for a in kept.adjustments)
        assert net == 0  # credited once


def child_processes() -> list[int]:
    """This process's children (Linux's /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid():
                children.append(int(stat.parent.name))
    return children


async def test_a_writer_process_that_dies_is_replaced_and_its_batch_retried(
    played: list[JournalEntry], records: Engine, records_url: str, setup: Setup, redis: Redis
) -> None:
    queue = records_queue(redis, visibility_timeout_s=0.2)
    writer = InProcess(records_url, setup.path)
    recorder = Recorder(queue, writer, "server-1", batch=5)
    try:
        before = set(child_processes())
        await recorder.start()  # spawns the writer, which migrates and syncs
        [child] = set(child_processes()) - before
        os.kill(child, signal.SIGKILL)
        with pytest.raises(BrokenExecutor):
            await recorder.step()  # five entries claimed, never acknowledged
        await recorder.start()  # a new writer process
        await asyncio.sleep(0.25)  # the lost batch's lease runs out
        assert await recorder.drain() == len(played)  # the lost five again, and the rest
    finally:
        await asyncio.to_thread(writer.close)
    assert await redis.xlen(RECORDS_STREAM) == 0
    expected = snapshot(records)
    empty_tables(records)
    writer_in_thread = RecordWriter(records, setup, time.time)
    writer_in_thread.prepare()
    writer_in_thread.apply(played)
    assert snapshot(records) == expected


def test_a_callback_without_a_sequence_number_is_kept_once_per_idempotency_token(
    records: Engine, setup: Setup
) -> None:
    body = {"CallSid": "CA" + "5" * 32, "CallStatus": "completed", "CallDuration": "31"}
    first = JournalEntry("callback", body["CallSid"], body, source="status", token="tok-1")
    retried = JournalEntry("callback", body["CallSid"], body, source="status", token="tok-1")
    other = JournalEntry("callback", body["CallSid"], body, source="status", token="tok-2")
    writer(records, setup).apply([first, retried])
    writer(records, setup).apply([retried, other])
    with Session(records) as session:
        keys = session.scalars(select(t.CallEvent.dedupe_key).order_by(t.CallEvent.id)).all()
    assert keys == ["token:tok-1", "token:tok-2"]


def test_two_recorders_on_one_call_at_once_keep_the_newest_snapshot(
    played: list[JournalEntry], records: Engine, setup: Setup
) -> None:
    """Every server runs a recorder: while one applies an older snapshot of a call, another
    with the newer one waits for it, instead of being overwritten by it afterwards."""
    if records.dialect.name != "postgresql":
        pytest.skip("SQLite's writers take turns at BEGIN IMMEDIATE: nothing interleaves")
    sid = next(e.call_sid for e in played if e.kind == "state" and e.body["transfers"])
    states = sorted(
        (e for e in played if e.kind == "state" and e.call_sid == sid), key=lambda e: e.revision
    )
    older, newer = states[-2], states[-1]
    assert [a["outcome"] for a in older.body["transfers"]] != [
        a["outcome"] for a in newer.body["transfers"]
    ]
    recorder = writer(records, setup)
    recorder.apply([e for e in played if e.kind != "state" or e.revision < older.revision])
    with Session(for_writing(records)) as session, session.begin():
        slow = Ingest(session, setup, NOW)
        slow.claim([sid])
        fast = threading.Thread(target=recorder.apply, args=([newer],))
        fast.start()
        _wait_for_a_lock_wait(records)
        slow.apply(older)
        slow.bill()
    fast.join(timeout=30)
    assert not fast.is_alive()
    with Session(records) as session:
        call = session.scalars(select(t.Call).where(t.Call.call_sid == sid)).one()
        assert call.revision == newer.revision
        assert [(a.officer_id, a.outcome) for a in call.attempts] == [
            (a["officer"], a["outcome"]) for a in newer.body["transfers"]
        ]


def _wait_for_a_lock_wait(engine: Engine) -> None:
    """Until a session of this database waits for a row lock (PostgreSQL's own view)."""
    deadline = time.monotonic() + 15
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.scalar(query):
                return
        time.sleep(0.02)
    raise AssertionError("the second recorder never waited for the first one's lock")
