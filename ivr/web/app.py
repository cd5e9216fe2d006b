"""Adding the web pages to the server's application: state, middleware, routes, static files.

``ivr/server/app.py`` calls :func:`setup_web` with the Redis client and records engine it
already owns (their lifecycles stay there); tests call it on a bare application.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import Engine

from ivr.config import Settings
from ivr.web.auth import web_middleware
from ivr.web.pages import page_routes
from ivr.web.portal import portal_routes
from ivr.web.qa import qa_routes
from ivr.web.recordings import recording_routes
from ivr.web.sessions import SessionStore
from ivr.web.state import WEB, WebState
from ivr.web.templates import load_templates
from ivr.web.throttle import LoginLimits, LoginThrottle
from ivr.web.token_pages import token_routes

STATIC = Path(__file__).with_name("static")


def setup_web(
    app: web.Application,
    settings: Settings,
    engine: Engine,
    redis: Redis,
    *,
    limits: LoginLimits | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """Serve the web pages from ``app`` (before it starts): sign-in, sessions, CSRF, the
    security headers, recordings and ``/static/``."""
    app[WEB] = WebState(
        settings=settings,
        engine=engine,
        sessions=SessionStore(
            redis, settings.web_session_idle_s, settings.web_session_max_s, clock
        ),
        throttle=LoginThrottle(redis, limits),
        templates=load_templates(),
        secure_cookies=settings.public_url.lower().startswith("https://"),
    )
    app.middlewares.append(web_middleware)
    app.add_routes(page_routes())
    app.add_routes(qa_routes())
    app.add_routes(portal_routes())
    app.add_routes(recording_routes())
    app.add_routes(token_routes())
    app.router.add_static("/static/", STATIC, name="static")
