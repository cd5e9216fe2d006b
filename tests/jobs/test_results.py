"""Write-once results: two deliveries of one job leave one result and count once."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from ivr.jobs import JobQueue, ResultStore

pytestmark = pytest.mark.integration


async def test_a_second_write_changes_nothing(redis: Redis, stream: str) -> None:
    results = ResultStore(redis, prefix=f"{stream}:result:")
    billed = f"{stream}:billed"

    first = await results.write_once("RE1", {"score": "87"}, counters={billed: 1})
    second = await results.write_once("RE1", {"score": "12"}, counters={billed: 1})

    assert (first, second) == (True, False)
    assert await results.get("RE1") == {"score": "87"}
    assert await redis.get(billed) == b"1"
    assert await results.get("RE2") is None
    assert await redis.ttl(results.result_key("RE1")) == -1  # kept by default


async def test_racing_writers_store_exactly_one_result(redis: Redis, stream: str) -> None:
    results = ResultStore(redis, prefix=f"{stream}:result:")
    counters = {f"{stream}:calls": 1, f"{stream}:seconds": 93}

    written = await asyncio.gather(
        *(results.write_once("RE1", {"by": str(n)}, counters=counters) for n in range(20))
    )

    assert written.count(True) == 1
    winner = written.index(True)
    assert await results.get("RE1") == {"by": str(winner)}
    assert await redis.mget([f"{stream}:calls", f"{stream}:seconds"]) == [b"1", b"93"]


async def test_results_can_expire(redis: Redis, stream: str) -> None:
    results = ResultStore(redis, prefix=f"{stream}:result:", ttl_s=60)
    assert await results.write_once("RE1", {"a": "1"}) is True
    assert 55 <= await redis.ttl(results.result_key("RE1")) <= 60
    with pytest.raises(ValueError, match="at least one field"):
        await results.write_once("RE2", {})


async def test_two_deliveries_of_one_job_produce_one_result(redis: Redis, stream: str) -> None:
    queue = JobQueue(redis, stream, "workers", visibility_timeout_s=0.1)
    await queue.ensure_group()
    await queue.enqueue({"CallSid": "CA1", "RecordingDuration": "93"}, key="RE1")
    results = ResultStore(redis, prefix=f"{stream}:result:")
    minutes = f"{stream}:minutes"

    async def handle(consumer: str) -> bool:
        (job,) = await queue.claim(consumer)
        seconds = int(job.fields["RecordingDuration"])
        return await results.write_once(
            job.key, {"by": consumer, "attempt": str(job.attempt)}, counters={minutes: seconds}
        )

    assert await handle("c1") is True  # c1 does the work, then dies before its ack
    await asyncio.sleep(0.15)
    assert await handle("c2") is False  # the re-delivery finds the result already there

    assert await results.get("RE1") == {"by": "c1", "attempt": "1"}
    assert await redis.get(minutes) == b"93"
