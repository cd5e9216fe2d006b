"""Worker processes killed mid-job: the job is retried, never lost, never double-counted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis.asyncio import Redis

from ivr.jobs import JobQueue, ResultStore, Worker
from tests.jobs.conftest import running, wait_until
from tests.jobs.worker_process import make_handler
from tests.support.services import ROOT

pytestmark = pytest.mark.integration

GROUP = "workers"
VISIBILITY_S = 1.0


@contextmanager
def worker_process(
    redis_url: str, stream: str, consumer: str, log: Path, **holds: float
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m tests.jobs.worker_process`` as a real process; killed on exit if still up."""
    command = [
        sys.executable, "-m", "tests.jobs.worker_process",
        "--redis-url", redis_url, "--stream", stream, "--group", GROUP,
        "--consumer", consumer, "--visibility", str(VISIBILITY_S),
        "--hold-before", str(holds.get("before", 0.0)),
        "--hold-after", str(holds.get("after", 0.0)),
    ]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def trail(redis: Redis, stream: str, name: str) -> list[str]:
    return [item.decode() for item in await redis.lrange(f"{stream}:{name}", 0, -1)]


async def enqueue_recording(queue: JobQueue) -> str:
    """One job, keyed by its RecordingSid; returns the key."""
    await queue.ensure_group()
    await queue.enqueue({"CallSid": "CA" + "3" * 32}, key="RE" + "4" * 32)
    return "RE" + "4" * 32


async def test_a_job_killed_mid_work_is_reclaimed_and_completes_once(
    redis: Redis, redis_url: str, stream: str, tmp_path: Path
) -> None:
    queue = JobQueue(redis, stream, GROUP, visibility_timeout_s=VISIBILITY_S)
    key = await enqueue_recording(queue)

    with worker_process(redis_url, stream, "doomed", tmp_path / "a.log", before=30) as doomed:
        await wait_until(
            lambda: _has(redis, stream, "started", ["doomed"]), timeout_s=15, what="doomed start"
        )
        doomed.send_signal(signal.SIGKILL)
        assert doomed.wait(timeout=5) == -signal.SIGKILL
        killed_at = time.monotonic()

    assert (await queue.stats()).pending == 1  # the job is not lost: still pending for "doomed"
    rescuer = Worker(
        queue, {"recording": make_handler(redis, stream, "rescuer")}, "rescuer", poll_ms=50
    )
    async with running(rescuer):
        await wait_until(
            lambda: _has(redis, stream, "written", ["rescuer:1"]), timeout_s=10, what="rescue"
        )
        waited = time.monotonic() - killed_at
        await wait_until(lambda: _pending_is(queue, 0), what="the ack")

    # Taken over only once the lease of the dead worker ran out (its last renewal came at most
    # a third of the timeout before the kill).
    assert waited >= VISIBILITY_S * 2 / 3 - 0.05
    assert await trail(redis, stream, "started") == ["doomed", "rescuer"]
    result = await ResultStore(redis, prefix=f"{stream}:result:").get(key)
    assert result == {"consumer": "rescuer", "attempt": "2", "call": "CA" + "3" * 32}
    assert await redis.get(f"{stream}:count") == b"1"
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.delayed, stats.dead) == (0, 0, 0, 0)


async def test_a_job_killed_after_its_result_but_before_its_ack_counts_once(
    redis: Redis, redis_url: str, stream: str, tmp_path: Path
) -> None:
    queue = JobQueue(redis, stream, GROUP, visibility_timeout_s=VISIBILITY_S)
    key = await enqueue_recording(queue)

    with worker_process(redis_url, stream, "doomed", tmp_path / "a.log", after=30) as doomed:
        await wait_until(
            lambda: _has(redis, stream, "written", ["doomed:1"]), timeout_s=15, what="the write"
        )
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=5)

    rescuer = Worker(
        queue, {"recording": make_handler(redis, stream, "rescuer")}, "rescuer", poll_ms=50
    )
    async with running(rescuer):
        await wait_until(
            lambda: _has(redis, stream, "written", ["doomed:1", "rescuer:0"]),
            timeout_s=10,
            what="the re-delivery",
        )
        await wait_until(lambda: _pending_is(queue, 0), what="the ack")

    assert await trail(redis, stream, "started") == ["doomed", "rescuer"]  # ran twice...
    result = await ResultStore(redis, prefix=f"{stream}:result:").get(key)
    assert result == {"consumer": "doomed", "attempt": "1", "call": "CA" + "3" * 32}
    assert await redis.get(f"{stream}:count") == b"1"  # ...counted once
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.delayed, stats.dead) == (0, 0, 0, 0)


async def test_sigterm_finishes_the_job_in_hand_then_exits(
    redis: Redis, redis_url: str, stream: str, tmp_path: Path
) -> None:
    queue = JobQueue(redis, stream, GROUP)
    await enqueue_recording(queue)
    await queue.enqueue({"CallSid": "CA" + "5" * 32})
    log = tmp_path / "worker.log"

    with worker_process(redis_url, stream, "polite", log, before=0.5) as polite:
        await wait_until(
            lambda: _has(redis, stream, "started", ["polite"]), timeout_s=15, what="the start"
        )
        polite.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(polite.wait, 10)

    assert returncode == 0
    assert await trail(redis, stream, "written") == ["polite:1"]
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.delayed, stats.dead) == (1, 0, 0, 0)
    assert stats.consumers == 0
    output = log.read_text()
    assert "job done" in output and "worker stopped" in output


async def _has(redis: Redis, stream: str, name: str, expected: list[str]) -> bool:
    return await trail(redis, stream, name) == expected


async def _pending_is(queue: JobQueue, pending: int) -> bool:
    return (await queue.stats()).pending == pending
