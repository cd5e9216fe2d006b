"""Alembic's environment: run by :func:`ivr.records.migrate.upgrade` on an open connection."""

from __future__ import annotations

from alembic import context

from ivr.records.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `warmline db upgrade`, which passes the connection")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
