"""The aiohttp application: typed app state, lifecycles, and the Twilio routes.

Start-up refuses an invalid deployment or flow (with every ``path:line`` problem) and a missing
auth token before a single call is taken; shutdown lets in-flight webhooks finish.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from redis.asyncio import Redis

from ivr.config import Settings
from ivr.deployment import Setup
from ivr.telephony.call_store import CallStore
from ivr.telephony.recording_events import RecordingEvents
from ivr.telephony.twilio.signature import signature_middleware
from ivr.telephony.twilio.webhooks import TwilioWebhooks

SETTINGS = web.AppKey("settings", Settings)
SETUP = web.AppKey("setup", Setup)
REDIS = web.AppKey("redis", Redis)

MAX_WEBHOOK_BYTES = 64 * 1024


class MissingSecret(RuntimeError):
    """A secret the server cannot run without is not in the environment."""


def create_app(
    settings: Settings,
    setup: Setup,
    redis_url: str,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """Build the application; Redis is connected on start-up and closed on cleanup."""
    if settings.twilio_auth_token is None:
        raise MissingSecret(
            "WARMLINE_TWILIO_AUTH_TOKEN is not set: webhooks cannot be verified. Set it to your "
            "Twilio account's auth token (any long random string for local simulation)."
        )
    token = settings.twilio_auth_token.get_secret_value()
    app = web.Application(
        middlewares=[signature_middleware(token, settings.public_base)],
        client_max_size=MAX_WEBHOOK_BYTES,
    )
    app[SETTINGS] = settings
    app[SETUP] = setup
    redis = Redis.from_url(redis_url)
    app[REDIS] = redis
    webhooks = TwilioWebhooks(
        setup=setup,
        store=CallStore(redis, settings.call_ttl_s),
        recordings=RecordingEvents(redis),
        public_base=settings.public_base,
        clock=clock,
    )
    app.add_routes(webhooks.routes())
    app.router.add_get("/healthz", health)
    app.cleanup_ctx.append(_redis_lifecycle)
    return app


async def _redis_lifecycle(app: web.Application) -> AsyncIterator[None]:
    await app[REDIS].ping()
    yield
    await app[REDIS].aclose()


async def health(request: web.Request) -> web.Response:
    """Liveness and Redis reachability, for load balancers."""
    try:
        await request.app[REDIS].ping()
    except Exception:
        return web.json_response({"status": "degraded", "redis": False}, status=503)
    return web.json_response({"status": "ok", "redis": True})
