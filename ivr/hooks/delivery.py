"""Relaying the outbox to the delivery queue, and delivering: ``warmline deliver``.

- **Relay.** Committed outbox rows not yet relayed are added to the ``warmline:webhooks``
  stream, each with its delivery id as the job key, by one Lua script that first sets a
  marker for that id: a relay that died between adding and marking the row (or two relays at
  once) adds no second job.
- **Delivery.** A worker (:class:`~ivr.jobs.worker.Worker`, no model loaded) POSTs the signed
  body. A 2xx answer is delivered: the result is written once under the delivery id
  (:class:`~ivr.jobs.results.ResultStore`), so a job delivered again after that — a worker
  that died before its ack — does not POST again. Any other status, a timeout or a
  connection error fails the attempt: the queue retries it with exponential backoff, and after
  the last attempt keeps it as a dead letter with the last error. An endpoint removed from
  the deployment, or whose secret is not in this process's environment, dead-letters at once.

Each attempt's outcome is written to the outbox row too (status, attempts, last error,
delivered at), for the portal and ``warmline webhooks``. The secret is read from the
environment for each attempt and never logged; logs carry the delivery id, endpoint, event
and status, never the body (it holds the caller's number) nor the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ivr.hooks.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_header
from ivr.jobs.backoff import Backoff
from ivr.jobs.job import KEY_FIELD, Job, PermanentJobError
from ivr.jobs.queue import JobQueue, sibling_key
from ivr.jobs.results import ResultStore
from ivr.jobs.runner import stop_on_signals
from ivr.jobs.worker import Worker, describe_error
from ivr.logs import fields
from ivr.records import tables as t
from ivr.records.database import for_writing

log = logging.getLogger(__name__)

WEBHOOKS_STREAM: Final = "warmline:webhooks"
WEBHOOKS_GROUP: Final = "webhook-delivery"
WEBHOOK_KIND: Final = "webhook"
DELIVERED_PREFIX: Final = "warmline:webhooks:delivered:"
DEFAULT_MAX_ATTEMPTS: Final = 8
DEFAULT_BACKOFF: Final = Backoff(base_s=10.0, factor=3.0, max_s=3600.0)
"""10 s, 30 s, 90 s … capped at an hour: eight attempts span about two hours."""
RELAY_BATCH: Final = 200
RELAY_INTERVAL_S: Final = 1.0
MARKER_TTL_S: Final = 30 * 86400
USER_AGENT: Final = "Warmline-Webhooks/1"

# KEYS: marker, stream. ARGV: marker ttl, then the entry's field/value pairs.
_RELAY = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
end
return false
"""


def webhook_queue(
    redis: Redis,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff: Backoff | None = None,
    visibility_timeout_s: float = 120.0,
    clock: Callable[[], float] = time.time,
) -> JobQueue:
    return JobQueue(
        redis,
        WEBHOOKS_STREAM,
        WEBHOOKS_GROUP,
        max_attempts=max_attempts,
        backoff=backoff or DEFAULT_BACKOFF,
        visibility_timeout_s=visibility_timeout_s,
        clock=clock,
    )


def _utc(clock: Callable[[], float]) -> datetime:
    return datetime.fromtimestamp(clock(), tz=UTC)


class Relay:
    """Moves committed outbox rows onto the delivery queue, each exactly once."""

    def __init__(
        self, redis: Redis, engine: Engine, queue: JobQueue, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = for_writing(engine)
        self.queue = queue
        self.clock = clock
        self._add = redis.register_script(_RELAY)

    def marker(self, delivery_id: str) -> str:
        return sibling_key(self.queue.stream, f"relayed:{delivery_id}")

    async def step(self, limit: int = RELAY_BATCH) -> int:
        """Relay up to ``limit`` rows; the number of rows relayed."""
        rows = await asyncio.to_thread(self._unrelayed, limit)
        for delivery_id, endpoint_id, event in rows:
            entry = {
                "kind": WEBHOOK_KIND,
                "delivery_id": delivery_id,
                "endpoint": endpoint_id,
                "event": event,
                KEY_FIELD: delivery_id,
            }
            flat = [item for pair in entry.items() for item in pair]
            await self._add(
                keys=[self.marker(delivery_id), self.queue.stream], args=[MARKER_TTL_S, *flat]
            )
        if rows:
            await asyncio.to_thread(self._mark, [row[0] for row in rows])
        return len(rows)

    async def run(self, stop: asyncio.Event, interval_s: float = RELAY_INTERVAL_S) -> None:
        """Relay until ``stop``; an unreachable database or Redis pauses it, never ends it."""
        while not stop.is_set():
            try:
                relayed = await self.step()
            except (RedisError, SQLAlchemyError, OSError) as error:
                log.warning("webhook relay failed", extra=fields(error=describe_error(error)))
                relayed = 0
            if relayed < RELAY_BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval_s)

    def _unrelayed(self, limit: int) -> list[tuple[str, str, str]]:
        with Session(self.engine) as session:
            rows = session.execute(
                select(t.WebhookEvent.delivery_id, t.WebhookEvent.endpoint_id, t.WebhookEvent.event)
                .where(t.WebhookEvent.relayed_at.is_(None))
                .order_by(t.WebhookEvent.id)
                .limit(limit)
            ).all()
            return [(str(a), str(b), str(c)) for a, b, c in rows]

    def _mark(self, delivery_ids: list[str]) -> None:
        with Session(self.engine) as session, session.begin():
            chosen = t.WebhookEvent.delivery_id.in_(delivery_ids)
            session.execute(
                update(t.WebhookEvent)
                .where(chosen, t.WebhookEvent.relayed_at.is_(None))
                .values(relayed_at=_utc(self.clock))
            )
            session.execute(
                update(t.WebhookEvent)
                .where(chosen, t.WebhookEvent.status == "pending")
                .values(status="queued")
            )


@dataclass(frozen=True)
class Outcome:
    """One attempt's answer: the HTTP status (None: none came) and the error, if it failed."""

    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


def encode(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def post_signed(
    http: aiohttp.ClientSession,
    url: str,
    secret: str,
    payload: Mapping[str, Any],
    timeout_s: float,
    now: float,
) -> Outcome:
    """POST ``payload`` signed with ``secret``; 2xx is delivered, anything else an error."""
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: str(payload["type"]),
        DELIVERY_HEADER: str(payload["id"]),
        SIGNATURE_HEADER: signature_header(secret, int(now), body),
    }
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with http.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            status = response.status
    except TimeoutError:
        return Outcome(None, f"timeout: no answer within {timeout_s:g} s")
    except aiohttp.ClientError as error:
        return Outcome(None, describe_error(error))
    if 200 <= status < 300:
        return Outcome(status, None)
    return Outcome(status, f"HTTP {status}")


class DeliveryFailed(Exception):
    """One attempt did not deliver; the queue retries it (or keeps it as a dead letter)."""


@dataclass(frozen=True)
class _Pending:
    url: str
    secret_env: str
    timeout_s: float
    payload: dict[str, Any]
    endpoint_id: str
    event: str


class Deliverer:
    """The queue's handler for ``webhook`` jobs."""

    def __init__(
        self,
        engine: Engine,
        redis: Redis,
        http: aiohttp.ClientSession,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = for_writing(engine)
        # Kept far longer than a delivery can be retried (hours), then let go.
        self.results = ResultStore(redis, prefix=DELIVERED_PREFIX, ttl_s=MARKER_TTL_S)
        self.http = http
        self.max_attempts = max_attempts
        self.environ = os.environ if environ is None else environ
        self.clock = clock

    async def __call__(self, job: Job) -> None:
        delivery_id = job.fields.get("delivery_id", "")
        if not delivery_id:
            raise PermanentJobError("a webhook job without a delivery_id")
        earlier = await self.results.get(delivery_id)
        if earlier is not None:  # delivered before this delivery of the job: never POST twice
            status = int(earlier["status"]) if earlier.get("status", "").isdigit() else None
            await asyncio.to_thread(self._delivered, delivery_id, job.attempt, status)
            return
        try:
            pending = await asyncio.to_thread(self._load, delivery_id)
        except PermanentJobError as gone:
            await asyncio.to_thread(self._failed, delivery_id, job.attempt, None, str(gone), True)
            raise
        about = fields(delivery=delivery_id, endpoint=pending.endpoint_id, event=pending.event)
        secret = self.environ.get(pending.secret_env, "")
        if not secret:
            error = f"the secret's variable {pending.secret_env} is not set for `warmline deliver`"
            await asyncio.to_thread(self._failed, delivery_id, job.attempt, None, error, True)
            raise PermanentJobError(error)
        outcome = await post_signed(
            self.http, pending.url, secret, pending.payload, pending.timeout_s, self.clock()
        )
        if outcome.delivered:
            delivered = {"status": str(outcome.status), "at": repr(self.clock())}
            await self.results.write_once(delivery_id, delivered)
            await asyncio.to_thread(self._delivered, delivery_id, job.attempt, outcome.status)
            log.info("webhook delivered", extra={**about, **fields(status=outcome.status)})
            return
        error = outcome.error or "failed"
        dead = job.attempt >= self.max_attempts
        await asyncio.to_thread(self._failed, delivery_id, job.attempt, outcome.status, error, dead)
        raise DeliveryFailed(error)

    def _load(self, delivery_id: str) -> _Pending:
        with Session(self.engine) as session:
            row = session.scalar(
                select(t.WebhookEvent).where(t.WebhookEvent.delivery_id == delivery_id)
            )
            if row is None:
                raise PermanentJobError(f"no webhook event {delivery_id}")
            endpoint = session.get(t.WebhookEndpoint, row.endpoint_id)
            if endpoint is None or not endpoint.active:
                raise PermanentJobError(f"endpoint {row.endpoint_id} is no longer configured")
            return _Pending(
                url=endpoint.url,
                secret_env=endpoint.secret_env,
                timeout_s=endpoint.timeout_s,
                payload=dict(row.payload),
                endpoint_id=endpoint.id,
                event=row.event,
            )

    def _delivered(self, delivery_id: str, attempt: int, status: int | None) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(t.WebhookEvent)
                .where(
                    t.WebhookEvent.delivery_id == delivery_id,
                    t.WebhookEvent.status != "delivered",
                )
                .values(
                    status="delivered",
                    attempts=attempt,
                    last_status=status,
                    last_error=None,
                    delivered_at=_utc(self.clock),
                )
            )

    def _failed(
        self, delivery_id: str, attempt: int, status: int | None, error: str, dead: bool
    ) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(t.WebhookEvent)
                .where(
                    t.WebhookEvent.delivery_id == delivery_id,
                    t.WebhookEvent.status != "delivered",
                )
                .values(
                    status="dead" if dead else "retrying",
                    attempts=attempt,
                    last_status=status,
                    last_error=error,
                )
            )


def missing_secrets(engine: Engine, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """Active endpoints whose secret variable is not set here: (endpoint id, variable)."""
    with Session(engine) as session:
        endpoints = session.scalars(
            select(t.WebhookEndpoint)
            .where(t.WebhookEndpoint.active.is_(True))
            .order_by(t.WebhookEndpoint.id)
        )
        return [(e.id, e.secret_env) for e in endpoints if not environ.get(e.secret_env)]


async def requeue(redis: Redis, engine: Engine, delivery_id: str) -> bool:
    """Give a dead delivery fresh attempts; False when ``delivery_id`` is not dead.

    Its dead letter goes back on the stream; if Redis no longer has it (a Redis that lost its
    data), the outbox row is relayed again instead.
    """
    writer = for_writing(engine)
    with Session(writer) as session:
        row = session.scalar(
            select(t.WebhookEvent).where(t.WebhookEvent.delivery_id == delivery_id)
        )
        if row is None or row.status != "dead":
            return False
    queue = webhook_queue(redis)
    letters = await queue.dead_letters(count=10_000)
    letter = next((d for d in letters if d.fields.get("delivery_id") == delivery_id), None)
    requeued = letter is not None and await queue.requeue_dead(letter.id) is not None
    if not requeued:
        await redis.delete(sibling_key(queue.stream, f"relayed:{delivery_id}"))
    with Session(writer) as session, session.begin():
        values: dict[str, Any] = {"status": "queued"}
        if not requeued:
            values = {"status": "pending", "relayed_at": None}
        session.execute(
            update(t.WebhookEvent).where(t.WebhookEvent.delivery_id == delivery_id).values(values)
        )
    return True


async def run_delivery(
    redis_url: str,
    engine: Engine,
    *,
    consumer: str,
    concurrency: int = 4,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff: Backoff | None = None,
    poll_ms: int = 1000,
    relay_interval_s: float = RELAY_INTERVAL_S,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Relay and deliver until SIGTERM/SIGINT (or ``stop``), then finish the POSTs in hand."""
    stop = stop or asyncio.Event()
    redis = Redis.from_url(redis_url)
    try:
        queue = webhook_queue(redis, max_attempts=max_attempts, backoff=backoff)
        await queue.ensure_group()
        with stop_on_signals(stop, handle_signals):
            async with aiohttp.ClientSession() as http:
                deliverer = Deliverer(
                    engine, redis, http, max_attempts=max_attempts, environ=environ
                )
                worker = Worker(
                    queue,
                    {WEBHOOK_KIND: deliverer},
                    consumer,
                    concurrency=concurrency,
                    handler_timeout_s=60.0,
                    default_kind=WEBHOOK_KIND,
                    poll_ms=poll_ms,
                )
                relay = Relay(redis, engine, queue)
                await asyncio.gather(worker.run(stop), relay.run(stop, relay_interval_s))
    finally:
        await redis.aclose()
