"""The system of record: calls, their timeline, billing and P&L in SQL (SQLite or PostgreSQL).

Webhooks never write SQL. Each call-state write and each carrier callback is journaled to a
Redis stream in the same step that stores it (:mod:`ivr.records.journal`); recorders drain the
stream in batches into the database (:mod:`ivr.records.recorder`, :mod:`ivr.records.ingest`),
idempotently, so a process that dies after answering Twilio loses nothing and a redelivered
entry counts once.
"""
