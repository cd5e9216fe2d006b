"""Live call state in Redis: one hash per call, with a TTL, changed only by compare-and-set.

Any server process may receive any webhook of a call. Each write names the version it read; a
Lua script applies it only if the version is unchanged, so two processes serving webhooks of the
same call can never lose each other's update — the loser re-reads and re-applies its event.
The hash also keeps the last TwiML answered, so a retried or duplicated webhook gets the same
answer instead of advancing the call twice.

With a journal stream, the same script appends the state and its version to it (see
:mod:`ivr.records.journal`): a state is never stored without its record, nor the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from ivr.engine.state import CallState

_JOURNAL = """
local function journal(version, state)
  if #KEYS > 1 then
    redis.call('XADD', KEYS[2], '*', 'kind', 'state', 'call_sid', ARGV[#ARGV],
      'revision', version, 'body', state)
  end
end
"""

_CREATE = (
    _JOURNAL
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', 1, 'state', ARGV[1], 'twiml', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
journal(1, ARGV[1])
return 1
"""
)

_REPLACE = (
    _JOURNAL
    + """
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
local version = tonumber(ARGV[1]) + 1
redis.call('HSET', KEYS[1], 'v', version, 'state', ARGV[2], 'twiml', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
journal(version, ARGV[2])
return 1
"""
)


@dataclass(frozen=True)
class StoredCall:
    version: str
    state: CallState
    twiml: str


class CallStore:
    """Reads and atomically replaces call state; see the module docstring for the protocol."""

    def __init__(
        self,
        redis: Redis,
        ttl_s: int,
        prefix: str = "warmline:call:",
        journal: str | None = None,
    ) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._prefix = prefix
        self._journal = [journal] if journal else []
        self._create = redis.register_script(_CREATE)
        self._replace = redis.register_script(_REPLACE)

    def key(self, call_sid: str) -> str:
        return self._prefix + call_sid

    async def get(self, call_sid: str) -> StoredCall | None:
        fields: list[bytes | None] = await self._redis.hmget(  # type: ignore[misc]
            self.key(call_sid), ["v", "state", "twiml"]
        )
        version, state, twiml = fields
        if version is None or state is None:
            return None
        return StoredCall(_text(version), CallState.model_validate_json(state), _text(twiml or b""))

    async def first_answer(self, call_sid: str) -> bool:
        """For a call answered at its first webhook without any state (an unknown number, a
        blocked caller): whether this is the first time, or a retry of that webhook. Only the
        sid is kept, for as long as a call's state would be."""
        first = await self._redis.set(f"{self._prefix}door:{call_sid}", 1, nx=True, ex=self._ttl_s)
        return bool(first)

    async def create(self, state: CallState, twiml: str) -> bool:
        """Store a new call; False if the call already exists (a retried first webhook)."""
        created = await self._create(
            keys=[self.key(state.call_sid), *self._journal],
            args=[state.model_dump_json(), twiml, self._ttl_s, state.call_sid],
        )
        return bool(created)

    async def replace(self, previous: StoredCall, state: CallState, twiml: str) -> bool:
        """Write ``state`` if nobody has written since ``previous`` was read."""
        replaced = await self._replace(
            keys=[self.key(state.call_sid), *self._journal],
            args=[previous.version, state.model_dump_json(), twiml, self._ttl_s, state.call_sid],
        )
        return bool(replaced)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
