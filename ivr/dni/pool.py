"""A campaign's web number pool in Redis: one number per live web visit, leased atomically.

Every lease runs one Lua script, so concurrent visits (on any number of servers) never share a
number: it first returns expired leases' numbers to the pool, then renews the visit's own live
lease, else hands out the least recently used free number, else counts the pool as exhausted
(the caller shows the campaign's default number). Time is an argument (``now``), never Redis's
or the script's clock, so tests move it instead of sleeping.

Keys, one set per campaign (``{campaign}`` is a Redis Cluster hash tag: one slot per pool)::

    dni:{c}:leases     zset  number -> lease expiry (epoch seconds)
    dni:{c}:used       zset  number -> when it was last leased, renewed or freed (LRU order)
    dni:{c}:owners     hash  number -> visit id
    dni:{c}:visits     hash  visit id -> number
    dni:{c}:data       hash  number -> the visit's data (JSON of VisitAttribution)
    dni:{c}:exhausted  counter of leases refused because every number was taken
    dni:{c}:asks:<h>   lease requests from one client address (hashed) in a 10-minute window

The first five hold at most one entry per pool number; the address counters expire.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError
from redis.asyncio import Redis

from ivr.engine.state import VisitAttribution

LeaseOutcome = Literal["leased", "renewed", "exhausted"]

LEASE_SCRIPT = """
local leases, used, owners, visits, data = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, ttl, visit = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]

local function release(number)
  local owner = redis.call('HGET', owners, number)
  if owner and redis.call('HGET', visits, owner) == number then
    redis.call('HDEL', visits, owner)
  end
  redis.call('ZREM', leases, number)
  redis.call('HDEL', owners, number)
  redis.call('HDEL', data, number)
end

local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'WITHSCORES')
for i = 1, #expired, 2 do
  release(expired[i])
  redis.call('ZADD', used, expired[i + 1], expired[i])
end

local pool = {}
for i = 5, #ARGV do pool[ARGV[i]] = true end

local mine = redis.call('HGET', visits, visit)
if mine then
  if pool[mine] and redis.call('HGET', owners, mine) == visit then
    redis.call('ZADD', leases, now + ttl, mine)
    redis.call('ZADD', used, now, mine)
    return {mine, 'renewed'}
  end
  release(mine)
  redis.call('HDEL', visits, visit)
end

local best, best_used = nil, nil
for i = 5, #ARGV do
  local number = ARGV[i]
  if not redis.call('ZSCORE', leases, number) then
    local last = tonumber(redis.call('ZSCORE', used, number) or '0')
    if best == nil or last < best_used then
      best, best_used = number, last
    end
  end
end
if best == nil then
  redis.call('INCR', KEYS[6])
  return {'', 'exhausted'}
end
redis.call('ZADD', leases, now + ttl, best)
redis.call('ZADD', used, now, best)
redis.call('HSET', owners, best, visit)
redis.call('HSET', visits, visit, best)
redis.call('HSET', data, best, ARGV[4])
return {best, 'leased'}
"""

LOOKUP_SCRIPT = """
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if expires and tonumber(expires) > tonumber(ARGV[2]) then
  return redis.call('HGET', KEYS[2], ARGV[1])
end
return false
"""


@dataclass(frozen=True)
class Lease:
    """The answer to a visit: its number until ``expires_at``, or exhausted (no number)."""

    number: str | None
    outcome: LeaseOutcome
    expires_at: float


def _keys(campaign: str) -> dict[str, str]:
    base = f"dni:{{{campaign}}}"
    names = ("leases", "used", "owners", "visits", "data", "exhausted")
    return {name: f"{base}:{name}" for name in names}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class NumberPool:
    """Leases and looks up web pool numbers; one instance serves every campaign."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._lease = redis.register_script(LEASE_SCRIPT)
        self._lookup = redis.register_script(LOOKUP_SCRIPT)

    async def lease(
        self,
        campaign: str,
        numbers: Sequence[str],
        visit: VisitAttribution,
        now: float,
        lease_s: int,
    ) -> Lease:
        """The visit's live lease renewed, else a free number leased to it with its data.

        ``numbers``: the campaign's pool as the deployment lists it now (a number dropped from
        the file is never handed out again; its live lease still attributes its calls).
        """
        keys = _keys(campaign)
        order = ("leases", "used", "owners", "visits", "data", "exhausted")
        args: list[str | float | int] = [now, lease_s, visit.visit_id, visit.model_dump_json()]
        answer = await self._lease(keys=[keys[k] for k in order], args=[*args, *numbers])
        number, outcome = _text(answer[0]), _text(answer[1])
        if outcome == "exhausted":
            return Lease(None, "exhausted", now)
        return Lease(number, "renewed" if outcome == "renewed" else "leased", now + lease_s)

    async def visit(self, campaign: str, number: str, now: float) -> VisitAttribution | None:
        """The visit ``number`` is leased to at ``now``; None when it is free or expired."""
        keys = _keys(campaign)
        found = await self._lookup(keys=[keys["leases"], keys["data"]], args=[number, now])
        if not found:
            return None
        try:
            return VisitAttribution.model_validate_json(_text(found))
        except ValidationError:  # written by another version of this module: no attribution
            return None

    async def ask(self, campaign: str, address: str, window_s: int) -> int:
        """Count one lease request from ``address`` in its fixed window; the count so far.

        The address is hashed in the key: Redis keeps no list of visitors' addresses.
        """
        digest = hashlib.sha256(address.encode()).hexdigest()[:32]
        key = f"dni:{{{campaign}}}:asks:{digest}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=window_s, nx=True)  # the window starts with its first ask
            pipe.incr(key)
            _, count = await pipe.execute()
        return int(count)

    async def exhausted(self, campaign: str) -> int:
        """How many leases the campaign's pool has refused (every number taken)."""
        value = await self.redis.get(_keys(campaign)["exhausted"])
        return int(value) if value is not None else 0
