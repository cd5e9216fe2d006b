"""The queue against a real Redis: delivery, acks, retries with backoff, dead letters, reclaim."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from ivr.jobs import Backoff, JobQueue, job_stats
from ivr.jobs.queue import Failure, sibling_key
from ivr.telephony.recording_events import RECORDINGS_STREAM, RecordingEvents
from tests.support.clock import FakeClock

pytestmark = pytest.mark.integration

GROUP = "workers"
NO_JITTER = Backoff(base_s=10.0, factor=2.0, max_s=600.0, jitter=0.0)


def make_queue(redis: Redis, stream: str, **options: object) -> JobQueue:
    return JobQueue(redis, stream, GROUP, **options)  # type: ignore[arg-type]


async def test_jobs_are_delivered_once_and_acked_once(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream)
    assert await queue.ensure_group() is True
    ids = [await queue.enqueue({"kind": "score", "n": str(n)}) for n in range(3)]

    jobs = await queue.claim("c1", count=10)

    assert [job.id for job in jobs] == ids
    assert [dict(job.fields) for job in jobs] == [{"kind": "score", "n": str(n)} for n in range(3)]
    assert [(job.key, job.attempt, job.consumer) for job in jobs] == [(i, 1, "c1") for i in ids]
    assert await queue.claim("c2", count=10) == []
    assert [await queue.ack(job) for job in jobs] == [True, True, True]
    assert [await queue.ack(job) for job in jobs] == [False, False, False]
    assert await redis.xlen(stream) == 0  # done entries are deleted
    assert await queue.claim("c1", count=10) == []


async def test_two_consumers_never_get_the_same_job(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream)
    await queue.ensure_group()
    ids = {await queue.enqueue({"n": str(n)}) for n in range(10)}

    seen: dict[str, list[str]] = {"c1": [], "c2": []}
    while batch := await queue.claim("c1", 3) + await queue.claim("c2", 3):
        for job in batch:
            seen[job.consumer].append(job.id)

    assert len(seen["c1"]) == 6 and len(seen["c2"]) == 4
    assert set(seen["c1"]).isdisjoint(seen["c2"])
    assert set(seen["c1"]) | set(seen["c2"]) == ids


async def test_entries_added_before_the_group_existed_are_work(redis: Redis, stream: str) -> None:
    early = await redis.xadd(stream, {"CallSid": "CA1"})
    queue = make_queue(redis, stream)

    assert await queue.ensure_group() is True
    assert await queue.ensure_group() is False
    jobs = await queue.claim("c1")

    assert [(job.id, dict(job.fields)) for job in jobs] == [(early.decode(), {"CallSid": "CA1"})]


async def test_recordings_queued_by_the_telephony_layer_are_jobs(redis: Redis) -> None:
    # The flushed test database is ours alone, so the real stream name is safe to use here.
    queue = make_queue(redis, RECORDINGS_STREAM)
    await queue.ensure_group()
    events = RecordingEvents(redis)
    entry = {"CallSid": "CA" + "1" * 32, "RecordingSid": "RE" + "2" * 32, "RecordingDuration": "93"}
    assert await events.enqueue("RE" + "2" * 32, entry) is True
    assert await events.enqueue("RE" + "2" * 32, entry) is False

    jobs = await queue.claim("c1", count=5)

    assert len(jobs) == 1
    assert dict(jobs[0].fields) == entry
    assert "kind" not in jobs[0].fields


async def test_enqueue_refuses_reserved_field_names(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream)
    with pytest.raises(ValueError, match=r"reserved names: \['_attempts'\]"):
        await queue.enqueue({"_attempts": "0", "a": "1"})
    with pytest.raises(ValueError, match="at least one field"):
        await queue.enqueue({})
    assert await redis.exists(stream) == 0


async def test_a_failed_job_waits_out_its_backoff_then_comes_back(
    redis: Redis, stream: str, clock: FakeClock
) -> None:
    queue = make_queue(redis, stream, backoff=NO_JITTER, clock=clock)
    await queue.ensure_group()
    job_id = await queue.enqueue({"CallSid": "CA1"}, key="RE1")
    (first,) = await queue.claim("c1")
    start = clock.now

    assert await queue.fail(first, "OSError: disk full") == Failure("retry", 1, start + 10.0)
    assert await redis.xlen(stream) == 0
    assert await redis.zcard(queue.delayed_key) == 1

    clock.advance(9.999)
    assert await queue.claim("c1") == []
    clock.advance(0.001)
    (second,) = await queue.claim("c2")

    assert second.id != job_id  # a retry is a new stream entry...
    assert (second.key, second.attempt, second.consumer) == ("RE1", 2, "c2")  # ...of the same job
    assert dict(second.fields) == {"CallSid": "CA1"}
    assert second.last_error == "OSError: disk full"
    assert await redis.zcard(queue.delayed_key) == 0

    # The second failure waits twice as long.
    assert await queue.fail(second, "OSError: disk full") == Failure("retry", 2, clock.now + 20.0)
    clock.advance(19.9)
    assert await queue.claim("c1") == []
    clock.advance(0.1)
    (third,) = await queue.claim("c1")
    assert (third.key, third.attempt) == ("RE1", 3)
    assert await queue.ack(third) is True


async def test_claim_waits_no_longer_than_the_next_retry(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream, backoff=Backoff(base_s=0.2, jitter=0.0))
    await queue.ensure_group()
    await queue.enqueue({"a": "1"})
    (job,) = await queue.claim("c1")
    await queue.fail(job, "boom")

    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await queue.claim("c1", block_ms=5000) == []  # blocks only until the retry is due
    waited = loop.time() - started
    (retry,) = await queue.claim("c1")

    assert 0.1 < waited < 1.0
    assert retry.attempt == 2


async def test_a_job_that_always_fails_is_dead_lettered_after_n_attempts(
    redis: Redis, stream: str, clock: FakeClock
) -> None:
    queue = make_queue(redis, stream, max_attempts=3, backoff=NO_JITTER, clock=clock)
    await queue.ensure_group()
    first_id = await queue.enqueue({"CallSid": "CA9", "kind": "transcribe"})

    outcomes = []
    for _ in range(3):
        (job,) = await queue.claim("c1")
        outcomes.append((job.attempt, await queue.fail(job, f"RuntimeError: try {job.attempt}")))
        clock.advance(1000)

    assert [(attempt, f.status, f.attempts) for attempt, f in outcomes] == [
        (1, "retry", 1),
        (2, "retry", 2),
        (3, "dead", 3),
    ]
    (letter,) = await queue.dead_letters()
    assert (letter.key, letter.attempts, letter.error) == (first_id, 3, "RuntimeError: try 3")
    assert dict(letter.fields) == {"CallSid": "CA9", "kind": "transcribe"}
    assert await queue.claim("c1", count=10) == []  # never retried again
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.delayed, stats.dead) == (0, 0, 0, 1)


async def test_a_dead_letter_can_be_put_back_with_fresh_attempts(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream, max_attempts=1)
    await queue.ensure_group()
    await queue.enqueue({"CallSid": "CA9"}, key="RE9")
    (job,) = await queue.claim("c1")
    assert (await queue.fail(job, "bug")).status == "dead"
    (letter,) = await queue.dead_letters()

    new_id = await queue.requeue_dead(letter.id)
    (again,) = await queue.claim("c1")

    assert again.id == new_id
    assert (again.key, again.attempt, dict(again.fields)) == ("RE9", 1, {"CallSid": "CA9"})
    assert await queue.dead_letters() == []
    assert await queue.requeue_dead(letter.id) is None


async def test_a_job_left_pending_is_reclaimed_after_the_visibility_timeout(
    redis: Redis, stream: str
) -> None:
    queue = make_queue(redis, stream, visibility_timeout_s=0.2)
    await queue.ensure_group()
    job_id = await queue.enqueue({"a": "1"})
    (lost,) = await queue.claim("c1")  # c1 "crashes": no ack, no fail

    assert await queue.claim("c2") == []  # not yet: c1 may still be working
    await asyncio.sleep(0.25)
    (taken,) = await queue.claim("c2")

    assert (taken.id, taken.key, taken.attempt, taken.consumer) == (job_id, job_id, 2, "c2")
    # The late original cannot fail the job out from under its new owner.
    assert await queue.fail(lost, "late") == Failure("stale", 0)
    assert await queue.extend(lost) is False
    assert await queue.ack(taken) is True
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.delayed, stats.dead) == (0, 0, 0, 0)


async def test_a_job_that_keeps_killing_its_workers_is_dead_lettered(
    redis: Redis, stream: str
) -> None:
    queue = make_queue(redis, stream, max_attempts=2, visibility_timeout_s=0.1)
    await queue.ensure_group()
    await queue.enqueue({"CallSid": "CA7"}, key="RE7")

    assert [job.attempt for job in await queue.claim("c1")] == [1]
    await asyncio.sleep(0.15)
    assert [job.attempt for job in await queue.claim("c2")] == [2]
    await asyncio.sleep(0.15)
    assert await queue.claim("c3") == []

    (letter,) = await queue.dead_letters()
    assert (letter.key, letter.attempts, dict(letter.fields)) == ("RE7", 2, {"CallSid": "CA7"})
    assert letter.error.startswith("abandoned: not acknowledged within the visibility timeout")
    assert (await queue.stats()).pending == 0


async def test_renewing_the_lease_keeps_a_long_job(redis: Redis, stream: str) -> None:
    queue = make_queue(redis, stream, visibility_timeout_s=0.3)
    await queue.ensure_group()
    await queue.enqueue({"a": "1"})
    (job,) = await queue.claim("c1")

    for _ in range(3):
        await asyncio.sleep(0.15)
        assert await queue.extend(job) is True
    assert await queue.claim("c2") == []  # 0.45 s since the claim, 0 s since the renewal

    await asyncio.sleep(0.35)
    (taken,) = await queue.claim("c2")
    assert (taken.id, taken.attempt) == (job.id, 2)
    assert await queue.extend(job) is False


async def test_an_entry_deleted_while_pending_is_dropped_on_reclaim(
    redis: Redis, stream: str
) -> None:
    queue = make_queue(redis, stream, visibility_timeout_s=0.1)
    await queue.ensure_group()
    job_id = await queue.enqueue({"a": "1"})
    await queue.claim("c1")
    await redis.xdel(stream, job_id)
    await asyncio.sleep(0.15)

    assert await queue.claim("c2") == []
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.dead) == (0, 0, 0)


async def test_stats_count_depth_pending_delayed_and_dead(
    redis: Redis, redis_url: str, stream: str
) -> None:
    queue = make_queue(redis, stream)
    once = make_queue(redis, stream, max_attempts=1)
    before = await queue.stats()
    assert (before.depth, before.pending, before.delayed, before.dead) == (0, 0, 0, 0)

    for n in range(6):
        await redis.xadd(stream, {"n": str(n)})
    stats = await queue.stats()  # no group yet: everything is depth
    assert (stats.depth, stats.pending, stats.consumers) == (6, 0, 0)

    await queue.ensure_group()
    first, second, third = await queue.claim("c1", count=3)
    stats = await queue.stats()
    assert (stats.depth, stats.pending, stats.delayed, stats.dead) == (3, 3, 0, 0)

    assert (await queue.fail(first, "boom")).status == "retry"
    assert (await once.fail(second, "boom")).status == "dead"
    assert await queue.ack(third) is True

    expected = {
        "stream": stream,
        "group": GROUP,
        "depth": 3,
        "pending": 0,
        "delayed": 1,
        "dead": 1,
        "consumers": 1,
    }
    assert (await queue.stats()).as_dict() == expected
    assert await job_stats(redis_url, stream, GROUP) == expected


def test_derived_keys_share_the_streams_cluster_slot() -> None:
    assert sibling_key("warmline:recordings", "dead") == "{warmline:recordings}:dead"
    assert sibling_key("{tenant7}:jobs", "delayed") == "{tenant7}:jobs:delayed"
    assert sibling_key("odd{}name", "dead") == "{odd{}name}:dead"
