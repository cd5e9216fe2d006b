"""Fixtures for every tier: a real Redis database, flushed around each test that uses it, and
the records database on both SQLite and PostgreSQL, emptied around each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine

from tests.support.databases import BACKENDS, backend_url, empty_tables, migrated_engine
from tests.support.deployments import scenario_deployment
from tests.support.services import test_redis_url


@pytest.fixture(scope="session", autouse=True)
def _records_in_temp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Apps and commands the tests start keep their default SQLite records in a temp folder,
    never in the checkout's ``data/``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WARMLINE_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        yield


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


@pytest.fixture(scope="session", params=BACKENDS)
def records_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated records database: every test that uses it runs on SQLite and PostgreSQL."""
    url = backend_url(request.param, tmp_path_factory.mktemp("records"))
    migrated_engine(url).dispose()
    return url


@pytest.fixture
def records(records_url: str) -> Iterator[Engine]:
    engine = migrated_engine(records_url)
    empty_tables(engine)
    yield engine
    empty_tables(engine)
    engine.dispose()
