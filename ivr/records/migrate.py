"""Schema migrations with Alembic, run from code: ``warmline db upgrade`` and start-up.

The migration scripts ship inside the package (``ivr/records/migrations``), so an installed
Warmline can upgrade its database without a checkout. On PostgreSQL an advisory lock makes
servers that start together take turns; SQLite's own write lock does the same there.
"""

from __future__ import annotations

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
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            take_turns(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def take_turns(connection: Connection) -> None:
    """Hold the schema lock until this transaction ends, so processes that sync the deployment
    at the same moment take turns instead of colliding on the same new rows."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
    else:  # SQLite: a write takes the database's write lock now, not at the first insert
        connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
