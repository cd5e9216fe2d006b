"""Server-side web sessions in Redis, and the cookie that names one.

The cookie holds only a random token; Redis keeps ``warmline:web:session:<sha256 of the
token>`` → the user's id, the session's CSRF token and its creation and last-use times. Keying
by the token's hash means a Redis dump holds no usable session ids. A session ends when it has
been idle for ``idle_s`` (the key's TTL slides on each use), ``max_s`` after sign-in whatever
its use, or at logout (the key is deleted). Every server process shares Redis, so any of them
can serve any request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from aiohttp import web
from redis.asyncio import Redis

SESSION_COOKIE = "warmline_session"
PREFIX = "warmline:web:session:"


@dataclass(frozen=True)
class WebSession:
    token: str
    user_id: int
    csrf_token: str
    created_at: float
    last_seen_at: float


def _key(token: str) -> str:
    return PREFIX + hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(
        self,
        redis: Redis,
        idle_s: int = 8 * 3600,
        max_s: int = 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis, self.idle_s, self.max_s, self.clock = redis, idle_s, max_s, clock

    async def create(self, user_id: int) -> WebSession:
        """A new session with fresh random ids (never an id the browser brought: no fixation)."""
        now = self.clock()
        session = WebSession(
            token=secrets.token_urlsafe(32),
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
        )
        key = _key(session.token)
        mapping: dict[str | bytes, str | int | float] = {
            "user": user_id,
            "csrf": session.csrf_token,
            "created": now,
            "seen": now,
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, min(self.idle_s, self.max_s))
            await pipe.execute()
        return session

    async def load(self, token: str) -> WebSession | None:
        """The live session for ``token``, its idle expiry pushed back; None when it ended."""
        if not token or len(token) > 200:
            return None
        key = _key(token)
        raw = await cast(Awaitable[dict[bytes, bytes]], self.redis.hgetall(key))
        if not raw:
            return None
        try:
            fields = {k.decode(): v.decode() for k, v in raw.items()}
            user_id, csrf = int(fields["user"]), fields["csrf"]
            created = float(fields["created"])
        except (KeyError, ValueError, UnicodeDecodeError):
            await self.redis.delete(key)
            return None
        now = self.clock()
        left = created + self.max_s - now
        if left <= 0:
            await self.redis.delete(key)
            return None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "seen", str(now))
            pipe.expire(key, max(1, int(min(self.idle_s, left))))
            await pipe.execute()
        return WebSession(token, user_id, csrf, created, now)

    async def delete(self, token: str) -> None:
        if token:
            await self.redis.delete(_key(token))


def set_session_cookie(response: web.StreamResponse, token: str, *, secure: bool) -> None:
    """A browser-session cookie: script cannot read it, other sites' forms do not send it
    (Lax), and over https it never travels in the clear."""
    response.set_cookie(
        SESSION_COOKIE, token, path="/", httponly=True, samesite="Lax", secure=secure
    )


def clear_session_cookie(response: web.StreamResponse, *, secure: bool) -> None:
    response.del_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax", secure=secure)
