"""Relaying the outbox and delivering to local receivers, on real Redis, SQLite and PostgreSQL.

Every receiver is a small aiohttp app on a local socket; signatures are checked here with
``hmac`` directly, not with the code under test. Retries are stepped with an injected clock
(the queue's backoff), never waited for.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from ivr.hooks.delivery import Deliverer, Relay, requeue, run_delivery, webhook_queue
from ivr.hooks.outbox import Outbox
from ivr.hooks.signing import verify
from ivr.jobs.backoff import Backoff
from ivr.jobs.queue import JobQueue
from ivr.jobs.worker import Worker
from ivr.records import tables as t
from tests.hooks.support import SECRET, SECRET_ENV, receiver
from tests.support.clock import FakeClock
from tests.support.records import CALLER, add_call, add_officer

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ENVIRON = {SECRET_ENV: SECRET}


def seed(engine: Engine, url: str, *, timeout_s: float = 10.0, calls: int = 1) -> list[str]:
    """Amy's endpoint at ``url`` and a ``completed`` event per call; their delivery ids."""
    with Session(engine) as session, session.begin():
        add_officer(session, "amy-ng", "Amy Ng")
        session.add(
            t.WebhookEndpoint(
                id="amy-crm",
                url=url,
                officer_id="amy-ng",
                campaign_id=None,
                events=["completed"],
                secret_env=SECRET_ENV,
                timeout_s=timeout_s,
                active=True,
                synced_at=NOW,
            )
        )
        session.flush()
        for n in range(calls):
            call, _ = add_call(
                session,
                call_sid=f"CA-hook-{n}",
                started_at=NOW,
                officer="amy-ng",
                billable=True,
                revenue="45.00",
            )
            Outbox(session, NOW).add("completed", call, "amy-ng", call.call_sid, {})
        return list(session.scalars(select(t.WebhookEvent.delivery_id).order_by(t.WebhookEvent.id)))


def row(engine: Engine, delivery_id: str) -> t.WebhookEvent:
    with Session(engine) as session:
        found = session.scalar(
            select(t.WebhookEvent).where(t.WebhookEvent.delivery_id == delivery_id)
        )
        assert found is not None
        return found


def queue_for(redis: Redis, clock: FakeClock, max_attempts: int = 3) -> JobQueue:
    queue = webhook_queue(
        redis, max_attempts=max_attempts, backoff=Backoff(base_s=5.0, jitter=0.0), clock=clock
    )
    return queue


async def deliver_due(queue: JobQueue, worker: Worker) -> list[str]:
    """Claim what is due and run it; the outcomes."""
    jobs = await queue.claim("test-consumer", count=10)
    return [await worker.process(job) for job in jobs]


def signed_correctly(headers: dict[str, str], body: bytes, secret: str) -> bool:
    """The receiver's check, written out: HMAC-SHA256 over ``{t}.{body}``."""
    parts = dict(item.split("=", 1) for item in headers["X-Warmline-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) <= 300
    return fresh and hmac.compare_digest(expected, parts["v1"])


async def test_a_delivery_is_signed_and_carries_the_event(redis: Redis, records: Engine) -> None:
    clock = FakeClock()
    async with receiver() as hooks, aiohttp.ClientSession() as http:
        (delivery_id,) = seed(records, hooks.url)
        queue = queue_for(redis, clock)
        await queue.ensure_group()
        assert await Relay(redis, records, queue, clock).step() == 1
        deliverer = Deliverer(records, redis, http, max_attempts=3, environ=ENVIRON)
        worker = Worker(queue, {"webhook": deliverer}, "test-consumer", default_kind="webhook")
        assert await deliver_due(queue, worker) == ["done"]

    (got,) = hooks.received
    assert signed_correctly(got.headers, got.body, SECRET)
    assert not signed_correctly(got.headers, got.body, "another secret")
    assert verify(SECRET, got.headers["X-Warmline-Signature"], got.body, time.time())
    assert not verify(SECRET, got.headers["X-Warmline-Signature"], got.body, time.time() + 301)
    assert got.headers["X-Warmline-Event"] == "completed"
    assert got.headers["X-Warmline-Delivery"] == delivery_id
    assert got.headers["Content-Type"] == "application/json"
    body = json.loads(got.body)
    assert (body["id"], body["type"], body["endpoint"]) == (delivery_id, "completed", "amy-crm")
    assert body["data"]["call"]["call_sid"] == "CA-hook-0"
    assert body["data"]["call"]["caller"] == CALLER
    assert body["data"]["call"]["billing"]["revenue"] == "45.00"
    delivered = row(records, delivery_id)
    assert (delivered.status, delivered.attempts, delivered.last_status) == ("delivered", 1, 200)
    assert delivered.delivered_at is not None and delivered.last_error is None


async def test_the_relay_adds_each_event_once(redis: Redis, records: Engine) -> None:
    clock = FakeClock()
    ids = seed(records, "http://127.0.0.1:9/hooks", calls=3)
    queue = queue_for(redis, clock)
    await queue.ensure_group()
    relay = Relay(redis, records, queue, clock)
    assert await relay.step() == 3
    assert await relay.step() == 0
    # A relay that died after adding but before marking: the rows look unrelayed again.
    with Session(records) as session, session.begin():
        session.execute(update(t.WebhookEvent).values(relayed_at=None, status="pending"))
    assert await relay.step() == 3
    assert await redis.xlen(queue.stream) == 3
    jobs = await queue.claim("c", count=10)
    assert sorted(job.key for job in jobs) == sorted(ids)
    assert {row(records, i).status for i in ids} == {"queued"}


async def test_a_5xx_is_retried_with_backoff_then_delivered(redis: Redis, records: Engine) -> None:
    clock = FakeClock()
    async with receiver() as hooks, aiohttp.ClientSession() as http:
        hooks.statuses = [500, 502]
        (delivery_id,) = seed(records, hooks.url)
        queue = queue_for(redis, clock, max_attempts=5)
        await queue.ensure_group()
        await Relay(redis, records, queue, clock).step()
        deliverer = Deliverer(records, redis, http, max_attempts=5, environ=ENVIRON)
        worker = Worker(queue, {"webhook": deliverer}, "test-consumer", default_kind="webhook")
        assert await deliver_due(queue, worker) == ["retry"]
        failed = row(records, delivery_id)
        assert (failed.status, failed.attempts, failed.last_status) == ("retrying", 1, 500)
        assert failed.last_error == "HTTP 500"
        assert await deliver_due(queue, worker) == []  # not due before its backoff
        clock.advance(6.0)
        assert await deliver_due(queue, worker) == ["retry"]
        clock.advance(11.0)
        assert await deliver_due(queue, worker) == ["done"]
    assert len(hooks.received) == 3
    assert len({r.headers["X-Warmline-Delivery"] for r in hooks.received}) == 1
    delivered = row(records, delivery_id)
    assert (delivered.status, delivered.attempts, delivered.last_status) == ("delivered", 3, 200)


async def test_a_timeout_is_retried(redis: Redis, records: Engine) -> None:
    clock = FakeClock()
    async with receiver() as hooks, aiohttp.ClientSession() as http:
        hooks.hang_s = [2.0]
        (delivery_id,) = seed(records, hooks.url, timeout_s=0.2)
        queue = queue_for(redis, clock)
        await queue.ensure_group()
        await Relay(redis, records, queue, clock).step()
        deliverer = Deliverer(records, redis, http, max_attempts=3, environ=ENVIRON)
        worker = Worker(queue, {"webhook": deliverer}, "test-consumer", default_kind="webhook")
        assert await deliver_due(queue, worker) == ["retry"]
        assert row(records, delivery_id).last_error == "timeout: no answer within 0.2 s"
        assert row(records, delivery_id).last_status is None
        clock.advance(6.0)
        assert await deliver_due(queue, worker) == ["done"]
    assert len(hooks.received) == 2
    assert row(records, delivery_id).status == "delivered"


async def test_a_connection_error_is_retried(redis: Redis, records: Engine) -> None:
    clock = FakeClock()
    async with aiohttp.ClientSession() as http:
        (delivery_id,) = seed(records, "http://127.0.0.1:9/hooks")  # nothing listens there
        queue = queue_for(redis, clock)
        await queue.ensure_group()
        await Relay(redis, records, queue, clock).step()
        deliverer = Deliverer(records, redis, http, max_attempts=3, environ=ENVIRON)
        worker = Worker(queue, {"webhook": deliverer}, "test-consumer", default_kind="webhook")
        assert await deliver_due(queue, worker) == ["retry"]
    failed = row(records, delivery_id)
    assert failed.status == "retrying"
    assert failed.last_error is not None and failed.last_error.startswith("ClientConnectorError")


async def test_no_second_post_after_success(redis: Redis, records: Engine) -> None:
    """The job delivered again (a worker that died before its ack) finds its result."""
    clock = FakeClock()
    async with receiver() as hooks, aiohttp.ClientSession() as http:
        (delivery_id,) = seed(records, hooks.url)
        queue = queue_for(redis, clock)
        await queue.ensure_group()
        await Relay(redis, records, queue, clock).step()
        deliverer = Deliverer(records, redis, http, max_attempts=3, environ=ENVIRON)
        worker = Worker(queue, {"webhook": deliverer}, "test-consumer", default_kind="webhook")
        assert await deliver_due(queue, worker) == ["done"]
        fields = {"kind": "webhook", "delivery_id": delivery_id}
        await queue.enqueue(fields, key=delivery_id)
        assert await deliver_due(queue, worker) == ["done"]
    assert len(hooks.received) == 1
    assert row(records, delivery_id).attempts == 1


async def test_dead_letter_after_the_last_attempt_then_requeued(
    redis: Redis, records: Engine
) -> None:
    clock = FakeClock()
    async with receiver() as hooks, aiohttp.ClientSession() as http:
        hooks.statuses = [503, 503, 503]
        (delivery_id,) = seed(records, hooks.url)
        queue = queue_for(redis, clock, max_attempts=3)
        await queue.ensure_group()
        await Relay(redis, records, queue, clock).step()
        deliverer = Deliverer(records, redis, http, max_attempts=3, environ=ENVIRON)
        worker = Worker(queue, {"webhook": deliverer}, "test-consumer", default_kind="webhook")
        outcomes = []
        for _ in range(3):
            outcomes += await deliver_due(queue, worker)
            clock.advance(3600.0)
        assert outcomes == ["retry", "retry", "dead"]
        (letter,) = await queue.dead_letters()
        assert (letter.key, letter.attempts) == (delivery_id, 3)
        assert letter.error == "DeliveryFailed: HTTP 503"
        dead = row(records, delivery_id)
        assert (dead.status, dead.attempts, dead.last_error) == ("dead", 3, "HTTP 503")
        assert dead.delivered_at is None

        assert await requeue(redis, records, delivery_id)
        assert not await requeue(redis, records, delivery_id)  # no longer dead
        assert row(records, delivery_id).status == "queued"
        assert await queue.dead_letters() == []
        assert await deliver_due(queue, worker) == ["done"]
    assert len(hooks.received) == 4
    assert row(records, delivery_id).status == "delivered"


async def test_a_missing_secret_dead_letters_at_once(redis: Redis, records: Engine) -> None:
    clock = FakeClock()
    async with receiver() as hooks, aiohttp.ClientSession() as http:
        (delivery_id,) = seed(records, hooks.url)
        queue = queue_for(redis, clock)
        await queue.ensure_group()
        await Relay(redis, records, queue, clock).step()
        deliverer = Deliverer(records, redis, http, max_attempts=3, environ={})
        worker = Worker(queue, {"webhook": deliverer}, "test-consumer", default_kind="webhook")
        assert await deliver_due(queue, worker) == ["dead"]
    assert hooks.received == []
    dead = row(records, delivery_id)
    assert dead.status == "dead"
    assert (
        dead.last_error == f"the secret's variable {SECRET_ENV} is not set for `warmline deliver`"
    )


async def test_the_secret_and_the_callers_number_never_reach_the_logs(
    redis: Redis, redis_url: str, records: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """``run_delivery`` end to end (relay, worker, retries), every log record captured."""
    caplog.set_level(logging.DEBUG, logger="ivr")
    async with receiver() as hooks:
        hooks.statuses = [500]
        ids = seed(records, hooks.url, calls=2)
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_delivery(
                redis_url,
                records,
                consumer=f"test-{uuid.uuid4().hex[:6]}",
                backoff=Backoff(base_s=0.05, jitter=0.0),
                poll_ms=50,
                relay_interval_s=0.05,
                stop=stop,
                handle_signals=False,
                environ=ENVIRON,
            )
        )
        try:
            await _until(lambda: all(row(records, i).status == "delivered" for i in ids))
        finally:
            stop.set()
            await task
    assert len(hooks.received) == 3
    logged = "\n".join(repr(vars(record)) for record in caplog.records)
    assert "webhook delivered" in logged and "job failed" in logged
    assert SECRET not in logged
    assert CALLER not in logged
    assert hooks.url not in logged


async def _until(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Poll ``check`` (it reads the database: in a thread) until true."""
    started = time.monotonic()
    while not await asyncio.to_thread(check):
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not done within {timeout_s} s")
        await asyncio.sleep(0.05)
