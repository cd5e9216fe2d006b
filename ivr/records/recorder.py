"""The recorder: drains the records journal into the database in batches.

Every ``warmline serve`` process runs one as a background task (one consumer of the shared
consumer group), so records keep up with calls without a separate service. The database work
runs in a process of its own (:class:`InProcess`), so the ORM never holds the serving process's
GIL while a webhook waits; tests and tools may run it in a thread (:class:`InThread`).

A batch is applied in one transaction; if it fails, each entry is tried on its own so one bad
entry cannot hold back the rest, and entries that still fail are retried with backoff by the
queue and dead-lettered after the last attempt. A batch that failed because the database is
unreachable is kept instead, and applied first once it answers again: an outage costs no entry
an attempt. Entries a dead recorder had claimed are taken
over after the visibility timeout; applying them twice changes nothing (:mod:`ivr.records.ingest`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ivr.deployment import Setup, load_setup
from ivr.jobs.job import Job, PermanentJobError
from ivr.jobs.queue import JobQueue
from ivr.logs import Verbatim, fields
from ivr.records.database import for_writing, open_engine
from ivr.records.ingest import Ingest, JournalEntry, utc
from ivr.records.journal import RECORDS_GROUP, RECORDS_STREAM
from ivr.records.migrate import upgrade
from ivr.records.sync import sync_deployment

log = logging.getLogger(__name__)
T = TypeVar("T")

BATCH = 500
IDLE_WAIT_MS = 500
LINGER_S = 0.5
ERROR_PAUSE_S = 1.0
PARENT_CHECK_S = 1.0


def records_queue(redis: Redis, visibility_timeout_s: float = 30.0) -> JobQueue:
    return JobQueue(
        redis,
        RECORDS_STREAM,
        RECORDS_GROUP,
        max_attempts=8,
        visibility_timeout_s=visibility_timeout_s,
    )


def latest_states(entries: Sequence[JournalEntry]) -> list[JournalEntry]:
    """``entries`` with each call's state snapshots cut to its newest: a snapshot holds all
    that came before it (the older ones would be applied and at once overwritten)."""
    newest: dict[str, int] = {}
    for entry in entries:
        if entry.kind == "state":
            newest[entry.call_sid] = max(newest.get(entry.call_sid, 0), entry.revision)
    return [
        entry
        for entry in entries
        if entry.kind != "state" or entry.revision == newest[entry.call_sid]
    ]


class DatabaseUnavailable(ConnectionError):
    """The records database cannot be reached. The batch is kept and tried again once it is
    back, costing its entries no attempt: an outage must not dead-letter what it held up."""


@dataclass(frozen=True)
class Failed:
    """A job the writer could not apply (plain data: it may come back from another process)."""

    job: Job
    error: str
    permanent: bool = False


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]


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
            applied = latest_states(entries)
            ingest.claim(entry.call_sid for entry in applied)
            for entry in applied:
                ingest.apply(entry)
            ingest.bill()

    def apply_jobs(self, jobs: Sequence[Job]) -> list[Failed]:
        """Apply a claimed batch; the jobs that could not be applied, with why."""
        parsed: list[tuple[Job, JournalEntry]] = []
        failed: list[Failed] = []
        for job in jobs:
            try:
                parsed.append((job, JournalEntry.parse(job.fields)))
            except PermanentJobError as error:
                failed.append(Failed(job, describe(error), permanent=True))
        try:
            self.apply([entry for _, entry in parsed])
            return failed
        except (SQLAlchemyError, ValueError) as batch_error:
            self._check_reachable(batch_error)
            if len(parsed) == 1:
                return [*failed, Failed(parsed[0][0], describe(batch_error))]
        for job, entry in parsed:  # isolate what failed the batch
            try:
                self.apply([entry])
            except (SQLAlchemyError, ValueError) as error:
                failed.append(Failed(job, describe(error)))
        return failed

    def _check_reachable(self, error: BaseException) -> None:
        """Raise :class:`DatabaseUnavailable` when a batch failed because the database is away
        (not because of what it held)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            raise DatabaseUnavailable(describe(error)) from None

    def _now(self) -> datetime:
        return utc(self.clock())


class Writing(Protocol):
    """Where a recorder's :class:`RecordWriter` runs."""

    async def prepare(self) -> None: ...

    async def apply_jobs(self, jobs: Sequence[Job]) -> list[Failed]: ...

    def close(self) -> None: ...


class InThread:
    """The writer in a thread of this process."""

    def __init__(self, writer: RecordWriter) -> None:
        self.writer = writer

    async def prepare(self) -> None:
        await asyncio.to_thread(self.writer.prepare)

    async def apply_jobs(self, jobs: Sequence[Job]) -> list[Failed]:
        return await asyncio.to_thread(self.writer.apply_jobs, jobs)

    def close(self) -> None:
        """Nothing to stop: the engine belongs to whoever made the writer."""


class InProcess:
    """The writer in a spawned process of its own, opened on ``url`` with the deployment at
    ``deployment``; a process that dies is replaced, and its batch is retried."""

    def __init__(self, url: str, deployment: str) -> None:
        self._args = (url, deployment)
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_open_writer,
            initargs=(*self._args, os.getpid()),
        )

    async def prepare(self) -> None:
        await self._run(_prepare)

    async def apply_jobs(self, jobs: Sequence[Job]) -> list[Failed]:
        return await self._run(_apply_jobs, list(jobs))

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        # Submitted from a thread: a submit writes to the pool's wake-up pipe (and the first
        # one spawns the process), neither of which belongs on the event loop.
        pool = self._pool
        try:
            return await asyncio.to_thread(lambda: pool.submit(fn, *args).result())
        except BrokenExecutor:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_writer: RecordWriter | None = None
"""The writer of an :class:`InProcess` child."""


def _open_writer(url: str, deployment: str, parent: int) -> None:
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    global _writer
    _writer = RecordWriter(open_engine(url), load_setup(deployment), time.time)


def _exit_with(parent: int) -> None:
    """End this child when the server that spawned it (``parent``, passed in: it may have died
    before this child started) is gone. A server killed with SIGKILL never shuts its pool down,
    and the child would hold its database connections forever."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _prepare() -> None:
    assert _writer is not None
    _writer.prepare()


def _apply_jobs(jobs: list[Job]) -> list[Failed]:
    assert _writer is not None
    return _writer.apply_jobs(jobs)


class Recorder:
    """One consumer of the records journal."""

    def __init__(self, queue: JobQueue, writer: Writing, consumer: str, batch: int = BATCH) -> None:
        self.queue = queue
        self.writer = writer
        self.consumer = consumer
        self.batch = batch
        self._held: list[Job] = []
        """A batch claimed while the database was away: applied first when it is back."""
        self.written: Counter | None = None
        """Set by the server: journal entries applied to the database are counted."""

    async def start(self) -> None:
        await self.queue.ensure_group()
        await self.writer.prepare()

    async def run(self, stop: asyncio.Event) -> None:
        """Prepare, then drain until ``stop`` is set; database or Redis outages pause it (and
        are retried), never end it."""
        ready = False
        while not stop.is_set():
            try:
                if not ready:
                    await self.start()
                    ready = True
                if await self.step(IDLE_WAIT_MS) < self.batch:
                    # Caught up: let entries gather, so a busy call is one write, not one per
                    # webhook, and the recorder's share of this process stays small.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), LINGER_S)
            except (RedisError, SQLAlchemyError, OSError, BrokenExecutor):
                log.exception("records: database, journal or writer unavailable; retrying")
                ready = False  # a Redis that restarted empty has lost the consumer group too
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), ERROR_PAUSE_S)

    async def step(self, block_ms: int = 0) -> int:
        """Claim and apply one batch; the number of entries it held."""
        jobs, self._held = self._held, []
        if not jobs:
            jobs = await self.queue.claim(self.consumer, count=self.batch, block_ms=block_ms)
        if not jobs:
            return 0
        try:
            failed = await self.writer.apply_jobs(jobs)
        except DatabaseUnavailable:
            self._held = jobs
            raise
        failed_ids = {failure.job.id for failure in failed}
        done = [job for job in jobs if job.id not in failed_ids]
        if done:
            await self.queue.ack(*done)
            if self.written is not None:
                self.written.inc(len(done))
        for failure in failed:
            outcome = await self.queue.fail(failure.job, failure.error, retry=not failure.permanent)
            about = fields(
                entry=Verbatim(failure.job.key), status=outcome.status, tries=outcome.attempts
            )
            log.warning("records entry not applied", extra=about)
        return len(jobs)

    async def drain(self) -> int:
        """Apply everything waiting now (tests, ``warmline records drain``); entries applied."""
        total = 0
        while applied := await self.step():
            total += applied
        return total
