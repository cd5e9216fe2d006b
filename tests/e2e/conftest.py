"""Server processes for end-to-end tests: real ``warmline serve`` over real HTTP and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from ivr.config import Settings
from ivr.engine.state import CallState
from tests.support.services import AUTH_TOKEN, ServerProcess, start_server

LOAD_BALANCER = "http://lb.warmline.test"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="module")
def server(redis_url: str, workdir: Path) -> Iterator[ServerProcess]:
    process = start_server(redis_url, None, workdir)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def server_pair(redis_url: str, workdir: Path) -> Iterator[list[ServerProcess]]:
    """Two processes that share one Redis and one public URL, as behind a load balancer."""
    pair = [start_server(redis_url, LOAD_BALANCER, workdir) for _ in range(2)]
    yield pair
    for process in pair:
        process.stop()


@pytest.fixture
def simulator_settings(redis_url: str) -> Settings:
    return Settings(twilio_auth_token=AUTH_TOKEN, redis_url=redis_url)  # type: ignore[call-arg]


async def stored_state(redis_url: str, call_sid: str) -> CallState:
    """The call's state as the servers left it in Redis."""
    redis = Redis.from_url(redis_url)
    try:
        raw = await redis.hget(f"warmline:call:{call_sid}", "state")
    finally:
        await redis.aclose()
    assert raw is not None
    return CallState.model_validate_json(raw)
