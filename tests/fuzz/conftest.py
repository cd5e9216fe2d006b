"""The real app (its recorder off) on a real socket with the tests' Redis, for hostile callers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from ivr.config import Settings
from ivr.deployment import load_setup
from ivr.server.app import create_app
from tests.fuzz.hostile import Carrier
from tests.integration.test_webhooks import PUBLIC
from tests.support.services import AUTH_TOKEN


@pytest.fixture
async def carrier(
    redis: Redis, redis_url: str, scenario_deployment_path: Path
) -> AsyncIterator[Carrier]:
    settings = Settings(twilio_auth_token=AUTH_TOKEN, public_url=PUBLIC, intent_model="")
    app = create_app(settings, load_setup(scenario_deployment_path), redis_url, recorder=False)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        yield Carrier(session, str(server.make_url("")).rstrip("/"), app, redis)
