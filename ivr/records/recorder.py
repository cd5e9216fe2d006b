"""The recorder: drains the records journal into the database in batches.

Every ``warmline serve`` process runs one as a background task (one consumer of the shared
consumer group), so records keep up with calls without a separate service. A batch is applied
in one transaction off the event loop; if it fails, each entry is tried on its own so one bad
entry cannot hold back the rest, and entries that still fail are retried with backoff by the
queue and dead-lettered after the last attempt. Entries a dead recorder had claimed are taken
over after the visibility timeout; applying them twice changes nothing (:mod:`ivr.records.ingest`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ivr.deployment import Setup
from ivr.jobs.job import Job, PermanentJobError
from ivr.jobs.queue import JobQueue
from ivr.logs import Verbatim, fields
from ivr.records.database import for_writing
from ivr.records.ingest import Ingest, JournalEntry, utc
from ivr.records.journal import RECORDS_GROUP, RECORDS_STREAM
from ivr.records.migrate import upgrade
from ivr.records.sync import sync_deployment

log = logging.getLogger(__name__)

BATCH = 500
IDLE_WAIT_MS = 500
ERROR_PAUSE_S = 1.0


def records_queue(redis: Redis, visibility_timeout_s: float = 30.0) -> JobQueue:
    return JobQueue(
        redis,
        RECORDS_STREAM,
        RECORDS_GROUP,
        max_attempts=8,
        visibility_timeout_s=visibility_timeout_s,
    )


class RecordWriter:
    """Applies batches of journal entries to the database (blocking: run it in a thread)."""

    def __init__(self, engine: Engine, setup: Setup, clock: Callable[[], float]) -> None:
        self.engine = for_writing(engine)
        self.setup = setup
        self.clock = clock

    def prepare(self) -> None:
        """Migrate the schema to this release's head and sync the deployment into it."""
        upgrade(self.engine)
        with Session(self.engine) as session, session.begin():
            sync_deployment(session, self.setup, self._now())

    def apply(self, entries: Sequence[JournalEntry]) -> None:
        """Apply ``entries`` and bill the calls they touched, all in one transaction."""
        with Session(self.engine) as session, session.begin():
            ingest = Ingest(session, self.setup, self._now())
            for entry in entries:
                ingest.apply(entry)
            ingest.bill()

    def apply_jobs(self, jobs: Sequence[Job]) -> list[tuple[Job, Exception]]:
        """Apply a claimed batch; the jobs that could not be applied, with why."""
        parsed: list[tuple[Job, JournalEntry]] = []
        failed: list[tuple[Job, Exception]] = []
        for job in jobs:
            try:
                parsed.append((job, JournalEntry.parse(job.fields)))
            except PermanentJobError as error:
                failed.append((job, error))
        try:
            self.apply([entry for _, entry in parsed])
            return failed
        except (SQLAlchemyError, ValueError) as batch_error:
            if len(parsed) == 1:
                return [*failed, (parsed[0][0], batch_error)]
        for job, entry in parsed:  # isolate what failed the batch
            try:
                self.apply([entry])
            except (SQLAlchemyError, ValueError) as error:
                failed.append((job, error))
        return failed

    def _now(self) -> datetime:
        return utc(self.clock())


class Recorder:
    """One consumer of the records journal."""

    def __init__(
        self, queue: JobQueue, writer: RecordWriter, consumer: str, batch: int = BATCH
    ) -> None:
        self.queue = queue
        self.writer = writer
        self.consumer = consumer
        self.batch = batch

    async def start(self) -> None:
        await self.queue.ensure_group()
        await asyncio.to_thread(self.writer.prepare)

    async def run(self, stop: asyncio.Event) -> None:
        """Prepare, then drain until ``stop`` is set; database or Redis outages pause it (and
        are retried), never end it."""
        ready = False
        while not stop.is_set():
            try:
                if not ready:
                    await self.start()
                    ready = True
                await self.step(IDLE_WAIT_MS)
            except (RedisError, SQLAlchemyError, OSError):
                log.exception("records: database or journal unavailable; retrying")
                ready = False  # a Redis that restarted empty has lost the consumer group too
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), ERROR_PAUSE_S)

    async def step(self, block_ms: int = 0) -> int:
        """Claim and apply one batch; the number of entries it held."""
        jobs = await self.queue.claim(self.consumer, count=self.batch, block_ms=block_ms)
        if not jobs:
            return 0
        failed = await asyncio.to_thread(self.writer.apply_jobs, jobs)
        failed_ids = {job.id for job, _ in failed}
        done = [job for job in jobs if job.id not in failed_ids]
        if done:
            await self.queue.ack(*done)
        for job, error in failed:
            outcome = await self.queue.fail(
                job,
                f"{type(error).__name__}: {error}"[:500],
                retry=not isinstance(error, PermanentJobError),
            )
            log.warning(
                "records entry not applied",
                extra=fields(
                    entry=Verbatim(job.key), status=outcome.status, attempts=outcome.attempts
                ),
            )
        return len(jobs)

    async def drain(self) -> int:
        """Apply everything waiting now (tests, ``warmline records drain``); entries applied."""
        total = 0
        while applied := await self.step():
            total += applied
        return total
