"""The web pages under test: an aiohttp app with only ``setup_web`` (and a few probe pages),
seeded users of every role, officers' calls and stored recordings, and a browser-like client
with its own cookie jar."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from argon2 import PasswordHasher
from redis.asyncio import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ivr.config import Settings
from ivr.records import tables as t
from ivr.web.accounts import create_user
from ivr.web.app import setup_web
from ivr.web.auth import signed_in
from ivr.web.throttle import LoginLimits
from tests.support.records import add_answer, add_call, add_officer, add_publisher

PASSWORD = "correct horse battery"
DAY = datetime(2026, 11, 10, 15, tzinfo=UTC)
LIMITS = LoginLimits(per_user=3, per_ip=6, window_s=900)
AUDIO = b"RIFF" + bytes(range(256)) * 8
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""Cheap hashes for the fixture's users: sign-in rehashes them, as with outdated parameters."""
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, html
    return match.group(1)


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes
    cookies: Any

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    @property
    def location(self) -> str | None:
        location = self.headers.get("Location")
        return str(location) if location is not None else None


class Browser:
    """A client with its own cookie jar, following no redirects (tests read them)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def request(self, method: str, path: str, **options: Any) -> Reply:
        async with self.session.request(
            method, self.base + path, allow_redirects=False, **options
        ) as response:
            body = await response.read()
            return Reply(response.status, response.headers, body, response.cookies)

    async def get(self, path: str, **options: Any) -> Reply:
        return await self.request("GET", path, **options)

    async def post(self, path: str, data: dict[str, str] | None = None, **options: Any) -> Reply:
        return await self.request("POST", path, data=data or {}, **options)

    def cookie(self, name: str) -> str | None:
        for cookie in self.session.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None

    async def login(
        self, username: str, password: str = PASSWORD, next_path: str | None = None
    ) -> Reply:
        form = await self.get("/login")
        assert form.status == 200
        data = {"csrf_token": csrf_of(form.text), "username": username, "password": password}
        if next_path is not None:
            data["next"] = next_path
        return await self.post("/login", data)

    async def csrf(self) -> str:
        """The session's token, as the pages put it in their forms (here: the 403-free login
        page redirects, so read it from a page that renders the layout)."""
        page = await self.get("/test/layout")
        assert page.status == 200, page.text
        return csrf_of(page.text)

    async def close(self) -> None:
        await self.session.close()


@dataclass
class Site:
    base: str
    redis: Redis
    records: Engine
    recordings: Path
    browsers: list[Browser]

    def browser(self) -> Browser:
        browser = Browser(self.base)
        self.browsers.append(browser)
        return browser

    async def signed_in(self, username: str) -> Browser:
        browser = self.browser()
        reply = await browser.login(username)
        assert reply.status == 303, reply.text
        return browser


def _store(root: Path, key: str, data: bytes) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def seed(records: Engine, root: Path) -> None:
    """Officers ana and ben; users of each role; a recorded call for ana, for ben, for nobody,
    and two recordings whose stored paths point outside the store."""
    with Session(records) as session:
        add_officer(session, "ana", "Ana Ruiz")
        add_officer(session, "ben", "Ben Ode")
        for name, role, officer in [
            ("root", "admin", None),
            ("quinn", "qa", None),
            ("ana", "officer", "ana"),
            ("ben", "officer", "ben"),
        ]:
            create_user(session, name, PASSWORD, role, DAY, officer_id=officer, hasher=FAST)
        for sid, officer in [("CA-ana", "ana"), ("CA-ben", "ben"), ("CA-nobody", None)]:
            add_call(session, call_sid=sid, started_at=DAY, officer=officer, billable=False)
        recordings = [
            ("RE-ana", "CA-ana", "2026/11/10/CA-ana/RE-ana.wav"),
            ("RE-ben", "CA-ben", "2026/11/10/CA-ben/RE-ben.wav"),
            ("RE-nobody", "CA-nobody", "2026/11/10/CA-nobody/RE-nobody.wav"),
            ("RE-escape", "CA-nobody", "../outside.wav"),
            ("RE-absolute", "CA-nobody", str(root.parent / "outside.wav")),
            ("RE-missing", "CA-ana", "2026/11/10/CA-ana/RE-missing.wav"),
            ("RE-unstored", "CA-ana", None),
        ]
        for sid, call_sid, path in recordings:
            session.add(
                t.Recording(
                    recording_sid=sid, call_sid=call_sid, url=None, duration_s=8, channels=2,
                    source="DialVerb", path=path, created_at=DAY,
                )
            )  # fmt: skip
        session.commit()
    for sid, call_sid, _ in recordings[:3]:
        _store(root, f"2026/11/10/{call_sid}/{sid}.wav", AUDIO)
    (root.parent / "outside.wav").write_bytes(AUDIO)


async def layout(request: web.Request) -> web.StreamResponse:
    """Test pages: the layout for any signed-in user, and pages for one role."""
    from ivr.web.templates import render

    signed_in(request)
    return render(request, "base.html")


async def admin_only(request: web.Request) -> web.StreamResponse:
    signed_in(request, "admin")
    return web.Response(text="admins only")


async def api_probe(request: web.Request) -> web.StreamResponse:
    user = signed_in(request)
    return web.json_response({"user": user.username})


async def echo(request: web.Request) -> web.StreamResponse:
    signed_in(request)
    return web.Response(text="changed")


def web_app(settings: Settings, records: Engine, redis: Redis) -> web.Application:
    app = web.Application()
    setup_web(app, settings, records, redis, limits=LIMITS)
    app.router.add_get("/test/layout", layout)
    app.router.add_get("/test/admin-only", admin_only)
    app.router.add_get("/app/api/probe", api_probe)
    app.router.add_post("/test/change", echo)
    return app


# -- the officer portal and the operator pages ---------------------------------------------------

PORTAL_SCRIPT_NAME = "<script>alert(1)</script> Media"
"""Publisher b's name: every page must show it escaped."""


def seed_portal(records: Engine) -> dict[str, int]:
    """Billing lines for the portal and the operator pages, on :data:`DAY` (plus one call the
    next day): ana's billable call (answers, score, bridged 4 minutes) and a too-short one,
    ben's billable call, with two publishers and two officer legs. Returns the billing line
    ids by call sid."""
    with Session(records) as session:
        add_publisher(session, "pub-a", "Alpha Leads")
        add_publisher(session, "pub-b", PORTAL_SCRIPT_NAME)
        paid, paid_line = add_call(
            session, call_sid="CA-ana-paid", started_at=DAY + timedelta(hours=1),
            publisher="pub-a", officer="ana", billable=True, revenue="45.00", payout="30.00",
            score=72,
        )  # fmt: skip
        paid.intent = "shopping"
        for slot, value in [("loan_type", "refinance"), ("state", "TX"), ("credit_band", "good")]:
            add_answer(session, paid, slot, value)
        _, short_line = add_call(
            session, call_sid="CA-ana-short", started_at=DAY + timedelta(hours=2),
            publisher="pub-a", officer="ana", bridged_s=30.0, rule="too_short",
            reason="bridged 30 s, under 90 s", score=40,
        )  # fmt: skip
        bens, bens_line = add_call(
            session, call_sid="CA-ben-paid", started_at=DAY + timedelta(hours=3),
            publisher="pub-b", officer="ben", billable=True, revenue="50.00", payout="35.00",
            score=55,
        )  # fmt: skip
        _, next_line = add_call(
            session, call_sid="CA-ana-next", started_at=DAY + timedelta(days=1), officer="ana"
        )
        for call, outcome in [(paid, "bridged"), (bens, "no_answer")]:
            session.add(
                t.TransferAttempt(
                    call_id=call.id, position=0, step="transfer", officer_id=call.officer_id,
                    number="+15125550111", outcome=outcome, started_at=call.started_at,
                    duration_s=20.0,
                )
            )  # fmt: skip
        session.commit()
        return {
            "CA-ana-paid": paid_line.id,
            "CA-ana-short": short_line.id,
            "CA-ben-paid": bens_line.id,
            "CA-ana-next": next_line.id,
        }


class _Tables(HTMLParser):
    """The text of each cell (``th`` and ``td``) of each row of the table with one id."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth = table_id, 0
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """Every row of ``<table id=table_id>`` as its cells' text, header rows included."""
    parser = _Tables(table_id)
    parser.feed(html)
    return parser.rows


_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)


def inline_svgs(html: str) -> list[ET.Element]:
    """Every inline ``<svg>`` of the page, parsed as XML (a malformed one fails the test)."""
    return [ET.fromstring(match.group(0)) for match in _SVG.finditer(html)]


def assert_no_inline_code(html: str) -> None:
    """The page holds no inline script or style (the CSP would block them anyway)."""
    lowered = html.lower()
    for inline in ("<script", "<style", " style=", " onclick=", " onload=", "javascript:"):
        assert inline not in lowered, inline
