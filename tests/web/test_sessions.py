"""Session expiry on real Redis with an injected clock (idle and absolute limits), and the
client address the login throttle counts (the peer, or a trusted proxy's X-Forwarded-For)."""

from __future__ import annotations

import hashlib

import pytest
from aiohttp.test_utils import make_mocked_request
from redis.asyncio import Redis

from ivr.web.sessions import PREFIX, SessionStore
from ivr.web.throttle import LoginLimits, LoginThrottle, client_address

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_idle_expiry_slides_and_the_absolute_limit_holds(redis: Redis) -> None:
    clock = Clock()
    store = SessionStore(redis, idle_s=3600, max_s=4 * 3600, clock=clock)
    session = await store.create(7)
    key = PREFIX + hashlib.sha256(session.token.encode()).hexdigest()
    assert 3590 <= await redis.ttl(key) <= 3600
    assert await redis.exists(PREFIX + session.token) == 0  # the raw token is not the key
    clock.now += 3000
    loaded = await store.load(session.token)
    assert loaded is not None
    assert (loaded.user_id, loaded.csrf_token) == (7, session.csrf_token)
    assert loaded.last_seen_at == clock.now
    assert 3590 <= await redis.ttl(key) <= 3600  # used: the idle clock starts again
    clock.now = session.created_at + 4 * 3600 - 600
    assert await store.load(session.token) is not None
    assert await redis.ttl(key) <= 600  # never past the absolute limit
    clock.now = session.created_at + 4 * 3600 + 1
    assert await store.load(session.token) is None
    assert await redis.exists(key) == 0


async def test_unknown_and_deleted_tokens(redis: Redis) -> None:
    store = SessionStore(redis)
    assert await store.load("") is None
    assert await store.load("no-such-token") is None
    assert await store.load("x" * 500) is None
    session = await store.create(1)
    await store.delete(session.token)
    assert await store.load(session.token) is None


async def test_throttle_window_and_clearing(redis: Redis) -> None:
    throttle = LoginThrottle(redis, LoginLimits(per_user=2, per_ip=3, window_s=60))
    assert await throttle.retry_after("ana", "10.0.0.1") is None
    await throttle.failed("ana", "10.0.0.1")
    assert await throttle.retry_after("ana", "10.0.0.1") is None
    await throttle.failed("ana", "10.0.0.1")
    wait = await throttle.retry_after("ana", "10.0.0.9")
    assert wait is not None and 55 <= wait <= 60
    await throttle.succeeded("ana")
    assert await throttle.retry_after("ana", "10.0.0.1") is None
    await throttle.failed("bob", "10.0.0.1")  # the address's third failure
    assert await throttle.retry_after("carla", "10.0.0.1") is not None
    assert await throttle.retry_after("carla", "10.0.0.2") is None


def test_client_address_trusts_forwarded_for_only_when_told() -> None:
    request = make_mocked_request(
        "POST", "/login", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.5"}
    )
    assert client_address(request, trust_forwarded_for=False) == (request.remote or "unknown")
    assert client_address(request, trust_forwarded_for=True) == "203.0.113.5"
    bare = make_mocked_request("POST", "/login")
    assert client_address(bare, trust_forwarded_for=True) == (bare.remote or "unknown")
