"""A small aiohttp app with only the web pages (``setup_web``) on a real socket, real Redis and
the records database on SQLite and PostgreSQL. Any blocking call made on the event loop fails
the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from blockbuster import blockbuster_ctx
from redis.asyncio import Redis
from sqlalchemy import Engine

from ivr.config import Settings
from tests.support.web import Site, seed, web_app


@pytest.fixture
def recordings_root(tmp_path: Path) -> Path:
    return tmp_path / "store" / "recordings"


@pytest.fixture
async def site(records: Engine, redis: Redis, recordings_root: Path) -> AsyncIterator[Site]:
    seed(records, recordings_root)
    settings = Settings(  # type: ignore[call-arg]
        public_url="http://127.0.0.1:8080", recordings_dir=str(recordings_root)
    )
    app = web_app(settings, records, redis)
    async with TestServer(app) as server:
        site = Site(str(server.make_url("")).rstrip("/"), redis, records, recordings_root, [])
        try:
            # Any blocking call (file, socket, sleep) made on the event loop fails the test.
            with blockbuster_ctx():
                yield site
        finally:
            for browser in site.browsers:
                await browser.close()
