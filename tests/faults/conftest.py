"""Fixtures for the fault tests: a records database of each test's own, and servers on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support.databases import migrated_engine, postgres_url


@pytest.fixture
def records_db(request: pytest.FixtureRequest) -> Iterator[tuple[str, Engine]]:
    """A fresh PostgreSQL database for this test alone (servers write to it, the test reads
    it), so one test's calls never show up in another's P&L."""
    url = postgres_url(f"_{request.node.name[:40].lower()}")
    engine = migrated_engine(url)
    yield url, engine
    engine.dispose()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Where the test's server processes write their logs and data."""
    return tmp_path
