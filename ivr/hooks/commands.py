"""``warmline deliver`` and ``warmline webhooks``: outbound webhooks from the terminal.

Registered on the main command by :mod:`ivr.cli`. The records database is the one the servers
write (``WARMLINE_DATABASE_URL``, else SQLite under ``WARMLINE_DATA_DIR``); the Redis is theirs
too. Secrets are read from the environment by name and never printed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

STATUSES = ("pending", "queued", "retrying", "delivered", "dead")


@click.command()
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="POSTs at once."
)
@click.option("--consumer", help="Consumer name, unique per process (default: host-pid-random).")
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 50),
    default=8,
    show_default=True,
    help="Attempts before a delivery becomes a dead letter.",
)
def deliver(concurrency: int, consumer: str | None, max_attempts: int) -> None:
    """Relay webhook events from the records to the queue and POST them (no model is loaded).

    Runs until SIGTERM or SIGINT, then finishes the POSTs in hand. Start as many as you like:
    they share the queue through Redis. Refuses to start while an endpoint's secret variable
    is not set in its environment.
    """
    import asyncio
    import os

    from ivr.cli import _announce, _fail, _redacted, _settings
    from ivr.hooks.delivery import missing_secrets, run_delivery
    from ivr.jobs.runner import default_consumer_name
    from ivr.logs import configure
    from ivr.records.commands import _database
    from ivr.records.migrate import upgrade
    from ivr.redis_server import RedisUnavailable, redis_url

    settings = _settings({})
    configure(log_format=settings.log_format)
    with _database(settings.records_url) as engine:
        upgrade(engine)
        missing = missing_secrets(engine, os.environ)
        if missing:
            named = ", ".join(f"{endpoint} ({variable})" for endpoint, variable in missing)
            _fail(f"not starting: no secret in the environment for webhook endpoints {named}")
        try:
            with redis_url(settings.redis_url) as url:
                _announce(f"warmline: delivering webhooks from {_redacted(url)}", settings)
                asyncio.run(
                    run_delivery(
                        url,
                        engine,
                        consumer=consumer or default_consumer_name(),
                        concurrency=concurrency,
                        max_attempts=max_attempts,
                    )
                )
        except RedisUnavailable as error:
            _fail(str(error))


@click.group()
def webhooks() -> None:
    """Outbound webhooks: endpoints, deliveries, dead letters (see docs/integrations.md)."""


@webhooks.command("endpoints")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def endpoints_command(as_json: bool) -> None:
    """The endpoints synced from the deployment (secrets: whether set here, never the value)."""
    import os

    from sqlalchemy import select

    from ivr.records import tables as t
    from ivr.records.commands import _run

    def work(session: Session) -> list[dict[str, Any]]:
        rows = session.scalars(select(t.WebhookEndpoint).order_by(t.WebhookEndpoint.id))
        return [
            {
                "id": e.id,
                "owner": f"officer {e.officer_id}" if e.officer_id else f"campaign {e.campaign_id}",
                "url": e.url,
                "events": list(e.events),
                "secret_env": e.secret_env,
                "secret_set_here": bool(os.environ.get(e.secret_env)),
                "active": e.active,
            }
            for e in rows
        ]

    found = _run(work)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("no webhook endpoints (add them under `webhooks:` in the deployment file)")
    for e in found:
        secret = "set" if e["secret_set_here"] else "NOT SET here"
        state = "" if e["active"] else "  (inactive: no longer in the deployment)"
        click.echo(
            f"{e['id']}  {e['owner']}  {e['url']}  events {','.join(e['events'])}  "
            f"secret ${e['secret_env']} {secret}{state}"
        )


@webhooks.command("deliveries")
@click.option("--status", type=click.Choice(STATUSES), help="Only deliveries in this state.")
@click.option("--endpoint", help="Only this endpoint's.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def deliveries_command(status: str | None, endpoint: str | None, limit: int, as_json: bool) -> None:
    """Recent deliveries, newest first: event, status, attempts, last error, delivered at."""
    _print_deliveries(status, endpoint, limit, as_json)


@webhooks.command("dead")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def dead_command(limit: int, as_json: bool) -> None:
    """Dead letters: deliveries that used up their attempts, with the last error."""
    _print_deliveries("dead", None, limit, as_json)


def _print_deliveries(status: str | None, endpoint: str | None, limit: int, as_json: bool) -> None:
    from ivr.records.commands import _run
    from ivr.web.portal_hooks import recent_deliveries

    found = _run(lambda session: recent_deliveries(session, None, status, endpoint, limit))
    if as_json:
        click.echo(json.dumps([d.as_dict() for d in found], indent=2))
        return
    if not found:
        click.echo("no deliveries")
    for d in found:
        delivered = f"  delivered {d.delivered_at:%Y-%m-%d %H:%M:%S}Z" if d.delivered_at else ""
        error = f"  last error: {d.last_error}" if d.last_error else ""
        click.echo(
            f"{d.delivery_id}  {d.created_at:%Y-%m-%d %H:%M:%S}Z  {d.endpoint_id}  {d.event}  "
            f"{d.status}  attempts {d.attempts}{delivered}{error}"
        )


@webhooks.command("requeue")
@click.argument("delivery_id")
def requeue_command(delivery_id: str) -> None:
    """Give dead delivery DELIVERY_ID fresh attempts (after fixing its cause)."""
    import asyncio

    from redis.asyncio import Redis

    from ivr.cli import _fail, _shared_redis_url
    from ivr.hooks.delivery import requeue
    from ivr.records.commands import _database, _records_url

    url = _shared_redis_url()
    if url is None:
        _fail("no Redis is listening; set WARMLINE_REDIS_URL to the Redis the servers use")

    async def run() -> bool:
        redis = Redis.from_url(url)
        try:
            with _database(_records_url()) as engine:
                return await requeue(redis, engine, delivery_id)
        finally:
            await redis.aclose()

    if not asyncio.run(run()):
        _fail(f"no dead delivery {delivery_id} (see `warmline webhooks dead`)")
    click.echo(f"{delivery_id} requeued: `warmline deliver` sends it with fresh attempts")


@webhooks.command("test")
@click.argument("endpoint_id")
def test_command(endpoint_id: str) -> None:
    """POST one signed ``test`` event to ENDPOINT_ID now, and show the answer (not queued)."""
    import asyncio
    import os
    import time

    import aiohttp

    from ivr.cli import _fail
    from ivr.hooks.config import TEST_EVENT
    from ivr.hooks.delivery import post_signed
    from ivr.hooks.outbox import envelope, new_delivery_id
    from ivr.records import tables as t
    from ivr.records.commands import _run

    found = _run(lambda session: session.get(t.WebhookEndpoint, endpoint_id))
    if found is None:
        _fail(f"no webhook endpoint {endpoint_id} (see `warmline webhooks endpoints`)")
    secret = os.environ.get(found.secret_env, "")
    if not secret:
        _fail(f"the secret's variable {found.secret_env} is not set in this environment")
    delivery_id = new_delivery_id()
    data = {"message": "a test event from `warmline webhooks test`"}
    payload = envelope(delivery_id, TEST_EVENT, found.id, datetime.now(UTC), data)

    async def send() -> tuple[int | None, str | None]:
        async with aiohttp.ClientSession() as http:
            outcome = await post_signed(
                http, found.url, secret, payload, found.timeout_s, time.time()
            )
            return outcome.status, outcome.error

    status, error = asyncio.run(send())
    if error is not None:
        _fail(f"test event {delivery_id} to {found.id} not delivered: {error}")
    click.echo(f"test event {delivery_id} delivered to {found.id}: HTTP {status}")
