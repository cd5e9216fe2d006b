"""The worker loop: claim jobs, run their handlers, ack or fail them, stop gracefully.

Handlers are coroutines and share the worker's event loop with the lease heartbeats. CPU-bound
work (Whisper, the intent classifier) must therefore run in an executor — wrap a plain function
with :func:`blocking_handler` — or it stalls the loop: heartbeats stop, the lease runs out, and
another worker takes the job over while this one is still busy with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor

from redis.exceptions import RedisError

from ivr.jobs.job import Job, PermanentJobError
from ivr.jobs.queue import JobQueue
from ivr.logs import Verbatim, fields, mask_text

log = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[None]]

RECORDING_KIND = "recording"
_ERROR_LIMIT = 500  # characters of an error kept in a dead letter


def blocking_handler(fn: Callable[[Job], object], executor: Executor | None = None) -> Handler:
    """A handler that runs the blocking ``fn(job)`` in ``executor`` (default: the loop's threads).

    With a ``ProcessPoolExecutor``, ``fn`` must be a module-level function (it is pickled along
    with the job); a process per CPU is how CPU-bound Python work runs in parallel.
    """

    async def handler(job: Job) -> None:
        await asyncio.get_running_loop().run_in_executor(executor, fn, job)

    return handler


def describe_error(exc: BaseException) -> str:
    """``Type: message``, phone numbers masked, bounded — never a traceback (tracebacks carry
    local values, and with them callers' numbers)."""
    message = mask_text(str(exc))
    described = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return described[:_ERROR_LIMIT]


class Worker:
    """Drains ``queue`` as consumer ``consumer_name``, up to ``concurrency`` jobs at a time.

    The handler is chosen by the job's ``kind`` field (``default_kind`` when absent: entries the
    telephony layer adds for recordings carry no kind). A job with no handler is dead-lettered
    at once (no retry can give this worker a handler): upgrade workers before the servers that
    queue a new kind, and requeue such dead letters once they are.
    """

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, Handler],
        consumer_name: str,
        *,
        concurrency: int = 1,
        handler_timeout_s: float | None = 900.0,
        default_kind: str = RECORDING_KIND,
        poll_ms: int = 2000,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.queue = queue
        self.handlers = dict(handlers)
        self.consumer = consumer_name
        self.concurrency = concurrency
        self.handler_timeout_s = handler_timeout_s
        self.default_kind = default_kind
        self.poll_ms = poll_ms

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then finish the jobs in hand and claim no more.

        Redis errors do not end the loop: it waits (with backoff) and tries again, and a group
        that disappeared is created again.
        """
        log.info("worker started", extra=self._fields())
        running: set[asyncio.Task[str]] = set()
        errors = 0
        group_ready = False
        try:
            while not stop.is_set():
                free = self.concurrency - len(running)
                if free <= 0:
                    await _first_of(running, stop)
                    continue
                try:
                    if not group_ready:
                        await self.queue.ensure_group()
                        group_ready = True
                    jobs = await self.queue.claim(self.consumer, free, self.poll_ms)
                except RedisError as exc:
                    errors += 1
                    log.warning("job claim failed", extra=fields(error=describe_error(exc)))
                    # The stream was deleted (and its group with it): recreate it at once.
                    lost_group = any(code in str(exc) for code in ("NOGROUP", "UNBLOCKED"))
                    if lost_group and errors <= 3:
                        group_ready = False
                    else:
                        await _sleep_unless(stop, min(30.0, 0.5 * 2 ** min(errors, 6)))
                    continue
                errors = 0
                for job in jobs:
                    task = asyncio.create_task(self.process(job))
                    running.add(task)
                    task.add_done_callback(running.discard)
        except asyncio.CancelledError:
            # A hard stop: abandon the jobs in hand; they stay pending and are reclaimed.
            for task in running:
                task.cancel()
            raise
        finally:
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            with contextlib.suppress(RedisError):
                await self.queue.retire_consumer(self.consumer)
            log.info("worker stopped", extra=self._fields())

    async def process(self, job: Job) -> str:
        """Run one job and record the outcome: ``done``, a :class:`~ivr.jobs.queue.Failure`
        status, or ``unrecorded`` when Redis could not be told (the lease then runs out and the
        job is delivered again)."""
        kind = job.fields.get("kind", self.default_kind)
        handler = self.handlers.get(kind)
        about: dict[str, object] = {
            "job": Verbatim(job.id),
            "key": Verbatim(job.key) if job.key == job.id else job.key,
            "kind": kind,
            "attempt": job.attempt,
        }
        started = time.monotonic()
        lease = asyncio.create_task(self._keep_lease(job))
        deadline = asyncio.timeout(self.handler_timeout_s)
        try:
            try:
                async with deadline:
                    if handler is None:
                        raise PermanentJobError(f"no handler for kind {kind!r}")
                    await handler(job)
            except Exception as exc:
                if deadline.expired():
                    error = f"TimeoutError: handler took longer than {self.handler_timeout_s:g} s"
                else:
                    error = describe_error(exc)
                permanent = isinstance(exc, PermanentJobError)
                failure = await self.queue.fail(job, error, retry=not permanent)
                log.warning(
                    "job failed",
                    extra=fields(
                        **about, status=failure.status, attempts=failure.attempts, error=error
                    ),
                )
                return failure.status
            await self.queue.ack(job)
            elapsed = round(time.monotonic() - started, 3)
            log.info("job done", extra=fields(**about, seconds=elapsed))
            return "done"
        except RedisError as exc:
            log.error("job outcome not recorded", extra=fields(**about, error=describe_error(exc)))
            return "unrecorded"
        finally:
            lease.cancel()

    async def _keep_lease(self, job: Job) -> None:
        """Renew the job's lease every third of the visibility timeout while its handler runs,
        so a long job is not taken over while a short timeout still catches dead workers."""
        interval = self.queue.visibility_timeout_s / 3
        while True:
            await asyncio.sleep(interval)
            try:
                kept = await self.queue.extend(job)
            except RedisError as exc:
                log.warning(
                    "job lease not renewed", extra=fields(job=Verbatim(job.id), error=str(exc))
                )
                continue
            if not kept:
                log.warning("job lease lost", extra=fields(job=Verbatim(job.id), key=job.key))
                return

    def _fields(self) -> dict[str, object]:
        return fields(
            consumer=self.consumer,
            stream=self.queue.stream,
            group=self.queue.group,
            concurrency=self.concurrency,
        )


async def _first_of(tasks: set[asyncio.Task[str]], stop: asyncio.Event) -> None:
    """Wait until one task finishes or ``stop`` is set."""
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({*tasks, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
