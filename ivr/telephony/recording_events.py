"""Finished recordings go onto a Redis stream for the workers, exactly once per recording.

Twilio may deliver a recording status callback more than once; a marker key per RecordingSid,
set in the same Lua script as the ``XADD``, keeps the stream free of duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

RECORDINGS_STREAM = "warmline:recordings"

_ENQUEUE_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
end
return false
"""


class RecordingEvents:
    def __init__(self, redis: Redis, dedupe_ttl_s: int = 7 * 24 * 3600) -> None:
        self._script = redis.register_script(_ENQUEUE_ONCE)
        self._ttl = dedupe_ttl_s

    async def enqueue(self, recording_sid: str, entry: Mapping[str, str]) -> bool:
        """Add the recording to the stream; False if it was already there."""
        flat = [item for pair in sorted(entry.items()) for item in pair]
        added = await self._script(
            keys=[f"warmline:recording-seen:{recording_sid}", RECORDINGS_STREAM],
            args=[self._ttl, *flat],
        )
        return added is not None
