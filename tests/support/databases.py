"""Real record databases for the tests: a SQLite file, and a PostgreSQL database of its own.

PostgreSQL is the machine's (127.0.0.1:5432, which ``scripts/test.sh`` starts when it is not
listening); ``WARMLINE_TEST_POSTGRES_URL`` points elsewhere and ``WARMLINE_TEST_POSTGRES_DB``
names the scratch database (dropped and created once per session).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from ivr.records.database import database_url, open_engine
from ivr.records.migrate import upgrade
from ivr.records.tables import Base

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")


def postgres_url(suffix: str = "") -> str:
    """A fresh, empty PostgreSQL database for this test session (``suffix``: another one, for
    a test that needs a database of its own)."""
    admin_url = os.environ.get("WARMLINE_TEST_POSTGRES_URL", POSTGRES_ADMIN_URL)
    name = os.environ.get("WARMLINE_TEST_POSTGRES_DB", "warmline_test") + suffix
    admin = create_engine(database_url(admin_url, "."), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def backend_url(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'records.db'}"
    return postgres_url()


def migrated_engine(url: str) -> Engine:
    engine = open_engine(database_url(url, "."))
    upgrade(engine)
    return engine


def empty_tables(engine: Engine) -> None:
    """Delete every row (children first), keeping the schema and its migration stamp."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
