"""Opening the records database: SQLite under the data directory by default, else a URL.

SQLite runs in WAL mode with a busy timeout, so several server processes on one machine can
share the file (each writes in short batched transactions); PostgreSQL is for more than one
machine. URLs without a driver get the one Warmline ships with (``psycopg`` for PostgreSQL).

A SQLite transaction that reads and then writes fails at once ("database is locked") if another
process committed in between, whatever the busy timeout; so writers take the write lock when
they begin (:func:`for_writing`: ``BEGIN IMMEDIATE``) and wait their turn instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_FILE = "warmline.db"
SQLITE_BUSY_TIMEOUT_S = 30.0


def database_url(configured: str | None, data_dir: str | Path) -> URL:
    """The configured URL, or the default SQLite file under ``data_dir``."""
    if configured:
        url = make_url(configured)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url
    return make_url(f"sqlite:///{Path(data_dir) / DEFAULT_FILE}")


def open_engine(url: URL | str, **options: Any) -> Engine:
    """An engine for ``url``; for SQLite, creates the folder and sets the pragmas it needs."""
    url = make_url(url) if isinstance(url, str) else url
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **options)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, **options)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def for_writing(engine: Engine) -> Engine:
    """The same engine (and pool), whose transactions on SQLite take the write lock at once."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def _sqlite_connect(connection: Any, _record: Any) -> None:
    connection.isolation_level = None  # the driver begins nothing itself: _sqlite_begin does
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    if mode not in ("DEFERRED", "IMMEDIATE"):
        raise ValueError(f"unknown SQLite transaction mode {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
