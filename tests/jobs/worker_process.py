"""A ``warmline worker``-like process for the crash tests: ``python -m tests.jobs.worker_process``.

Its handler leaves a trail in Redis — ``<stream>:started`` (consumer names, as each delivery
starts) and ``<stream>:written`` (``consumer:1`` if its write-once result was stored, ``:0`` if a
result was already there) — and can hold still before or after writing, so a test can kill it
at either point.
"""

from __future__ import annotations

import argparse
import asyncio

from redis.asyncio import Redis

from ivr.jobs import Handler, Job, ResultStore, run_worker
from ivr.logs import configure


def make_handler(
    redis: Redis, stream: str, consumer: str, hold_before_s: float = 0.0, hold_after_s: float = 0.0
) -> Handler:
    results = ResultStore(redis, prefix=f"{stream}:result:")

    async def handle(job: Job) -> None:
        await redis.rpush(f"{stream}:started", consumer)
        await asyncio.sleep(hold_before_s)
        written = await results.write_once(
            job.key,
            {"consumer": consumer, "attempt": str(job.attempt), "call": job.fields["CallSid"]},
            counters={f"{stream}:count": 1},
        )
        await redis.rpush(f"{stream}:written", f"{consumer}:{int(written)}")
        await asyncio.sleep(hold_after_s)

    return handle


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--consumer", required=True)
    parser.add_argument("--visibility", type=float, default=1.0)
    parser.add_argument("--hold-before", type=float, default=0.0)
    parser.add_argument("--hold-after", type=float, default=0.0)
    args = parser.parse_args()
    configure()
    redis = Redis.from_url(args.redis_url)
    try:
        handler = make_handler(redis, args.stream, args.consumer, args.hold_before, args.hold_after)
        await run_worker(
            args.redis_url,
            args.stream,
            args.group,
            {"recording": handler},
            consumer=args.consumer,
            visibility_timeout_s=args.visibility,
            poll_ms=100,
        )
    finally:
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
