"""Schema migrations with Alembic, run from code: ``warmline db upgrade`` and start-up.

The migration scripts ship inside the package (``ivr/records/migrations``), so an installed
Warmline can upgrade its database without a checkout. Servers that start together take turns:
on PostgreSQL with an advisory lock, on SQLite (one machine by nature) with a lock file next to
the database, since SQLite's DDL does not wait for another process's.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_ID = 0x5741524D  # "WARM": one advisory lock for Warmline's migrations


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a database already there is left as it is."""
    config = alembic_config()
    with _file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            take_turns(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextlib.contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """For a SQLite file, an exclusive lock on ``<file>.migrate.lock``; otherwise nothing."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def take_turns(connection: Connection) -> None:
    """Hold the schema lock until this transaction ends, so processes that sync the deployment
    at the same moment take turns instead of colliding on the same new rows."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
    else:  # SQLite: a write takes the database's write lock now, not at the first insert
        connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
