"""Entry points for the command line: ``warmline worker`` and ``warmline jobs``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
from collections.abc import Iterator, Mapping

from redis.asyncio import Redis

from ivr.jobs.backoff import Backoff
from ivr.jobs.queue import JobQueue
from ivr.jobs.worker import RECORDING_KIND, Handler, Worker
from ivr.telephony.recording_events import RECORDINGS_STREAM

DEFAULT_GROUP = "warmline-workers"


def default_consumer_name() -> str:
    """``host-pid-random``: unique across machines and restarts (containers all run as pid 1
    and may reuse a host name), readable in ``XINFO CONSUMERS``."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


async def run_worker(
    redis_url: str,
    stream: str,
    group: str,
    handlers: Mapping[str, Handler],
    *,
    consumer: str | None = None,
    concurrency: int = 1,
    max_attempts: int = 5,
    visibility_timeout_s: float = 60.0,
    handler_timeout_s: float | None = 900.0,
    backoff: Backoff | None = None,
    default_kind: str = RECORDING_KIND,
    poll_ms: int = 2000,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Run one worker until SIGTERM/SIGINT (or ``stop``), then finish the jobs in hand.

    ``stream`` is usually :data:`RECORDINGS_STREAM` and ``group`` :data:`DEFAULT_GROUP`; every
    worker process given the same two shares the work. ``handlers`` maps a job's ``kind`` to its
    coroutine (recordings carry no kind and go to ``default_kind``).

    A second signal is not needed and not special: a process killed hard loses nothing, its
    jobs are reclaimed by the other workers after ``visibility_timeout_s``.
    """
    stop = stop or asyncio.Event()
    redis = Redis.from_url(redis_url)
    try:
        with stop_on_signals(stop, handle_signals):
            queue = JobQueue(
                redis,
                stream,
                group,
                max_attempts=max_attempts,
                backoff=backoff,
                visibility_timeout_s=visibility_timeout_s,
            )
            worker = Worker(
                queue,
                handlers,
                consumer or default_consumer_name(),
                concurrency=concurrency,
                handler_timeout_s=handler_timeout_s,
                default_kind=default_kind,
                poll_ms=poll_ms,
            )
            await worker.run(stop)
    finally:
        await redis.aclose()


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event, enabled: bool = True) -> Iterator[None]:
    """While inside, SIGTERM and SIGINT set ``stop`` (a worker then finishes what it holds);
    ``enabled`` False leaves signals alone (tests, or a caller that handles them itself)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT) if enabled else ()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def job_stats(
    redis_url: str, stream: str = RECORDINGS_STREAM, group: str = DEFAULT_GROUP
) -> dict[str, int | str]:
    """``{"stream", "group", "depth", "pending", "delayed", "dead", "consumers"}``: see
    :class:`~ivr.jobs.queue.QueueStats`. Read-only; works before any worker has run."""
    redis = Redis.from_url(redis_url)
    try:
        return (await JobQueue(redis, stream, group).stats()).as_dict()
    finally:
        await redis.aclose()
