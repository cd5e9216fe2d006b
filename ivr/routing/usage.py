"""Officers' usage in Redis: caps, concurrent legs and rotation, changed only inside Lua.

Every server process routes against the same counters, so the pick and the claim are one
script: Redis runs it atomically, and two processes can never both take an officer's last
concurrent slot or last call of the day. A claim is what a transfer attempt holds:

- a **leg** in the officer's sorted set of live legs, scored by when its lease ends. It leaves
  the set when the officer's leg ends (the dial action, the leg's status callback, or the
  caller hanging up — whichever comes first; ending twice is harmless), and a lease that runs
  out drops it, so a process that dies mid-transfer cannot leak a slot;
- a count in the officer's **hourly** and **daily** buckets (their own clock hour and day). An
  attempt that did not connect (declined, no answer, busy, failed) gives its counts back when
  settled, so caps count calls the officer took, plus the ones ringing now.

Round robin keeps, per pool, the ticket of each officer's last call and picks the eligible
officer who waited longest; weighted is smooth weighted round robin (the nginx rule: every
candidate with room gains its weight, the pick loses their total), which spreads calls in
proportion to weight without bursts. Both are fair over any number of processes because their
state is here, not in a process.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from ivr.routing.eligibility import Usage
from ivr.routing.officers import Officer, Strategy

PREFIX = "warmline:routing:"
HOUR_TTL_S = 2 * 3600
DAY_TTL_S = 2 * 86400
CLAIM_TTL_S = 2 * 86400

_CLAIM = """
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[8])
local strategy = ARGV[3]
local ids, caps = {}, {}
for i = 1, n do
  local a = 8 + (i - 1) * 5
  ids[i] = ARGV[a + 1]
  caps[i] = {tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]),
             tonumber(ARGV[a + 5])}
end
local skipped = {}
local function full(i)
  local base = 3 + (i - 1) * 3
  local legs, hour, day = KEYS[base + 1], KEYS[base + 2], KEYS[base + 3]
  redis.call('ZREMRANGEBYSCORE', legs, '-inf', now)
  local checks = {
    {'concurrent', caps[i][1], redis.call('ZCARD', legs)},
    {'hourly', caps[i][2], tonumber(redis.call('GET', hour) or '0')},
    {'daily', caps[i][3], tonumber(redis.call('GET', day) or '0')},
  }
  for _, check in ipairs(checks) do
    if check[2] >= 0 and check[3] >= check[2] then
      return check[1] .. ' cap ' .. check[3] .. '/' .. check[2]
    end
  end
  return nil
end
local order = {}
for i = 1, n do order[i] = i end
local current, total = {}, 0
if strategy == 'round_robin' then
  local last = {}
  for i = 1, n do last[i] = tonumber(redis.call('HGET', KEYS[2], ids[i]) or '0') end
  table.sort(order, function(a, b)
    if last[a] ~= last[b] then return last[a] < last[b] end
    return a < b
  end)
elseif strategy == 'weighted' then
  -- Only officers with room gain their weight (as nginx skips a peer that is down): one kept
  -- full by a long call or a cap must not bank a burst of calls for when it frees up.
  for i = 1, n do
    current[i] = tonumber(redis.call('HGET', KEYS[2], ids[i]) or '0')
    if not full(i) then
      current[i] = current[i] + caps[i][4]
      total = total + caps[i][4]
    end
  end
  table.sort(order, function(a, b)
    if current[a] ~= current[b] then return current[a] > current[b] end
    return a < b
  end)
end
for _, i in ipairs(order) do
  local reason = full(i)
  if reason then
    table.insert(skipped, ids[i] .. '\\t' .. reason)
  else
    local base = 3 + (i - 1) * 3
    local legs, hour, day = KEYS[base + 1], KEYS[base + 2], KEYS[base + 3]
    redis.call('ZADD', legs, ARGV[2], ARGV[4])
    redis.call('INCR', hour)
    redis.call('EXPIRE', hour, ARGV[6])
    redis.call('INCR', day)
    redis.call('EXPIRE', day, ARGV[7])
    redis.call('HSET', KEYS[1], 'officer', ids[i], 'legs', legs, 'hour', hour, 'day', day,
               'settled', '0')
    redis.call('EXPIRE', KEYS[1], ARGV[5])
    if strategy == 'round_robin' then
      redis.call('HSET', KEYS[2], ids[i], redis.call('INCR', KEYS[3]))
    elseif strategy == 'weighted' then
      current[i] = current[i] - total
      for j = 1, n do redis.call('HSET', KEYS[2], ids[j], current[j]) end
    end
    return {ids[i], skipped}
  end
end
return {false, skipped}
"""

_END_LEG = """
local legs = redis.call('HGET', KEYS[1], 'legs')
if not legs then return 0 end
return redis.call('ZREM', legs, ARGV[1])
"""

_EXTEND = """
local legs = redis.call('HGET', KEYS[1], 'legs')
if not legs then return 0 end
return redis.call('ZADD', legs, 'XX', 'GT', ARGV[2], ARGV[1])
"""

_SETTLE = """
local legs = redis.call('HGET', KEYS[1], 'legs')
if not legs then return 0 end
redis.call('ZREM', legs, ARGV[1])
if redis.call('HGET', KEYS[1], 'settled') ~= '0' then return 0 end
redis.call('HSET', KEYS[1], 'settled', ARGV[2])
if ARGV[2] == 'refunded' then
  for _, field in ipairs({'hour', 'day'}) do
    local key = redis.call('HGET', KEYS[1], field)
    if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
  end
end
return 1
"""


@dataclass(frozen=True)
class Claimed:
    """The officer the script took (None: every candidate was at a cap), and who was full."""

    officer: str | None
    full: dict[str, str]
    """Officer id → the cap that stopped it, e.g. ``"daily cap 40/40"``."""


class UsageBook:
    """The Redis side of routing: claim an officer, extend, end and settle its leg, read usage."""

    def __init__(self, redis: Redis, prefix: str = PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        self._claim = redis.register_script(_CLAIM)
        self._end_leg = redis.register_script(_END_LEG)
        self._extend = redis.register_script(_EXTEND)
        self._settle = redis.register_script(_SETTLE)

    async def claim(
        self,
        claim_id: str,
        pool: str,
        strategy: Strategy,
        candidates: Sequence[Officer],
        now: float,
        lease_s: float,
    ) -> Claimed:
        """Take the first candidate with room, in the strategy's order (given order otherwise).

        Ping-post and waterfall pass their candidates already ranked; round robin and weighted
        are ordered here from the pool's rotation.
        """
        if not candidates:
            return Claimed(None, {})
        keys = [self._key("claim", claim_id), *self._rotation(pool)]
        args: list[str | int | float] = [
            now,
            now + lease_s,
            strategy,
            claim_id,
            CLAIM_TTL_S,
            HOUR_TTL_S,
            DAY_TTL_S,
            len(candidates),
        ]
        for officer in candidates:
            keys += self._officer_keys(officer, now)
            caps = officer.caps
            args += [
                officer.id,
                _cap(caps.concurrent),
                _cap(caps.hourly),
                _cap(caps.daily),
                officer.weight,
            ]
        picked, skipped = await self._claim(keys=keys, args=args)
        full = dict(_text(line).split("\t", 1) for line in skipped)
        return Claimed(_text(picked) if picked else None, full)

    async def extend(self, claim_id: str, until: float) -> None:
        """Keep a leg that was answered for as long as the call may last."""
        await self._extend(keys=[self._key("claim", claim_id)], args=[claim_id, until])

    async def end_leg(self, claim_id: str) -> None:
        """The officer's leg is over: free its concurrent slot (idempotent)."""
        await self._end_leg(keys=[self._key("claim", claim_id)], args=[claim_id])

    async def settle(self, claim_id: str, connected: bool) -> bool:
        """End the leg and, once only, give the counts back when it did not connect."""
        outcome = "connected" if connected else "refunded"
        settled = await self._settle(keys=[self._key("claim", claim_id)], args=[claim_id, outcome])
        return bool(settled)

    async def usage(self, officers: Sequence[Officer], now: float) -> Mapping[str, Usage]:
        """Each officer's counts now: what ``route --explain`` shows (a read, not a claim)."""
        pipe = self._redis.pipeline(transaction=False)
        for officer in officers:
            legs, hour, day = self._officer_keys(officer, now)
            pipe.zcount(legs, f"({now}", "+inf")
            pipe.get(hour)
            pipe.get(day)
        values = await pipe.execute()
        result = {}
        for index, officer in enumerate(officers):
            live, hourly, daily = values[index * 3 : index * 3 + 3]
            result[officer.id] = Usage(int(hourly or 0), int(daily or 0), int(live))
        return result

    async def forget(self, officers: Collection[str], pools: Collection[str] = ()) -> int:
        """Delete the legs, counters and claims of ``officers`` and the rotation of ``pools``.

        For officers and pools that are gone for good (or a benchmark's own); one scan of the
        routing keys. Returns how many keys were deleted.
        """
        doomed: list[str] = []
        claims: list[str] = []
        async for raw in self._redis.scan_iter(match=f"{self._prefix}*", count=1000):
            key = _text(raw)
            kind, _, rest = key.removeprefix(self._prefix).partition(":")
            name = rest.split(":", 1)[0]
            if kind == "claim":
                claims.append(key)
            elif (kind in ("legs", "hour", "day") and name in officers) or (
                kind in ("rotation", "ticket") and name in pools
            ):
                doomed.append(key)
        if claims:
            pipe = self._redis.pipeline(transaction=False)
            for key in claims:
                pipe.hget(key, "officer")
            holders = await pipe.execute()
            doomed += [
                key
                for key, holder in zip(claims, holders, strict=True)
                if holder is not None and _text(holder) in officers
            ]
        for start in range(0, len(doomed), 1000):
            await self._redis.delete(*doomed[start : start + 1000])
        return len(doomed)

    def _officer_keys(self, officer: Officer, now: float) -> list[str]:
        local = datetime.fromtimestamp(now, UTC).astimezone(officer.zone)
        # The offset keeps the repeated hour of a DST fall-back a bucket of its own.
        return [
            self._key("legs", officer.id),
            self._key("hour", f"{officer.id}:{local:%Y%m%d%H%z}"),
            self._key("day", f"{officer.id}:{local:%Y%m%d}"),
        ]

    def _rotation(self, pool: str) -> list[str]:
        return [self._key("rotation", pool), self._key("ticket", pool)]

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"


def _cap(value: int | None) -> int:
    return -1 if value is None else value


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
