"""Signing in and out, and the home page that sends each role to its own pages.

- ``GET /login``: the form, with a fresh pre-session CSRF token (cookie + hidden field).
- ``POST /login``: throttled per username and client address; the same message for an unknown
  user, a wrong password and a disabled account; success starts a new session (any session
  the browser brought is ended, never reused) and goes to ``next`` when it is a path here.
- ``POST /logout``: ends the session (CSRF-checked by the middleware).
- ``GET /``: officers to ``/portal``, QA staff and admins to ``/qa/calls``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy.orm import Session

from ivr.logs import fields
from ivr.web.accounts import AccountError, authenticate, normalise_username
from ivr.web.auth import (
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    current_user,
    safe_next,
    signed_in,
)
from ivr.web.sessions import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from ivr.web.state import WEB
from ivr.web.templates import render
from ivr.web.throttle import client_address

log = logging.getLogger(__name__)

WRONG = "Wrong username or password."
THROTTLED = (
    "Too many failed sign-ins. For your account's safety, please wait {minutes} before trying "
    "again."
)
HOMES = {"officer": "/portal", "qa": "/qa/calls", "admin": "/qa/calls"}


def _login_page(
    request: web.Request, *, next_path: str, username: str = "", error: str = "", status: int = 200
) -> web.Response:
    token = secrets.token_urlsafe(32)
    context = {"next": next_path, "username": username, "error": error}
    response = render(request, "login.html", context, status, csrf_token=token)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        path=LOGIN_PATH,
        httponly=True,
        samesite="Strict",
        secure=request.app[WEB].secure_cookies,
    )
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    next_path = safe_next(request.query.get("next"))
    if current_user(request) is not None:
        raise web.HTTPSeeOther(next_path)
    return _login_page(request, next_path=next_path)


async def login(request: web.Request) -> web.StreamResponse:
    state = request.app[WEB]
    form = await request.post()
    raw_name, password = form.get("username"), form.get("password")
    next_path = safe_next(str(form.get("next") or ""))
    if not isinstance(raw_name, str) or not isinstance(password, str):
        return _login_page(request, next_path=next_path, error=WRONG, status=400)
    try:
        username = normalise_username(raw_name)
    except AccountError:
        username = raw_name.strip().lower()[:200]
    address = client_address(request, state.settings.web_trust_forwarded_for)
    wait = await state.throttle.retry_after(username, address)
    if wait is not None:
        log.info("web sign-in throttled", extra=fields(address=address))
        minutes = max(1, -(-wait // 60))
        message = THROTTLED.format(minutes=f"{minutes} minute{'s' if minutes != 1 else ''}")
        response = _login_page(
            request, next_path=next_path, username=raw_name, error=message, status=429
        )
        response.headers["Retry-After"] = str(wait)
        return response

    def check(session: Session) -> int | None:
        user = authenticate(session, username, password, datetime.now(UTC))
        return None if user is None else user.id

    user_id = await state.query(check, write=True)
    if user_id is None:
        await state.throttle.failed(username, address)
        log.info("web sign-in refused", extra=fields(address=address))
        return _login_page(request, next_path=next_path, username=raw_name, error=WRONG)
    await state.throttle.succeeded(username)
    await state.sessions.delete(request.cookies.get(SESSION_COOKIE, ""))
    session = await state.sessions.create(user_id)
    log.info("web sign-in", extra=fields(user_id=user_id))
    response = web.HTTPSeeOther(next_path)
    set_session_cookie(response, session.token, secure=state.secure_cookies)
    response.del_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    state = request.app[WEB]
    await state.sessions.delete(request.cookies.get(SESSION_COOKIE, ""))
    response = web.HTTPSeeOther(LOGIN_PATH)
    clear_session_cookie(response, secure=state.secure_cookies)
    raise response


async def home(request: web.Request) -> web.StreamResponse:
    user = signed_in(request)
    raise web.HTTPSeeOther(HOMES[user.role])


def page_routes() -> list[web.RouteDef]:
    return [
        web.get(LOGIN_PATH, login_form),
        web.post(LOGIN_PATH, login),
        web.post("/logout", logout),
        web.get("/", home),
    ]
