"""Real journals for the records tests: calls played by the fake carrier against the real app.

The app runs with its recorder off, so the journal stays in Redis for the test to read and
to apply in whatever order and as many times as it likes.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestServer
from redis.asyncio import Redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.config import Settings
from ivr.deployment import Setup
from ivr.jobs.job import text
from ivr.records import tables as t
from ivr.records.ingest import JournalEntry
from ivr.records.journal import RECORDS_STREAM
from ivr.server.app import create_app
from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier
from ivr.simulator.model import CallGeo
from ivr.simulator.script import load_script
from ivr.simulator.session import number_config
from tests.support.services import AUTH_TOKEN, ROOT, free_port

SCENARIOS = ROOT / "tests" / "scenarios"
EVERY_STATUS = frozenset({"initiated", "ringing", "answered", "completed"})


@asynccontextmanager
async def journaling_server(setup: Setup, redis_url: str, records_url: str) -> AsyncIterator[str]:
    """The real app on a real socket, its recorder off; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(  # type: ignore[call-arg]
        twilio_auth_token=AUTH_TOKEN,
        public_url=base,
        intent_model="",
        database_url=records_url,
    )
    app = create_app(settings, setup, redis_url, recorder=False)
    async with TestServer(app, port=port):
        yield base


async def play(
    base: str, scenario: str, *, caller: str = "+15125550123", seed: int = 7, **faults: Any
) -> str:
    """Play ``tests/scenarios/<scenario>.yaml``; returns the CallSid."""
    script = load_script(SCENARIOS / f"{scenario}.yaml")
    config = number_config(
        base, AUTH_TOKEN, status_callback_events=EVERY_STATUS, seed=seed, **faults
    )
    async with Carrier(config) as carrier:
        record = await carrier.place_call(
            ScriptedCaller(script.turns),
            from_number=caller,
            to_number=script.to_number or "+18005550100",
            geo=CallGeo(from_state=script.from_state),
        )
    return record.call_sid


async def journal(redis: Redis) -> list[JournalEntry]:
    """Everything journaled so far, in the order it was added."""
    entries = await redis.xrange(RECORDS_STREAM)
    return [
        JournalEntry.parse({text(k): text(v) for k, v in fields.items()}) for _, fields in entries
    ]


def scrambled(entries: Sequence[JournalEntry], seed: int) -> list[JournalEntry]:
    """Every entry twice, in a random order."""
    twice = [*entries, *entries]
    random.Random(seed).shuffle(twice)
    return twice


def in_batches(entries: Sequence[JournalEntry], seed: int) -> list[list[JournalEntry]]:
    """Random batch sizes, as recorders claiming concurrently would see them."""
    rng = random.Random(seed)
    batches, at = [], 0
    while at < len(entries):
        size = rng.randint(1, 9)
        batches.append(list(entries[at : at + size]))
        at += size
    return batches


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """The records' content without surrogate ids and processing times: equal when the same
    calls were recorded, whatever order their entries were applied in."""
    with Session(engine) as session:
        calls = {c.id: c.call_sid for c in session.scalars(select(t.Call))}
        return {
            "calls": sorted(
                (
                    c.call_sid,
                    c.status,
                    c.outcome,
                    c.connected,
                    c.officer_id,
                    c.score,
                    c.repeat,
                    c.duration_s,
                    c.carrier_status,
                    c.carrier_sequence,
                    c.revision,
                    c.caller,
                )
                for c in session.scalars(select(t.Call))
            ),
            "answers": sorted(
                (calls[a.call_id], a.slot, a.value, a.source)
                for a in session.scalars(select(t.Answer))
            ),
            "attempts": sorted(
                (calls[a.call_id], a.position, a.officer_id, a.outcome, a.duration_s)
                for a in session.scalars(select(t.TransferAttempt))
            ),
            "events": sorted(
                (e.dedupe_key, e.call_sid, e.source, e.event, e.sequence)
                for e in session.scalars(select(t.CallEvent))
            ),
            "recordings": sorted(
                (r.recording_sid, r.call_sid, r.duration_s)
                for r in session.scalars(select(t.Recording))
            ),
            "billing": sorted(
                (
                    calls[b.call_id],
                    b.officer_id,
                    b.billable,
                    b.rule,
                    b.reason,
                    b.revenue_cents,
                    b.payout_cents,
                )
                for b in session.scalars(select(t.BillingLine))
            ),
        }
