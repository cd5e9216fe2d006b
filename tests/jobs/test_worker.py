"""The worker loop in-process: handlers by kind, acks, retries, dead letters, stopping."""

from __future__ import annotations

import asyncio
import itertools
import logging
import pickle
import time
from collections import Counter

import pytest
from redis.asyncio import Redis

from ivr.jobs import Backoff, Handler, Job, JobQueue, PermanentJobError, Worker, blocking_handler
from tests.jobs.conftest import running, wait_until

pytestmark = pytest.mark.integration

GROUP = "workers"


def make_queue(redis: Redis, stream: str, **options: object) -> JobQueue:
    return JobQueue(redis, stream, GROUP, **options)  # type: ignore[arg-type]


async def test_every_job_runs_once_and_is_acked(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream)
    await queue.ensure_group()
    keys = [await queue.enqueue({"kind": "score", "n": str(n)}) for n in range(5)]
    handled: list[tuple[str, int]] = []

    async def score(job: Job) -> None:
        handled.append((job.key, job.attempt))

    worker = Worker(queue, {"score": score}, "w1", poll_ms=50)
    async with running(worker):
        await wait_until(lambda: _true(len(handled) == 5), what="5 jobs")
        await wait_until(lambda: _stats_are(queue, depth=0, pending=0), what="acks")

    assert sorted(handled) == sorted((key, 1) for key in keys)
    assert await redis.xlen(stream) == 0


async def test_two_workers_drain_one_queue_without_running_a_job_twice(
    redis: Redis, stream: str
) -> None:
    queue_a, queue_b = make_queue(redis, stream), make_queue(redis, stream)
    await queue_a.ensure_group()
    keys = [await queue_a.enqueue({"kind": "score", "n": str(n)}) for n in range(30)]
    runs: list[tuple[str, str]] = []

    def handler(consumer: str) -> Handler:
        async def score(job: Job) -> None:
            await asyncio.sleep(0.01)
            runs.append((consumer, job.key))

        return score

    workers = [
        Worker(queue_a, {"score": handler("a")}, "a", concurrency=2, poll_ms=50),
        Worker(queue_b, {"score": handler("b")}, "b", concurrency=2, poll_ms=50),
    ]
    async with running(*workers):
        await wait_until(lambda: _true(len(runs) >= 30), what="30 runs")
        await wait_until(lambda: _stats_are(queue_a, depth=0, pending=0), what="acks")

    per_job = Counter(key for _, key in runs)
    assert sorted(per_job) == sorted(keys)
    assert set(per_job.values()) == {1}
    per_worker = Counter(consumer for consumer, _ in runs)
    assert per_worker["a"] + per_worker["b"] == 30
    assert per_worker["a"] > 0 and per_worker["b"] > 0


async def test_a_failing_job_is_retried_with_backoff_then_dead_lettered(
    redis: Redis, stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    backoff = Backoff(base_s=0.1, factor=2.0, jitter=0.0)
    queue = make_queue(redis, stream, max_attempts=3, backoff=backoff)
    await queue.ensure_group()
    key = await queue.enqueue({"kind": "call", "From": "+15125550123"})
    calls: list[float] = []

    async def call(job: Job) -> None:
        calls.append(time.monotonic())
        raise ValueError(f"caller {job.fields['From']} declined")

    caplog.set_level(logging.INFO, logger="ivr.jobs")
    async with running(Worker(queue, {"call": call}, "w1", poll_ms=50)):
        await wait_until(lambda: _stats_are(queue, dead=1), what="a dead letter")
        await asyncio.sleep(0.4)  # longer than any backoff left: nothing more may run

    assert len(calls) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert gaps[0] >= 0.1 - 0.005 and gaps[1] >= 0.2 - 0.005  # waits respected
    assert gaps[0] < 0.4 and gaps[1] < 0.5  # and not much longer
    (letter,) = await queue.dead_letters()
    assert (letter.key, letter.attempts) == (key, 3)
    assert letter.error == "ValueError: caller +1••••••0123 declined"
    assert dict(letter.fields) == {"kind": "call", "From": "+15125550123"}
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.delayed, stats.dead) == (0, 0, 0, 1)
    logged = "\n".join(
        f"{record.getMessage()} {getattr(record, 'warmline_fields', '')}"
        for record in caplog.records
    )
    assert logged.count("job failed") == 3
    assert "5125550123" not in logged and "Traceback" not in logged


async def test_a_handler_that_overruns_its_timeout_fails(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream, max_attempts=1)
    await queue.ensure_group()
    await queue.enqueue({"kind": "slow"})

    async def slow(job: Job) -> None:
        await asyncio.sleep(10)

    worker = Worker(queue, {"slow": slow}, "w1", handler_timeout_s=0.1, poll_ms=50)
    async with running(worker):
        await wait_until(lambda: _stats_are(queue, dead=1), what="a dead letter")

    (letter,) = await queue.dead_letters()
    assert letter.error == "TimeoutError: handler took longer than 0.1 s"


async def test_kinds_pick_handlers_and_recordings_need_no_kind(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream, max_attempts=1)
    await queue.ensure_group()
    await queue.enqueue({"RecordingSid": "RE1"})
    await queue.enqueue({"kind": "score", "CallSid": "CA1"})
    await queue.enqueue({"kind": "mystery"})
    seen: list[tuple[str, dict[str, str]]] = []

    async def recording(job: Job) -> None:
        seen.append(("recording", dict(job.fields)))

    async def score(job: Job) -> None:
        seen.append(("score", dict(job.fields)))

    worker = Worker(queue, {"recording": recording, "score": score}, "w1", poll_ms=50)
    async with running(worker):
        await wait_until(lambda: _stats_are(queue, pending=0, depth=0, dead=1), what="all jobs")

    assert seen == [
        ("recording", {"RecordingSid": "RE1"}),
        ("score", {"kind": "score", "CallSid": "CA1"}),
    ]
    (letter,) = await queue.dead_letters()
    assert letter.error == "PermanentJobError: no handler for kind 'mystery'"


async def test_stopping_finishes_the_job_in_hand_and_claims_no_more(
    redis: Redis, stream: str
) -> None:
    queue = make_queue(redis, stream)
    await queue.ensure_group()
    first = await queue.enqueue({"kind": "work", "n": "1"})
    await queue.enqueue({"kind": "work", "n": "2"})
    started = asyncio.Event()
    finished: list[str] = []

    async def work(job: Job) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(job.key)

    stop = asyncio.Event()
    task = asyncio.create_task(Worker(queue, {"work": work}, "w1", poll_ms=50).run(stop))
    await asyncio.wait_for(started.wait(), timeout=5)
    stop.set()
    await asyncio.wait_for(task, timeout=5)

    assert finished == [first]
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.delayed, stats.dead) == (1, 0, 0, 0)
    assert stats.consumers == 0  # a worker that stops cleanly leaves no consumer behind


async def test_a_long_job_keeps_its_lease_while_another_worker_waits(
    redis: Redis, stream: str
) -> None:
    queue_a, queue_b = (make_queue(redis, stream, visibility_timeout_s=0.3) for _ in range(2))
    await queue_a.ensure_group()
    await queue_a.enqueue({"kind": "long"})
    runs: list[str] = []

    def handler(consumer: str) -> Handler:
        async def long(job: Job) -> None:
            runs.append(consumer)
            await asyncio.sleep(1.0)  # over three visibility timeouts

        return long

    worker_a = Worker(queue_a, {"long": handler("a")}, "a", poll_ms=50)
    worker_b = Worker(queue_b, {"long": handler("b")}, "b", poll_ms=50)
    async with running(worker_a):
        await wait_until(lambda: _true(runs == ["a"]), what="a to start")
        async with running(worker_b):
            await wait_until(lambda: _stats_are(queue_a, pending=0), what="the ack")

    assert runs == ["a"]
    assert (await queue_a.stats()).dead == 0


async def test_blocking_work_runs_off_the_event_loop(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream)
    await queue.ensure_group()
    await queue.enqueue({"kind": "cpu"})
    done: list[str] = []

    def transcribe(job: Job) -> None:
        time.sleep(0.3)  # stands in for a Whisper pass
        done.append(job.key)

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    async with running(Worker(queue, {"cpu": blocking_handler(transcribe)}, "w1", poll_ms=50)):
        await wait_until(lambda: _true(len(done) == 1), what="the job")
    ticking.cancel()

    assert ticks >= 10  # the loop kept turning while the job slept
    assert (await queue.stats()).pending == 0
    job = Job(id="1-0", key="RE1", fields={"a": "1"}, attempt=2, consumer="w1")
    assert pickle.loads(pickle.dumps(job)) == job  # noqa: S301 - our own object; process pools pickle jobs


async def _true(value: bool) -> bool:
    return value


async def _stats_are(queue: JobQueue, **expected: int) -> bool:
    stats = (await queue.stats()).as_dict()
    return all(stats[name] == value for name, value in expected.items())


async def test_a_worker_recreates_a_deleted_stream_and_group(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream)
    done: list[str] = []

    async def work(job: Job) -> None:
        done.append(job.fields["n"])

    async with running(Worker(queue, {"work": work}, "w1", poll_ms=50)):
        await wait_until(lambda: _exists(redis, stream), what="the group")
        await redis.delete(stream)  # an operator wipes the queue under a running worker
        await queue.enqueue({"kind": "work", "n": "1"})  # re-creates the stream, not the group
        await wait_until(lambda: _true(done == ["1"]), what="the job")

    assert (await queue.stats()).pending == 0


async def _exists(redis: Redis, key: str) -> bool:
    return bool(await redis.exists(key))


async def test_a_job_no_retry_can_help_is_dead_lettered_at_once(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream, max_attempts=5)
    await queue.ensure_group()
    await queue.enqueue({"kind": "parse"})
    await queue.enqueue({"kind": "no-such-kind"})
    calls: list[str] = []

    async def parse(job: Job) -> None:
        calls.append(job.id)
        raise PermanentJobError("recording job without RecordingUrl")

    async with running(Worker(queue, {"parse": parse}, "w1", poll_ms=50)):
        await wait_until(lambda: _stats_are(queue, dead=2), what="two dead letters")

    assert len(calls) == 1  # not retried
    letters = sorted(await queue.dead_letters(), key=lambda letter: letter.error)
    assert [(letter.attempts, letter.error) for letter in letters] == [
        (1, "PermanentJobError: no handler for kind 'no-such-kind'"),
        (1, "PermanentJobError: recording job without RecordingUrl"),
    ]
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.delayed, stats.dead) == (0, 0, 0, 2)
