"""``/readyz``: ready only when Redis, the records database and the configured models answer,
and not once shutdown has begun; ``/healthz`` stays the liveness check.

Each test runs the real application on a real socket with a real Redis; the dependency under
test is really unreachable (a stopped Redis, a PostgreSQL URL to a closed port).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from blockbuster import blockbuster_ctx
from redis.asyncio import Redis

from ivr.config import Settings
from ivr.deployment import load_setup
from ivr.redis_server import embedded_redis
from ivr.server.app import create_app
from tests.support.services import AUTH_TOKEN, free_port

pytestmark = pytest.mark.integration

PUBLIC = "https://ivr.example.test"
DB_PASSWORD = "db-secret-7c1e"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"intent_model": "", **overrides}
    return Settings(twilio_auth_token=AUTH_TOKEN, public_url=PUBLIC, **values)


@contextlib.asynccontextmanager
async def served(
    config: Settings, deployment: Path, redis_url: str
) -> AsyncIterator[tuple[web.Application, str]]:
    app = create_app(config, load_setup(deployment), redis_url, recorder=False)
    async with TestServer(app) as server:
        yield app, str(server.make_url("")).rstrip("/")


async def get(base: str, path: str) -> tuple[int, dict[str, Any]]:
    # Any blocking call the handlers make on the event loop fails the test.
    with blockbuster_ctx():
        async with aiohttp.ClientSession() as session, session.get(base + path) as response:
            return response.status, await response.json()


def failed(body: dict[str, Any]) -> set[str]:
    return {name for name, check in body["checks"].items() if not check["ok"]}


async def test_ready_when_redis_and_the_records_database_answer(
    redis: Redis, redis_url: str, records_url: str, scenario_deployment_path: Path
) -> None:
    config = settings(database_url=records_url)
    async with served(config, scenario_deployment_path, redis_url) as (_, base):
        status, body = await get(base, "/readyz")
    assert status == 200
    assert body == {
        "status": "ready",
        "checks": {
            "draining": {"ok": True, "detail": "ok"},
            "redis": {"ok": True, "detail": "ok"},
            "database": {"ok": True, "detail": "ok"},
        },
    }


async def test_redis_down_makes_the_server_unready_and_unhealthy(
    scenario_deployment_path: Path,
) -> None:
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(embedded_redis(port=free_port()))
        async with served(settings(), scenario_deployment_path, url) as (_, base):
            assert (await get(base, "/readyz"))[0] == 200
            stack.close()  # the Redis stops
            status, body = await get(base, "/readyz")
            health, _ = await get(base, "/healthz")
    assert status == 503 and body["status"] == "unready"
    assert failed(body) == {"redis"}
    assert "Error" in body["checks"]["redis"]["detail"]
    assert health == 503


async def test_an_unreachable_records_database_makes_the_server_unready(
    redis: Redis, redis_url: str, scenario_deployment_path: Path
) -> None:
    closed = f"postgresql://warmline:{DB_PASSWORD}@127.0.0.1:{free_port()}/warmline"
    async with served(settings(database_url=closed), scenario_deployment_path, redis_url) as (
        _,
        base,
    ):
        status, body = await get(base, "/readyz")
        health, _ = await get(base, "/healthz")
    assert status == 503
    assert failed(body) == {"database"}
    assert body["checks"]["database"]["detail"].startswith("OperationalError")
    assert DB_PASSWORD not in str(body) and AUTH_TOKEN not in str(body)
    assert health == 200  # alive: calls are still taken, the journal keeps their records


async def test_an_intent_model_that_is_there_but_did_not_load_makes_the_server_unready(
    redis: Redis, redis_url: str, scenario_deployment_path: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "intent"
    broken.mkdir()  # a folder without a model in it: the classifier fails to load
    async with served(settings(intent_model=str(broken)), scenario_deployment_path, redis_url) as (
        _,
        base,
    ):
        status, body = await get(base, "/readyz")
    assert status == 503
    assert failed(body) == {"intent_model"}
    assert body["checks"]["intent_model"]["detail"] == "configured, not loaded"


async def test_an_intent_model_folder_that_is_not_there_is_not_required(
    redis: Redis, redis_url: str, scenario_deployment_path: Path, tmp_path: Path
) -> None:
    config = settings(intent_model=str(tmp_path / "no-such-model"))
    async with served(config, scenario_deployment_path, redis_url) as (_, base):
        status, body = await get(base, "/readyz")
    assert status == 200
    assert "intent_model" not in body["checks"]


async def test_readiness_turns_503_as_soon_as_shutdown_begins(
    redis: Redis, redis_url: str, scenario_deployment_path: Path
) -> None:
    async with served(settings(), scenario_deployment_path, redis_url) as (app, base):
        assert (await get(base, "/readyz"))[0] == 200
        await app.shutdown()  # what the runner calls on SIGTERM, before in-flight requests end
        status, body = await get(base, "/readyz")
        health, _ = await get(base, "/healthz")
    assert status == 503
    assert failed(body) == {"draining"}
    assert body["checks"]["draining"]["detail"] == "shutting down"
    assert health == 200  # still alive while it drains
