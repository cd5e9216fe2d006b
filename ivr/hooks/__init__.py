"""Outbound webhooks: signed JSON events about calls, sent to officers' and campaigns' systems.

The records writer puts events in an outbox table in the same transaction as the facts they
report (:mod:`ivr.hooks.outbox`); ``warmline deliver`` relays them to a Redis job queue and
POSTs them with retries, backoff and dead letters (:mod:`ivr.hooks.delivery`). See
``docs/integrations.md``.
"""
