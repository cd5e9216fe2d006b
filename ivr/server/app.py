"""The aiohttp application: typed app state, lifecycles, and the Twilio routes.

Start-up refuses an invalid deployment or flow (with every ``path:line`` problem) and a missing
auth token before a single call is taken; shutdown lets in-flight webhooks finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import Engine

from ivr.compliance.blocklist import Blocklist
from ivr.compliance.repeats import RepeatCallers
from ivr.config import Settings
from ivr.deployment import Setup
from ivr.dni.endpoint import DniEndpoint
from ivr.dni.pool import NumberPool
from ivr.jobs.runner import default_consumer_name
from ivr.logs import fields
from ivr.metrics import ServerMetrics
from ivr.qualifier import Qualifier, open_qualifier
from ivr.records.api import records_routes
from ivr.records.database import open_engine
from ivr.records.journal import RECORDS_STREAM, RecordJournal
from ivr.records.recorder import InProcess, Recorder, records_queue
from ivr.routing.router import Router
from ivr.routing.usage import UsageBook
from ivr.server.observability import (
    Check,
    Readiness,
    metrics_handler,
    queue_reader,
    readiness_handler,
    timing_middleware,
)
from ivr.telephony.call_store import CallStore
from ivr.telephony.recording_events import RecordingEvents
from ivr.telephony.twilio.signature import signature_middleware
from ivr.telephony.twilio.webhooks import TwilioWebhooks
from ivr.telephony.voice_answers import VoiceAnswers
from ivr.web.app import setup_web

SETTINGS = web.AppKey("settings", Settings)
SETUP = web.AppKey("setup", Setup)
REDIS = web.AppKey("redis", Redis)
WEBHOOKS = web.AppKey("webhooks", TwilioWebhooks)
RECORDS = web.AppKey("records", Engine)
RECORDER = web.AppKey("recorder", Recorder)
METRICS = web.AppKey("metrics", ServerMetrics)
READINESS = web.AppKey("readiness", Readiness)

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 64 * 1024
BLOCKLIST_CHECK_S = 5.0


class MissingSecret(RuntimeError):
    """A secret the server cannot run without is not in the environment."""


def create_app(
    settings: Settings,
    setup: Setup,
    redis_url: str,
    clock: Callable[[], float] = time.time,
    *,
    recorder: bool = True,
) -> web.Application:
    """Build the application; Redis is connected on start-up and closed on cleanup.

    ``recorder``: drain the records journal into the database in this process (every server
    does by default; tests that read the journal itself turn it off).
    """
    if settings.twilio_auth_token is None:
        raise MissingSecret(
            "WARMLINE_TWILIO_AUTH_TOKEN is not set: webhooks cannot be verified. Set it to your "
            "Twilio account's auth token (any long random string for local simulation)."
        )
    token = settings.twilio_auth_token.get_secret_value()
    metrics = ServerMetrics()
    app = web.Application(
        middlewares=[timing_middleware(metrics), signature_middleware(token, settings.public_base)],
        client_max_size=MAX_WEBHOOK_BYTES,
    )
    app[SETTINGS] = settings
    app[SETUP] = setup
    redis = Redis.from_url(redis_url)
    app[REDIS] = redis
    app[METRICS] = metrics
    webhooks = TwilioWebhooks(
        setup=setup,
        store=CallStore(redis, settings.call_ttl_s, journal=RECORDS_STREAM),
        recordings=RecordingEvents(redis),
        public_base=settings.public_base,
        clock=clock,
        voice_wait_s=settings.voice_wait_s,
        voice_budget_s=settings.voice_budget_s,
    )
    repeats = RepeatCallers(redis)
    webhooks.router = Router(setup, UsageBook(redis), repeats, clock)
    webhooks.router.metrics = metrics
    webhooks.metrics = metrics
    webhooks.repeats = repeats
    webhooks.blocklist = Blocklist.load(setup.blocklist_paths)
    webhooks.journal = RecordJournal(redis)
    webhooks.numbers = NumberPool(redis)
    app[WEBHOOKS] = webhooks
    records = open_engine(settings.records_url)
    app[RECORDS] = records
    readiness = Readiness(redis, records, lambda: _model_checks(app))
    app[READINESS] = readiness
    app.on_shutdown.append(_drain)
    app.add_routes(webhooks.routes())
    dni = DniEndpoint(
        setup,
        webhooks.numbers,
        metrics,
        clock,
        trust_forwarded_for=settings.web_trust_forwarded_for,
    )
    app.add_routes(dni.routes())
    app.add_routes(
        records_routes(records, settings.api_token, recordings_dir=settings.recordings_dir)
    )
    setup_web(app, settings, records, redis)
    app.router.add_get("/healthz", health)
    app.router.add_get("/readyz", readiness_handler(readiness, metrics))
    metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    app.router.add_get(
        "/metrics",
        metrics_handler(metrics.registry, metrics_token, queue_reader(metrics, redis)),
    )
    app.cleanup_ctx.append(_redis_lifecycle)
    if recorder:
        url = settings.records_url.render_as_string(hide_password=False)
        writer = InProcess(url, setup.path)
        app[RECORDER] = Recorder(records_queue(redis), writer, default_consumer_name())
        app[RECORDER].written = metrics.records_written
        app.cleanup_ctx.append(_records_lifecycle)
    else:
        app.on_cleanup.append(_dispose_records)
    app.cleanup_ctx.append(_ping_lifecycle)
    app.cleanup_ctx.append(_blocklist_lifecycle)
    if settings.drain_s > 0:
        app.cleanup_ctx.append(_drain_on_sigterm)
    app.cleanup_ctx.append(_intent_lifecycle)
    if settings.whisper_model:
        app.cleanup_ctx.append(_voice_lifecycle)
    return app


async def _voice_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Load Whisper in the answer pool before the first call; refuse to start without it."""
    from scoring.answer_pool import AnswerPool  # torch and whisper load only when configured

    settings = app[SETTINGS]
    assert settings.whisper_model is not None
    pool = AnswerPool(
        settings.whisper_model,
        processes=settings.whisper_processes,
        threads=settings.whisper_threads,
    )
    try:
        await pool.start()
    except BaseException:
        await asyncio.to_thread(pool.close, True)  # joined: the server is about to exit
        raise
    session = aiohttp.ClientSession()
    token = settings.twilio_auth_token
    voice = VoiceAnswers(
        app[REDIS],
        pool,
        session,
        account_sid=settings.twilio_account_sid,
        auth_token=token.get_secret_value() if token else None,
        basic_auth=settings.twilio_media_basic_auth,
        timings=app[METRICS].transcription_seconds.labels(path="answer"),
    )
    app[WEBHOOKS].voice = voice
    yield
    app[WEBHOOKS].voice = None
    await voice.close()
    await session.close()


async def _intent_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Load the intent classifier once, before the first call; without it, calls still score."""
    webhooks = app[WEBHOOKS]
    model = app[SETTINGS].intent_model
    webhooks.qualifier = await open_qualifier(model, app[SETUP].flows.values())
    # Readiness expects the classifier only where its folder was there to load at start-up.
    app[READINESS].intent_expected = bool(model) and await asyncio.to_thread(
        Path(str(model)).is_dir
    )
    yield
    webhooks.qualifier = Qualifier(None)


async def _ping_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """One HTTP session for ping-post bids, its connections kept warm between calls."""
    router = app[WEBHOOKS].router
    assert router is not None
    async with aiohttp.ClientSession() as session:
        router.session = session
        yield
        router.session = None


async def _blocklist_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Re-read changed do-not-call files in the background, and at once on SIGHUP."""
    blocklist = app[WEBHOOKS].blocklist
    if not blocklist.paths:
        yield
        return
    loop = asyncio.get_running_loop()
    reloads: set[asyncio.Task[bool]] = set()

    def reload_now() -> None:
        task = asyncio.ensure_future(asyncio.to_thread(blocklist.refresh, True))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    async def watch() -> None:
        while True:
            await asyncio.sleep(BLOCKLIST_CHECK_S)
            await asyncio.to_thread(blocklist.refresh)

    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off the main thread
        loop.add_signal_handler(signal.SIGHUP, reload_now)
    watcher = asyncio.create_task(watch())
    yield
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.remove_signal_handler(signal.SIGHUP)


async def _records_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Migrate and sync the records database, then drain the journal into it until shutdown.

    Calls are taken even while the database is unreachable: the journal keeps every record in
    Redis and the recorder catches up when the database returns.
    """
    recorder = app[RECORDER]
    stop = asyncio.Event()
    task = asyncio.create_task(recorder.run(stop))
    yield
    stop.set()
    await task
    await asyncio.to_thread(recorder.writer.close)
    await _dispose_records(app)


async def _dispose_records(app: web.Application) -> None:
    await asyncio.to_thread(app[RECORDS].dispose)


async def _redis_lifecycle(app: web.Application) -> AsyncIterator[None]:
    await app[REDIS].ping()
    yield
    await app[REDIS].aclose()


async def _drain_on_sigterm(app: web.Application) -> AsyncIterator[None]:
    """With ``WARMLINE_DRAIN_S``: SIGTERM first turns readiness to 503 while the server keeps
    serving, and only after the drain stops it as usual (listener closed, in-flight webhooks
    finished). Load balancers that poll ``/readyz`` take the server out before it refuses a
    connection. A second SIGTERM stops at once. Installed after aiohttp's own handler, which it
    replaces; aiohttp removes it again on cleanup."""
    loop = asyncio.get_running_loop()
    readiness, drain_s = app[READINESS], app[SETTINGS].drain_s

    def stop() -> None:
        raise web.GracefulExit()

    def begin() -> None:
        if readiness.draining:
            stop()  # told twice: no more waiting
        readiness.draining = True
        log.info("draining: readiness 503, still serving", extra=fields(drain_s=drain_s))
        loop.call_later(drain_s, stop)

    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off the main thread
        loop.add_signal_handler(signal.SIGTERM, begin)
    yield


async def _drain(app: web.Application) -> None:
    """Shutdown has begun: readiness answers 503 from now on, so load balancers stop sending."""
    app[READINESS].draining = True
    log.info("shutting down: readiness now 503; in-flight webhooks finish")


def _model_checks(app: web.Application) -> list[Check]:
    """The configured models, loaded: the intent classifier when its folder existed at start-up,
    Whisper's answer pool when ``WARMLINE_WHISPER_MODEL`` is set."""
    settings, webhooks = app[SETTINGS], app[WEBHOOKS]
    checks = []
    if app[READINESS].intent_expected:
        loaded = webhooks.qualifier.loaded
        checks.append(Check("intent_model", loaded, "ok" if loaded else "configured, not loaded"))
    if settings.whisper_model:
        loaded = webhooks.voice is not None
        checks.append(Check("whisper", loaded, "ok" if loaded else "configured, not loaded"))
    return checks


async def health(request: web.Request) -> web.Response:
    """Liveness and Redis reachability (load balancers should probe ``/readyz`` instead)."""
    try:
        await request.app[REDIS].ping()
    except Exception:
        return web.json_response({"status": "degraded", "redis": False}, status=503)
    return web.json_response({"status": "ok", "redis": True})
