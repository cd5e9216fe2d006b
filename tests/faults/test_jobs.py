"""A job that fails every time: one dead letter with its last error, and no result counted.

The other job faults are covered in ``tests/jobs``: in ``test_worker_crash.py``, a worker
process killed mid-job (``test_a_job_killed_mid_work_is_reclaimed_and_completes_once``) and
killed between its result and its ack
(``test_a_job_killed_after_its_result_but_before_its_ack_counts_once``); in ``test_worker.py``,
retries with backoff ending in a dead letter
(``test_a_failing_job_is_retried_with_backoff_then_dead_lettered``). This adds
the results' side: a job that never succeeds leaves the result counters as they were, while a
good job beside it is counted once.
"""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from ivr.jobs import Backoff, Job, JobQueue, ResultStore, Worker
from tests.jobs.conftest import running, wait_until

pytestmark = pytest.mark.integration

ATTEMPTS = 3


async def test_a_job_that_always_fails_is_dead_lettered_once_and_never_counted(
    redis: Redis,
) -> None:
    stream = f"test:faults:{uuid.uuid4().hex[:12]}"
    queue = JobQueue(
        redis, stream, "workers", max_attempts=ATTEMPTS, backoff=Backoff(base_s=0.05, jitter=0.0)
    )
    results = ResultStore(redis, prefix=f"{stream}:result:")
    counter = f"{stream}:count"
    await queue.ensure_group()
    await queue.enqueue({"kind": "score", "call": "bad"}, key="job-bad")
    await queue.enqueue({"kind": "score", "call": "good"}, key="job-good")
    tries: list[str] = []

    async def score(job: Job) -> None:
        tries.append(job.fields["call"])
        if job.fields["call"] == "bad":
            raise ValueError(f"scorer unavailable on attempt {job.attempt}")
        await results.write_once(job.key, {"score": "70"}, counters={counter: 1})

    async def settled() -> bool:
        stats = await queue.stats()
        return (stats.dead, stats.depth, stats.pending, stats.delayed) == (1, 0, 0, 0)

    async with running(Worker(queue, {"score": score}, "w1", poll_ms=20)):
        await wait_until(settled, timeout_s=20, what="one dead letter and nothing else left")

    assert tries.count("bad") == ATTEMPTS and tries.count("good") == 1
    (letter,) = await queue.dead_letters()
    assert (letter.key, letter.attempts) == ("job-bad", ATTEMPTS)
    assert letter.error == f"ValueError: scorer unavailable on attempt {ATTEMPTS}"  # the last
    assert await results.get("job-bad") is None
    assert await results.get("job-good") == {"score": "70"}
    assert await redis.get(counter) == b"1"  # the good job only
