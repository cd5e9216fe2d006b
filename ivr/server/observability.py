"""Readiness (``/readyz``), Prometheus metrics (``/metrics``) and request timing for the server,
and the small metrics endpoint a ``warmline worker`` serves.

``/healthz`` (liveness) stays in :mod:`ivr.server.app`. None of these routes is under the
``/twilio/`` signature check, and none answers with a secret, a phone number or a CallSid.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from sqlalchemy import Engine, text

from ivr.logs import fields, mask_text
from ivr.metrics import CONTENT_TYPE, ServerMetrics, exposition

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0
"""Longest wait for one dependency in a readiness check (a load balancer's probe is short)."""

UNMATCHED = "unmatched"
"""The endpoint label of a request no route matched (scanners' 404s: one series, not many)."""


def timing_middleware(metrics: ServerMetrics) -> Middleware:
    """Time every request by route pattern and status class, and count those in flight.

    The label is the route's pattern (``/twilio/gather``), never the URL that arrived: queries
    and path parameters would make a series per call.
    """

    @web.middleware
    async def timed(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = "5xx"
        metrics.in_flight.inc()
        try:
            response = await handler(request)
            status = f"{response.status // 100}xx"
            return response
        except web.HTTPException as exc:
            status = f"{exc.status // 100}xx"
            raise
        except asyncio.CancelledError:
            status = "cancelled"  # the client went away first
            raise
        finally:
            metrics.in_flight.dec()
            metrics.webhook_seconds.labels(endpoint=_endpoint(request), status=status).observe(
                time.perf_counter() - started
            )

    return timed


def _endpoint(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@dataclass
class Check:
    """One dependency's verdict; ``detail`` says why it failed (never a secret)."""

    name: str
    ok: bool
    detail: str = "ok"


@dataclass
class Readiness:
    """Whether this server should be sent calls: Redis, the records database and the configured
    models answer, and it is not shutting down.

    ``models`` returns the model checks (the application knows which are configured and
    loaded); ``draining`` is set the moment shutdown begins and never cleared.
    """

    redis: Redis
    records: Engine
    models: Callable[[], list[Check]]
    timeout_s: float = CHECK_TIMEOUT_S
    draining: bool = False
    intent_expected: bool = False
    """Set at start-up: the intent model's folder was there, so the classifier must load."""
    _database: asyncio.Task[None] | None = field(default=None, repr=False)

    async def checks(self) -> list[Check]:
        redis, database = await asyncio.gather(self._redis(), self._records())
        return [
            Check("draining", not self.draining, "shutting down" if self.draining else "ok"),
            redis,
            database,
            *self.models(),
        ]

    async def _redis(self) -> Check:
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.redis.ping()
        except TimeoutError:
            return Check("redis", False, f"no answer within {self.timeout_s:g} s")
        except Exception as exc:
            return Check("redis", False, _reason(exc))
        return Check("redis", True)

    async def _records(self) -> Check:
        # One probe at a time: a database that hangs must not pile up blocked threads (they
        # share the default executor with the recorder and the blocklist), so a probe still
        # running is waited on again instead of starting another.
        if self._database is None or self._database.done():
            self._database = asyncio.ensure_future(asyncio.to_thread(_select_one, self.records))
        try:
            await asyncio.wait_for(asyncio.shield(self._database), self.timeout_s)
        except TimeoutError:
            return Check("database", False, f"no answer within {self.timeout_s:g} s")
        except Exception as exc:
            return Check("database", False, _reason(exc))
        return Check("database", True)


def _select_one(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _reason(exc: BaseException) -> str:
    """The error's type and first line, numbers masked and bounded (database errors quote URLs
    without passwords, but may quote a statement's values)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    described = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return mask_text(described)[:200]


def readiness_handler(
    readiness: Readiness, metrics: ServerMetrics
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def ready(_request: web.Request) -> web.Response:
        """200 when every check passes, else 503; the body names each check and its verdict."""
        checks = await readiness.checks()
        ok = all(c.ok for c in checks)
        metrics.ready.set(1 if ok else 0)
        body = {
            "status": "ready" if ok else "unready",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        }
        if not ok:
            failed = ",".join(c.name for c in checks if not c.ok)
            log.warning("not ready", extra=fields(failed=failed))
        return web.json_response(body, status=200 if ok else 503)

    return ready


def authorized(request: web.Request, token: str | None) -> bool:
    """No token configured: anyone who reaches the port; else ``Authorization: Bearer <token>``."""
    if token is None:
        return True
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def metrics_handler(
    registry: CollectorRegistry,
    token: str | None,
    before: Callable[[], Awaitable[None]] | None = None,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /metrics``: the registry in Prometheus's text format, after ``before`` (which reads
    the gauges that live in Redis)."""

    async def metrics(request: web.Request) -> web.Response:
        if not authorized(request, token):
            raise web.HTTPUnauthorized(
                text="Metrics need the bearer token.\n", headers={"WWW-Authenticate": "Bearer"}
            )
        if before is not None:
            await before()
        return web.Response(body=exposition(registry), headers={"Content-Type": CONTENT_TYPE})

    return metrics


def queue_reader(metrics: ServerMetrics, redis: Redis) -> Callable[[], Awaitable[None]]:
    """Read the recordings queue and the records journal into the queue gauges at scrape time;
    a Redis that does not answer sets ``warmline_redis_up`` to 0 and leaves the gauges out."""
    from ivr.jobs import DEFAULT_GROUP, RECORDINGS_STREAM
    from ivr.records.journal import RECORDS_GROUP, RECORDS_STREAM

    queues = {
        "recordings": (RECORDINGS_STREAM, DEFAULT_GROUP),
        "records": (RECORDS_STREAM, RECORDS_GROUP),
    }

    async def read() -> None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await metrics.read_queues(redis, queues)
        except Exception:
            log.warning("queue depths unavailable for metrics", exc_info=True)
            metrics.queue_depth.clear()
            metrics.redis_up.set(0)
            return
        metrics.redis_up.set(1)

    return read


@contextlib.asynccontextmanager
async def metrics_server(
    registry: CollectorRegistry, host: str, port: int, token: str | None
) -> AsyncIterator[int]:
    """Serve ``GET /metrics`` for ``registry`` on ``host:port`` (a worker's own endpoint); yields
    the port (useful with 0)."""
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(registry, token))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
        bound = int(runner.addresses[0][1])
        log.info("metrics served", extra=fields(host=host, port=bound))
        yield bound
    finally:
        await runner.cleanup()
