"""Fixtures for every tier: a real Redis database, flushed around each test that uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.support.deployments import scenario_deployment
from tests.support.services import test_redis_url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with test_redis_url() as url:
        yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="session")
def intent_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small fine-tuned intent model (trained once per session by ``warmline train intent``)."""
    from tests.support.intent import train_small_model

    return train_small_model(tmp_path_factory.mktemp("intent") / "model")


@pytest.fixture(scope="session")
def scenario_deployment_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample deployment with the scenarios' always-open officers (see its module)."""
    return scenario_deployment(tmp_path_factory.mktemp("deployment"))
