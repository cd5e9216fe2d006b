"""Idempotent results: a job delivered twice writes its result, and its side effects, once.

The queue delivers at least once — a worker that dies after doing the work but before the ack
means the work is done again. So the result and every counter it moves are written in one Lua
script that first checks whether the result already exists: the second delivery finds it and
changes nothing. (Marking "started" first and writing later would not do: a crash between the
two would leave a mark and no result, and the job would never complete.)

Results in a SQL database follow the same rule with a unique constraint on the job's key
(``INSERT ... ON CONFLICT DO NOTHING`` in the same transaction as the side effects).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, cast

from redis.asyncio import Redis

from ivr.jobs.job import text

# KEYS: result hash, then counter keys. ARGV: ttl_s (0: none), field count, fields..., increments...
_WRITE_ONCE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + n))
if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
for i = 2, #KEYS do redis.call('INCRBY', KEYS[i], ARGV[2 + n + i - 1]) end
return 1
"""


class ResultStore:
    """Write-once result hashes under ``prefix`` + job key.

    ``ttl_s`` must outlive every possible re-delivery of a job (its retries included); by
    default results are kept. In Redis Cluster, counter keys must share the result key's slot
    (use a ``{hash tag}`` in the prefix and the counter names).
    """

    def __init__(
        self, redis: Redis, prefix: str = "warmline:result:", ttl_s: int | None = None
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s or 0
        self._script = redis.register_script(_WRITE_ONCE)

    def result_key(self, key: str) -> str:
        return self._prefix + key

    async def write_once(
        self,
        key: str,
        result: Mapping[str, str],
        *,
        counters: Mapping[str, int] | None = None,
    ) -> bool:
        """Store ``result`` for job ``key`` and add ``counters`` (key → increment), all or none.

        True if this call wrote it; False if a result for ``key`` was already there, in which
        case nothing changed.
        """
        if not result:
            raise ValueError("a result needs at least one field")
        counters = counters or {}
        flat = [item for pair in result.items() for item in pair]
        written = await self._script(
            keys=[self.result_key(key), *counters],
            args=[self._ttl_s, len(flat), *flat, *counters.values()],
        )
        return bool(written)

    async def get(self, key: str) -> dict[str, str] | None:
        """The stored result for job ``key``, or None."""
        reply = self._redis.hgetall(self.result_key(key))
        stored = await cast(Awaitable[dict[Any, Any]], reply)
        return {text(k): text(v) for k, v in stored.items()} or None
