"""A reliable work queue on one Redis stream and one consumer group.

Where a job can be, and what moves it (each move is one atomic step):

- **new** — an entry in the stream not yet delivered to the group (``enqueue``, or an entry
  someone else added, such as the recordings the telephony layer queues);
- **pending** — delivered to one consumer and not acknowledged (``claim``); if that consumer
  does not ack, fail or extend it within the visibility timeout, the next ``claim`` by any
  consumer takes it over, and that counts as an attempt;
- **delayed** — failed, waiting in a sorted set scored by due time for its retry (``fail``);
  ``claim`` re-adds due jobs to the stream as new entries;
- **dead** — failed ``max_attempts`` times, kept in the dead-letter stream with its fields,
  attempts and last error (``fail``, or ``claim`` when a job keeps killing its workers);
- **done** — acknowledged and deleted from the stream (``ack``).

Entries are deleted when they are done, so the stream holds only new and pending work; the
stream therefore belongs to this one group (give another consumer of the same events its own
stream).
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from ivr.jobs import scripts
from ivr.jobs.backoff import Backoff
from ivr.jobs.job import (
    ERROR_FIELD,
    ID_FIELD,
    KEY_FIELD,
    RESERVED_FIELDS,
    DeadLetter,
    Job,
    flat_pairs,
    make_job,
    prior_attempts,
    split_fields,
    text,
)

FailStatus = Literal["retry", "dead", "stale", "gone"]

# How many due retries one claim moves back into the stream; the rest follow on the next claim.
_PROMOTE_BATCH = 100
_SYSTEM_RANDOM = secrets.SystemRandom()
_ABANDONED = "abandoned: not acknowledged within the visibility timeout (worker died or stalled)"


def sibling_key(stream: str, suffix: str) -> str:
    """A key that lives in the same Redis Cluster hash slot as ``stream``.

    The scripts touch the stream, its delayed set and its dead letters together, which a cluster
    only allows within one slot. A key without a ``{hash tag}`` hashes as a whole, so
    ``{warmline:recordings}:dead`` lands in the slot of ``warmline:recordings``.
    """
    start = stream.find("{")
    if start != -1 and stream.find("}", start + 2) != -1:
        return f"{stream}:{suffix}"
    return f"{{{stream}}}:{suffix}"


@dataclass(frozen=True)
class Failure:
    """What ``fail`` did: ``retry`` (scheduled, ``retry_at`` epoch seconds), ``dead`` (sent to
    the dead letters), ``stale`` (another consumer owns the job now; nothing changed) or ``gone``
    (the entry was deleted under us; acked away)."""

    status: FailStatus
    attempts: int
    retry_at: float | None = None


@dataclass(frozen=True)
class QueueStats:
    """``depth``: not yet delivered; ``pending``: delivered, not yet done; ``delayed``: waiting
    for a retry; ``dead``: gave up; ``consumers``: consumer names the group knows."""

    stream: str
    group: str
    depth: int
    pending: int
    delayed: int
    dead: int
    consumers: int

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


class JobQueue:
    """Enqueue, claim, ack and fail jobs on ``stream`` for consumer group ``group``.

    Safe to share between tasks of one process and to use from any number of processes: all
    coordination is in Redis. ``clock`` (epoch seconds) and ``random`` are injectable so tests
    can step through backoff schedules; worker machines' clocks only need to be NTP-close, since
    they only decide when a retry is due.
    """

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        *,
        max_attempts: int = 5,
        backoff: Backoff | None = None,
        visibility_timeout_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _SYSTEM_RANDOM.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if visibility_timeout_s <= 0:
            raise ValueError("visibility_timeout_s must be positive")
        self._redis = redis
        self.stream = stream
        self.group = group
        self.delayed_key = sibling_key(stream, "delayed")
        self.dead_stream = sibling_key(stream, "dead")
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff()
        self.visibility_timeout_s = visibility_timeout_s
        self._clock = clock
        self._random = random
        self._cursor = "0-0"
        self._promote = redis.register_script(scripts.PROMOTE)
        self._reclaim = redis.register_script(scripts.RECLAIM)
        self._fail = redis.register_script(scripts.FAIL)
        self._extend = redis.register_script(scripts.EXTEND)
        self._retire = redis.register_script(scripts.RETIRE)
        self._requeue = redis.register_script(scripts.REQUEUE_DEAD)

    async def ensure_group(self) -> bool:
        """Create the stream and the group if missing; True if this call created the group.

        The group starts at ``0``, not ``$``: entries added before the first worker ever ran
        (recordings queued while no worker was up) are work too.
        """
        try:
            await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return False
        return True

    async def enqueue(self, fields: Mapping[str, str], *, key: str | None = None) -> str:
        """Add a job; returns its stream id. ``key`` (default: that id) names it for results."""
        clash = RESERVED_FIELDS.intersection(fields)
        if clash:
            raise ValueError(f"job fields may not use reserved names: {sorted(clash)}")
        entry: dict[str, str] = dict(fields)
        if key is not None:
            entry[KEY_FIELD] = key
        if not entry:
            raise ValueError("a job needs at least one field")
        return text(await self._redis.xadd(self.stream, cast(Any, entry)))

    async def claim(self, consumer: str, count: int = 1, block_ms: int = 0) -> list[Job]:
        """Up to ``count`` jobs for ``consumer``: first due retries are put back on the stream,
        then jobs abandoned past the visibility timeout are taken over, then new entries are
        read — waiting up to ``block_ms`` (never past the next due retry) if there are none.
        """
        now_ms = self._clock() * 1000
        _, next_due = await self._promote(
            keys=[self.stream, self.delayed_key], args=[repr(now_ms), _PROMOTE_BATCH]
        )
        jobs = await self._take_abandoned(consumer, count)
        missing = count - len(jobs)
        if missing <= 0:
            return jobs
        block: int | None = None
        if not jobs and block_ms > 0:
            block = block_ms
            if next_due is not None:
                block = max(1, min(block, math.ceil(float(next_due) - now_ms)))
        reply = await self._redis.xreadgroup(
            self.group, consumer, {self.stream: ">"}, count=missing, block=block
        )
        for entry_id, entry_fields in _stream_entries(reply):
            if entry_fields is None:
                continue
            pairs = list(entry_fields.items())
            _, reserved = split_fields(pairs)
            jobs.append(make_job(entry_id, pairs, prior_attempts(reserved) + 1, consumer))
        return jobs

    async def _take_abandoned(self, consumer: str, count: int) -> list[Job]:
        min_idle_ms = max(1, round(self.visibility_timeout_s * 1000))
        cursor, found = await self._reclaim(
            keys=[self.stream, self.dead_stream],
            args=[
                self.group, consumer, min_idle_ms, self._cursor, count, self.max_attempts,
                _ABANDONED,
            ],
        )  # fmt: skip
        self._cursor = text(cursor)
        return [
            make_job(text(entry_id), flat_pairs(flat), int(attempt), consumer)
            for entry_id, attempt, flat in found
        ]

    async def ack(self, job: Job, *more: Job) -> bool:
        """The jobs are done: acknowledge and delete their entries in one step. False if none
        was still pending (all were already done)."""
        ids = [job.id, *(other.id for other in more)]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, self.group, *ids)
            pipe.xdel(self.stream, *ids)
            acked, _ = await pipe.execute()
        return bool(acked)

    async def fail(self, job: Job, error: str, *, retry: bool = True) -> Failure:
        """One attempt failed: schedule a retry with backoff, or dead-letter it after the last
        (at once with ``retry=False``, for a job no retry can help).

        ``error`` is stored as given (the worker masks it first). The attempt number is read
        from Redis inside the script, so a delivery count raised by a reclaim is honoured.
        """
        retry_at = self._clock() + self.backoff.delay_s(job.attempt, self._random())
        status, attempts = await self._fail(
            keys=[self.stream, self.delayed_key, self.dead_stream],
            args=[
                self.group,
                job.id,
                job.consumer,
                error,
                repr(retry_at * 1000),
                self.max_attempts if retry else 0,
            ],
        )
        result = cast(FailStatus, text(status))
        return Failure(result, int(attempts), retry_at if result == "retry" else None)

    async def extend(self, job: Job) -> bool:
        """Renew the job's lease (reset its idle time); False if another consumer took it."""
        return bool(await self._extend(keys=[self.stream], args=[self.group, job.id, job.consumer]))

    async def retire_consumer(self, consumer: str) -> bool:
        """Forget ``consumer`` in the group if nothing is pending for it."""
        return bool(await self._retire(keys=[self.stream], args=[self.group, consumer]))

    async def stats(self) -> QueueStats:
        """Depth, pending, delayed and dead counts, for ``warmline jobs`` and monitoring.

        Depth is the group's ``lag`` where Redis reports it (7.0+); on 6.2, or when Redis cannot
        compute it, it is the stream length minus pending, which holds because done entries
        are deleted.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.stream)
            pipe.zcard(self.delayed_key)
            pipe.xlen(self.dead_stream)
            length, delayed, dead = await pipe.execute()
        groups: list[dict[str, Any]] = []
        if length or await self._redis.exists(self.stream):
            groups = await self._redis.xinfo_groups(self.stream)
        info = next((g for g in groups if text(g["name"]) == self.group), None)
        pending = int(info["pending"]) if info else 0
        lag = info.get("lag") if info else None
        depth = int(lag) if lag is not None else max(int(length) - pending, 0)
        return QueueStats(
            stream=self.stream,
            group=self.group,
            depth=depth,
            pending=pending,
            delayed=int(delayed),
            dead=int(dead),
            consumers=int(info["consumers"]) if info else 0,
        )

    async def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The oldest ``count`` dead letters."""
        entries = await self._redis.xrange(self.dead_stream, count=count)
        letters = []
        for raw_id, raw_fields in entries:
            own, reserved = split_fields(raw_fields.items())
            letters.append(
                DeadLetter(
                    id=text(raw_id),
                    key=reserved.get(KEY_FIELD, ""),
                    job_id=reserved.get(ID_FIELD, ""),
                    fields=own,
                    attempts=prior_attempts(reserved),
                    error=reserved.get(ERROR_FIELD, ""),
                )
            )
        return letters

    async def requeue_dead(self, dead_id: str) -> str | None:
        """Put a dead letter back on the stream with fresh attempts (after fixing the cause);
        returns the new stream id, or None if there is no such dead letter."""
        new_id = await self._requeue(keys=[self.stream, self.dead_stream], args=[dead_id])
        return None if new_id is None else text(new_id)


def _stream_entries(reply: Any) -> list[tuple[str, Mapping[Any, Any] | None]]:
    """XREADGROUP's reply for one stream (RESP2 list or RESP3 dict) → [(id, fields)]."""
    if not reply:
        return []
    streams = reply.values() if isinstance(reply, dict) else [item[1] for item in reply]
    return [(text(entry_id), fields) for entries in streams for entry_id, fields in entries]
