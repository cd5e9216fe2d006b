"""Login throttling: failed sign-ins counted in Redis per username and per client address.

Fixed windows (``window_s``) shared by every server process: past ``per_user`` failures for a
username or ``per_ip`` from one address, sign-in is refused with 429 until the window ends, even
with the right password (so guessing cannot go on in the background). A success clears the
username's count. Usernames are hashed in the keys, so Redis holds no list of names tried.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

PREFIX = "warmline:web:login-failures:"


@dataclass(frozen=True)
class LoginLimits:
    per_user: int = 5
    per_ip: int = 20
    window_s: int = 15 * 60


def client_address(request: web.Request, trust_forwarded_for: bool) -> str:
    """The client's address: behind a trusted proxy, the last ``X-Forwarded-For`` entry (the
    one the proxy itself added; earlier ones are whatever the client sent), else the peer."""
    if trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        entries = [part.strip() for part in forwarded.split(",") if part.strip()]
        if entries:
            return entries[-1][:64]
    return request.remote or "unknown"


class LoginThrottle:
    def __init__(self, redis: Redis, limits: LoginLimits | None = None) -> None:
        self.redis = redis
        self.limits = limits or LoginLimits()

    def _keys(self, username: str, address: str) -> tuple[str, str]:
        name = hashlib.sha256(username.encode()).hexdigest()
        return f"{PREFIX}user:{name}", f"{PREFIX}ip:{address}"

    async def retry_after(self, username: str, address: str) -> int | None:
        """Seconds until sign-in may be tried again, or None when it may be tried now."""
        user_key, ip_key = self._keys(username, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(user_key)
            pipe.get(ip_key)
            pipe.ttl(user_key)
            pipe.ttl(ip_key)
            user_n, ip_n, user_ttl, ip_ttl = await pipe.execute()
        waits = []
        if user_n is not None and int(user_n) >= self.limits.per_user:
            waits.append(user_ttl)
        if ip_n is not None and int(ip_n) >= self.limits.per_ip:
            waits.append(ip_ttl)
        if not waits:
            return None
        return max(1, *(int(w) for w in waits))

    async def failed(self, username: str, address: str) -> None:
        for key in self._keys(username, address):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.ttl(key)
                _count, ttl = await pipe.execute()
            if int(ttl) < 0:  # a new window (Redis 6.2 has no EXPIRE NX)
                await self.redis.expire(key, self.limits.window_s)

    async def succeeded(self, username: str) -> None:
        user_key, _ = self._keys(username, "")
        await self.redis.delete(user_key)
