"""Who is signed in, what they may open, and the CSRF check: one middleware for the web paths.

The middleware runs on every path except the carrier's webhooks (``/twilio/``), the bearer-token
API (``/api/``) and ``/healthz``. For each request it loads the session named by the cookie and
its user from the database (a user disabled since sign-in is signed out at once), checks the
CSRF token on every state-changing method, and adds the security headers. Pages then call
:func:`signed_in` with the roles they admit: a signed-out visitor is sent to sign in (JSON
callers get 401), a signed-in user of another role gets 404, so a page's existence is never
revealed to someone who may not see it.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, cast
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.orm import Session
from yarl import URL

from ivr.logs import fields
from ivr.web.accounts import active_user
from ivr.web.headers import STATIC_PREFIX, add_security_headers
from ivr.web.sessions import SESSION_COOKIE, WebSession, clear_session_cookie
from ivr.web.state import WEB

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NOT_WEB = ("/twilio/", "/api/", "/dni/")
JSON_PREFIX = "/app/api/"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/login"
LOGIN_CSRF_COOKIE = "warmline_login_csrf"
CSRF_REFUSED = (
    "This form has expired or did not come from Warmline's own pages (its security token is "
    "missing or wrong). Go back, reload the page and try again."
)


@dataclass(frozen=True)
class SignedIn:
    """The signed-in user, as the pages see them."""

    id: int
    username: str
    role: Literal["admin", "qa", "officer"]
    officer_id: str | None
    csrf_token: str


USER = web.RequestKey("warmline_user", SignedIn)
SESSION = web.RequestKey("warmline_session", WebSession)


def is_web_path(path: str) -> bool:
    return not path.startswith(NOT_WEB) and path != "/healthz"


def wants_json(request: web.Request) -> bool:
    return request.path.startswith(JSON_PREFIX) or "application/json" in request.headers.get(
        "Accept", ""
    )


def current_user(request: web.Request) -> SignedIn | None:
    return request.get(USER)


def signed_in(request: web.Request, *roles: str) -> SignedIn:
    """The signed-in user, if their role is one of ``roles`` (any role when none are given).

    Raises the answer otherwise: signed out → a redirect to ``/login?next=…`` (401 JSON for
    JSON requests); another role → 404.
    """
    user = current_user(request)
    if user is None:
        if wants_json(request):
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": "sign in first"}), content_type="application/json"
            )
        raise web.HTTPSeeOther(login_url(request.path_qs))
    if roles and user.role not in roles:
        raise web.HTTPNotFound()
    return user


def login_url(next_path: str) -> str:
    return str(URL(LOGIN_PATH).with_query(next=next_path))


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/`` (never an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _same(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


async def _given_token(request: web.Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def _refused(request: web.Request) -> web.Response:
    if wants_json(request):
        return web.json_response({"error": CSRF_REFUSED}, status=403)
    return web.Response(text=CSRF_REFUSED, status=403, content_type="text/plain")


async def _load_user(request: web.Request) -> tuple[WebSession, SignedIn] | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    state = request.app[WEB]
    session = await state.sessions.load(token)
    if session is None:
        return None

    def lookup(db: Session) -> tuple[int, str, str, str | None] | None:
        user = active_user(db, session.user_id)
        if user is None:
            return None
        return user.id, user.username, user.role, user.officer_id

    found: tuple[int, str, str, str | None] | None = await state.query(lookup)
    if found is None:  # disabled or removed since sign-in: the session ends now
        await state.sessions.delete(token)
        log.info("web session of an inactive user ended", extra=fields(user_id=session.user_id))
        return None
    ident, username, role, officer_id = found
    role_ = cast(Literal["admin", "qa", "officer"], role)
    return session, SignedIn(ident, username, role_, officer_id, session.csrf_token)


@web.middleware
async def web_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sessions, CSRF and security headers for the web paths; other paths pass untouched."""
    if not is_web_path(request.path):
        return await handler(request)
    if request.path.startswith(STATIC_PREFIX) and request.method in ("GET", "HEAD"):
        try:  # public files: no session to load
            response = await handler(request)
        except web.HTTPException as error:
            add_security_headers(request.path, error)
            raise
        add_security_headers(request.path, response)
        return response
    loaded = await _load_user(request)
    if loaded is not None:
        request[SESSION], request[USER] = loaded
    stale_cookie = loaded is None and SESSION_COOKIE in request.cookies
    try:
        if request.method in UNSAFE and not await _csrf_ok(request):
            log.info("web request refused: CSRF token", extra=fields(path=request.path))
            answer: web.StreamResponse = _refused(request)
        else:
            answer = await handler(request)
    except web.HTTPException as error:
        add_security_headers(request.path, error)
        if stale_cookie and SESSION_COOKIE not in error.cookies:
            clear_session_cookie(error, secure=request.app[WEB].secure_cookies)
        raise
    add_security_headers(request.path, answer)
    if stale_cookie and SESSION_COOKIE not in answer.cookies:
        clear_session_cookie(answer, secure=request.app[WEB].secure_cookies)
    return answer


async def _csrf_ok(request: web.Request) -> bool:
    """The session's token; for the sign-in form (no session yet) the pre-session token in its
    cookie, which a cross-site form cannot read or set (double submit)."""
    given = await _given_token(request)
    if request.path == LOGIN_PATH:
        return _same(request.cookies.get(LOGIN_CSRF_COOKIE), given)
    session = request.get(SESSION)
    return session is not None and _same(session.csrf_token, given)
