"""Repeat callers: who called a campaign, or was sent to an officer, inside a duplicate window.

A buyer pays once per caller per window, so a repeat is flagged — per campaign at the door
(optionally across every campaign that opts in) and per officer when the caller is connected
to them — and never billed twice. The marks are Redis keys that expire with their window,
named by a hash of the caller's number so Redis never holds the number itself. A window starts
at the first call: ``SET NX`` keeps it from sliding forward on every repeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from redis.asyncio import Redis

from ivr.routing.officers import Officer
from ivr.routing.usage import PREFIX

HOUR_S = 3600
ACROSS_CAMPAIGNS = "*"


class RepeatCallers:
    def __init__(self, redis: Redis, prefix: str = PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix + "seen:"

    async def arrived(
        self, caller: str, campaign: str, window_h: int, across_campaigns: bool
    ) -> bool:
        """Note a call to ``campaign``; True when it repeats one inside the window."""
        if window_h <= 0 or not caller:
            return False
        pipe = self._redis.pipeline(transaction=False)
        for key in self.campaign_keys(caller, campaign, across_campaigns):
            pipe.set(key, "1", nx=True, ex=window_h * HOUR_S)
        first = await pipe.execute()
        return not all(first)

    def campaign_keys(self, caller: str, campaign: str, across_campaigns: bool) -> list[str]:
        """The marks a call to ``campaign`` sets (what an operator deletes to forget a caller)."""
        scopes = [campaign, ACROSS_CAMPAIGNS] if across_campaigns else [campaign]
        return [self._key(f"campaign:{scope}", caller) for scope in scopes]

    async def sent_before(self, caller: str, officers: Sequence[Officer]) -> set[str]:
        """The officers (with a window) who were connected to this caller inside it."""
        watched = [o for o in officers if o.duplicate_window_h > 0]
        if not watched or not caller:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        for officer in watched:
            pipe.exists(self._key(f"officer:{officer.id}", caller))
        seen = await pipe.execute()
        return {o.id for o, hit in zip(watched, seen, strict=True) if hit}

    async def connected(self, caller: str, officer: Officer) -> None:
        """The caller reached ``officer``: a repeat inside their window is not billed again."""
        if officer.duplicate_window_h > 0 and caller:
            key = self._key(f"officer:{officer.id}", caller)
            await self._redis.set(key, "1", nx=True, ex=officer.duplicate_window_h * HOUR_S)

    def _key(self, scope: str, caller: str) -> str:
        digest = hashlib.sha256(caller.encode()).hexdigest()[:32]
        return f"{self._prefix}{scope}:{digest}"
