"""Signing in and out over a real socket, on SQLite and PostgreSQL with real Redis: the session
cookie and its flags, no session fixation, one message for every failed sign-in, throttling,
CSRF on the sign-in form and every other form, logout, disabled users, roles, ``next``
redirects and the security headers."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.config import Settings
from ivr.records import tables as t
from ivr.web.accounts import HASHER, disable_user
from ivr.web.auth import LOGIN_CSRF_COOKIE
from ivr.web.pages import WRONG
from ivr.web.sessions import PREFIX, SESSION_COOKIE
from tests.support.web import PASSWORD, Browser, Site, csrf_of, web_app

pytestmark = pytest.mark.integration


def session_key(token: str) -> str:
    return PREFIX + hashlib.sha256(token.encode()).hexdigest()


async def test_login_starts_a_fresh_session_with_safe_cookie_flags(site: Site) -> None:
    browser = site.browser()
    form = await browser.get("/login")
    assert form.status == 200
    login_cookie = form.cookies[LOGIN_CSRF_COOKIE]
    assert login_cookie.value == csrf_of(form.text)
    assert login_cookie["httponly"] and login_cookie["samesite"] == "Strict"
    # a session id planted by an attacker before sign-in is never adopted
    browser.session.cookie_jar.update_cookies({SESSION_COOKIE: "planted-by-an-attacker"})
    reply = await browser.post(
        "/login",
        {"csrf_token": csrf_of(form.text), "username": "  ROOT ", "password": PASSWORD},
    )
    assert (reply.status, reply.location) == (303, "/")
    cookie = reply.cookies[SESSION_COOKIE]
    assert cookie.value not in ("", "planted-by-an-attacker")
    assert len(cookie.value) >= 40
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # the public URL is http here
    assert cookie["max-age"] == ""  # a browser-session cookie
    stored = await site.redis.hgetall(session_key(cookie.value))
    assert stored[b"user"].isdigit() and len(stored[b"csrf"]) >= 40
    assert 0 < await site.redis.ttl(session_key(cookie.value)) <= 8 * 3600
    assert await site.redis.exists(session_key("planted-by-an-attacker")) == 0
    home = await browser.get("/")
    assert (home.status, home.location) == (303, "/qa/calls")

    def last_login() -> object:
        with Session(site.records) as session:
            user = session.scalars(select(t.User).where(t.User.username == "root")).one()
            return user.last_login_at, user.password_hash

    when, hashed = await asyncio.to_thread(last_login)
    assert when is not None
    assert str(hashed).startswith("$argon2id$") and "m=8,t=1" not in str(hashed)
    assert not HASHER.check_needs_rehash(str(hashed))  # the cheap seeded hash was replaced


async def test_a_new_sign_in_replaces_the_old_session(site: Site) -> None:
    browser = await site.signed_in("quinn")
    first = browser.cookie(SESSION_COOKIE)
    assert first
    assert (await browser.get("/login")).status == 303  # signed in: the form sends you on
    token = "pre-session-token-" + "x" * 30
    browser.session.cookie_jar.update_cookies({LOGIN_CSRF_COOKIE: token})
    again = await browser.post(
        "/login", {"csrf_token": token, "username": "quinn", "password": PASSWORD}
    )
    assert again.status == 303
    second = browser.cookie(SESSION_COOKIE)
    assert second and second != first
    assert await site.redis.exists(session_key(first)) == 0


@pytest.mark.parametrize(
    ("username", "home"), [("root", "/qa/calls"), ("quinn", "/qa/calls"), ("ana", "/portal")]
)
async def test_home_sends_each_role_to_its_pages(site: Site, username: str, home: str) -> None:
    browser = await site.signed_in(username)
    reply = await browser.get("/")
    assert (reply.status, reply.location) == (303, home)


async def test_https_public_url_makes_the_cookie_secure(site: Site) -> None:
    settings = Settings(public_url="https://ivr.example.test")  # type: ignore[call-arg]
    app = await asyncio.to_thread(web_app, settings, site.records, site.redis)
    async with TestServer(app) as server:
        browser = Browser(str(server.make_url("")).rstrip("/"))
        try:
            form = await browser.get("/login")
            assert form.cookies[LOGIN_CSRF_COOKIE]["secure"] is True
            token = csrf_of(form.text)
            # the test talks plain http, so the client holds the Secure cookie back: send it
            reply = await browser.post(
                "/login",
                {"csrf_token": token, "username": "root", "password": PASSWORD},
                headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={token}"},
            )
            assert reply.status == 303
            assert reply.cookies[SESSION_COOKIE]["secure"] is True
        finally:
            await browser.close()


async def test_wrong_password_and_unknown_user_read_the_same(site: Site) -> None:
    wrong = await site.browser().login("root", "not the password")
    unknown = await site.browser().login("nobody-here", "not the password")
    disabled_name = await site.browser().login("no such user!!", PASSWORD)
    for reply in (wrong, unknown, disabled_name):
        assert reply.status == 200
        assert WRONG in reply.text
        assert SESSION_COOKIE not in reply.cookies
    assert wrong.text.count(WRONG) == unknown.text.count(WRONG) == 1


async def test_a_disabled_user_cannot_sign_in(site: Site) -> None:
    await asyncio.to_thread(_disable, site, "ben")
    reply = await site.browser().login("ben")
    assert reply.status == 200 and WRONG in reply.text


def _disable(site: Site, username: str) -> None:
    with Session(site.records) as session:
        disable_user(session, username)
        session.commit()


async def test_throttling_per_username_kicks_in_and_clears(site: Site) -> None:
    browser = site.browser()
    for _ in range(2):
        assert WRONG in (await browser.login("quinn", "guess")).text
    assert (await browser.login("quinn")).status == 303  # a success clears the count
    for _ in range(3):  # the limit is 3 (tests.support.web.LIMITS)
        assert (await site.browser().login("quinn", "guess")).status == 200
    blocked = await site.browser().login("QUINN")  # even with the right password
    assert blocked.status == 429
    assert "Too many failed sign-ins" in blocked.text and "15 minutes" in blocked.text
    assert 840 < int(blocked.headers["Retry-After"]) <= 900
    assert SESSION_COOKIE not in blocked.cookies
    # other users are not held up by quinn's attacker
    assert (await site.browser().login("root")).status == 303
    # the window passing clears it
    for key in await site.redis.keys("warmline:web:login-failures:user:*"):
        await site.redis.delete(key)
    assert (await site.browser().login("quinn")).status == 303


async def test_throttling_per_address(site: Site) -> None:
    for name in ("u1", "u2", "u3", "u4", "u5", "u6"):  # the address limit is 6
        assert (await site.browser().login(name, "guess")).status == 200
    blocked = await site.browser().login("root")
    assert blocked.status == 429
    # X-Forwarded-For is not trusted unless configured: a forged one changes nothing
    browser = site.browser()
    form = await browser.get("/login")
    forged = await browser.post(
        "/login",
        {"csrf_token": csrf_of(form.text), "username": "root", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert forged.status == 429


async def test_login_without_or_with_a_wrong_csrf_token_is_refused(site: Site) -> None:
    browser = site.browser()
    form = await browser.get("/login")
    token = csrf_of(form.text)
    missing = await browser.post("/login", {"username": "root", "password": PASSWORD})
    wrong = await browser.post(
        "/login", {"csrf_token": token + "x", "username": "root", "password": PASSWORD}
    )
    # a cross-site form carries a token but cannot set the cookie it must match
    other = site.browser()
    no_cookie = await other.post(
        "/login", {"csrf_token": token, "username": "root", "password": PASSWORD}
    )
    for reply in (missing, wrong, no_cookie):
        assert reply.status == 403
        assert "security token is missing or wrong" in reply.text
        assert SESSION_COOKIE not in reply.cookies
    assert (await browser.login("root")).status == 303


async def test_logout_needs_the_csrf_token_and_ends_the_session(site: Site) -> None:
    browser = await site.signed_in("ana")
    token = browser.cookie(SESSION_COOKIE)
    assert token
    csrf = await browser.csrf()
    assert (await browser.post("/logout")).status == 403
    assert (await browser.post("/logout", {"csrf_token": "forged"})).status == 403
    assert (await browser.post("/logout", headers={"X-CSRF-Token": "forged"})).status == 403
    assert (await browser.get("/test/layout")).status == 200  # still signed in
    reply = await browser.post("/logout", {"csrf_token": csrf})
    assert (reply.status, reply.location) == (303, "/login")
    assert reply.cookies[SESSION_COOKIE].value == ""
    assert await site.redis.exists(session_key(token)) == 0
    # the old cookie, replayed, is worth nothing
    replay = site.browser()
    replay.session.cookie_jar.update_cookies({SESSION_COOKIE: token})
    after = await replay.get("/test/layout")
    assert (after.status, after.location) == (303, "/login?next=/test/layout")


async def test_csrf_header_is_accepted_for_scripts(site: Site) -> None:
    browser = await site.signed_in("quinn")
    csrf = await browser.csrf()
    assert (await browser.post("/test/change")).status == 403
    reply = await browser.post("/test/change", headers={"X-CSRF-Token": csrf})
    assert (reply.status, reply.text) == (200, "changed")
    # another user's token is no good here
    other = await (await site.signed_in("root")).csrf()
    assert (await browser.post("/test/change", {"csrf_token": other})).status == 403


async def test_a_disabled_users_session_stops_at_once(site: Site) -> None:
    browser = await site.signed_in("ben")
    token = browser.cookie(SESSION_COOKIE)
    assert token
    assert (await browser.get("/test/layout")).status == 200
    await asyncio.to_thread(_disable, site, "ben")
    reply = await browser.get("/test/layout")
    assert (reply.status, reply.location) == (303, "/login?next=/test/layout")
    assert await site.redis.exists(session_key(token)) == 0
    api = await browser.get("/app/api/probe")
    assert api.status == 401


async def test_roles_not_allowed_get_404(site: Site) -> None:
    quinn = await site.signed_in("quinn")
    root = await site.signed_in("root")
    assert (await quinn.get("/test/admin-only")).status == 404
    assert (await root.get("/test/admin-only")).text == "admins only"


async def test_signed_out_requests(site: Site) -> None:
    browser = site.browser()
    page = await browser.get("/test/admin-only?x=1")
    assert (page.status, page.location) == (303, "/login?next=/test/admin-only?x%3D1")
    api = await browser.get("/app/api/probe")
    assert api.status == 401 and api.headers["Content-Type"].startswith("application/json")
    accept = await browser.get("/test/layout", headers={"Accept": "application/json"})
    assert accept.status == 401
    post = await browser.post("/test/change", {"csrf_token": "anything"})
    assert post.status == 403


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/test/admin-only?x=1", "/test/admin-only?x=1"),
        ("//evil.example/steal", "/"),
        ("https://evil.example/steal", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/%0d%0aLocation:%20x", "/%0D%0ALocation:%20x"),
        ("", "/"),
    ],
)
async def test_next_only_goes_to_paths_here(site: Site, target: str, landing: str) -> None:
    reply = await site.browser().login("root", next_path=target)
    assert (reply.status, reply.location) == (303, landing)


async def test_login_page_carries_next_through_a_safe_filter(site: Site) -> None:
    browser = site.browser()
    form = await browser.get("/login?next=//evil.example")
    assert 'name="next" value="/"' in form.text
    form = await browser.get("/login?next=/portal")
    assert 'name="next" value="/portal"' in form.text


async def test_security_headers(site: Site) -> None:
    browser = await site.signed_in("quinn")
    for reply in (
        await site.browser().get("/login"),
        await browser.get("/test/layout"),
        await browser.get("/no-such-page"),
    ):
        csp = reply.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["Referrer-Policy"] == "same-origin"
        assert reply.headers["X-Frame-Options"] == "DENY"
        assert reply.headers["Cache-Control"] == "no-store"
    layout = await browser.get("/test/layout")
    assert "quinn" in layout.text and 'action="/logout"' in layout.text
    css = await browser.get("/static/warmline.css")
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
    assert "no-store" not in css.headers.get("Cache-Control", "")
    assert css.headers["X-Content-Type-Options"] == "nosniff"


async def test_other_paths_are_left_alone(site: Site) -> None:
    reply = await site.browser().post("/twilio/voice")
    assert reply.status == 404  # no CSRF refusal: webhooks have their own signature check
    assert "Content-Security-Policy" not in reply.headers


async def test_templates_escape(site: Site) -> None:
    reply = await site.browser().login("<script>alert(1)</script>", "x")
    assert "<script>alert" not in reply.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in reply.text
