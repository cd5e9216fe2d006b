"""Dynamic number insertion in a real Chromium: a publisher's page on another origin includes
the snippet ``async``; its printed number (text and ``tel:`` link) becomes the visit's pool
number, stays the same across a reload, and stays the printed one when Warmline cannot answer.
A call to the shown number, placed through the fake carrier against the real ``warmline
serve``, lands in the records with the page's UTM data and in the P&L by source.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, Route
from redis.asyncio import Redis
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.records.database import open_engine
from tests.dni.support import CAMPAIGN, POOL, PRINTED, call, dni_deployment
from tests.support.services import ServerProcess, free_port, start_server, warmline

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rates</title></head>
<body>
  <p>Call us today: <strong id="text">(800) 555-0100</strong></p>
  <p><a id="link" href="tel:+18005550100">Call 1-800-555-0100</a></p>
  <p id="fax">Fax: (800) 555-0199</p>
  <ul id="formats"><li>800.555.0100</li><li>+1 800 555 0100</li><li>8005550100</li>
    <li>(800)555-0100, or 800&nbsp;555&nbsp;0100</li><li>Ref 18005550100123</li></ul>
  <script async src="{warmline}/dni/dni.js" data-campaign="{campaign}"
          data-number="{printed}"></script>
</body></html>
"""
QUERY = (
    "utm_source=google&utm_medium=cpc&utm_campaign=refi-fall&utm_term=refinance+rates"
    "&utm_content=hero&gclid=TESTCLICK123"
)
SHOWN_TEXT = "(800) 555-0150"
FORMATS_SWAPPED = [
    "800.555.0150",
    "+1 800 555 0150",
    "8005550150",
    "(800)555-0150, or 800\u00a0555\u00a00150",
    "Ref 18005550100123",  # part of a longer number: not a phone number
]


@dataclass
class Dni:
    server: ServerProcess
    records: Engine
    database_url: str
    publisher: str
    """The publisher's site: another origin than Warmline's."""


@pytest.fixture
def dni(redis: Redis, redis_url: str, tmp_path: Path) -> Iterator[Dni]:
    """``warmline serve`` with the web pool deployment (Redis emptied: a fresh pool); the
    publisher's origin is allowed."""
    publisher = f"http://127.0.0.1:{free_port()}"
    deployment = dni_deployment(tmp_path, [publisher])
    database_url = f"sqlite:///{tmp_path / 'records.db'}"
    env = {"WARMLINE_DATABASE_URL": database_url}
    server = start_server(redis_url, None, tmp_path, deployment=deployment, extra_env=env)
    records = open_engine(database_url)
    try:
        yield Dni(server, records, database_url, publisher)
    finally:
        records.dispose()
        server.stop()


@pytest.fixture
async def publisher_site(dni: Dni) -> AsyncIterator[str]:
    """A tiny static site on the publisher's origin serving the landing page."""
    html = PAGE.format(warmline=dni.server.url, campaign=CAMPAIGN, printed=PRINTED)

    async def landing(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/refinance", landing)
    runner = web.AppRunner(app)
    await runner.setup()
    port = int(dni.publisher.rsplit(":", 1)[1])
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield dni.publisher
    finally:
        await runner.cleanup()


async def shown(page: Page) -> tuple[str, str | None, str]:
    text = await page.locator("#text").inner_text()
    link = page.locator("#link")
    return text, await link.get_attribute("href"), await link.inner_text()


async def swapped(page: Page) -> None:
    await page.wait_for_function(
        "document.getElementById('text').textContent !== '(800) 555-0100'", timeout=15_000
    )


def errors_of(page: Page) -> list[str]:
    found: list[str] = []
    page.on("pageerror", lambda error: found.append(str(error)))
    return found


async def test_the_page_shows_the_visits_number_and_its_call_is_attributed(
    browser: Browser, dni: Dni, publisher_site: str
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    errors = errors_of(page)
    landing = f"{publisher_site}/refinance?{QUERY}"
    await page.goto(landing)
    await swapped(page)
    assert await shown(page) == (SHOWN_TEXT, f"tel:{POOL[0]}", "Call 1-800-555-0150")
    assert await page.locator("#fax").inner_text() == "Fax: (800) 555-0199"
    formats = "[...document.querySelectorAll('#formats li')].map((li) => li.textContent)"
    assert await page.evaluate(formats) == FORMATS_SWAPPED
    # content the page renders later (a widget, a lazy footer) gets the visit's number too
    await page.evaluate(
        """() => {
          const later = document.createElement('p');
          later.id = 'later';
          later.innerHTML = 'Questions? 800-555-0100 <a href="tel:18005550100">call</a>';
          document.body.appendChild(later);
        }"""
    )
    await page.wait_for_function(
        "document.getElementById('later').textContent.includes('800-555-0150')", timeout=15_000
    )
    assert await page.locator("#later a").get_attribute("href") == f"tel:{POOL[0]}"

    await page.reload()
    await swapped(page)
    assert await shown(page) == (SHOWN_TEXT, f"tel:{POOL[0]}", "Call 1-800-555-0150")
    # the lease is cached for the visit: a page without the UTM tags still shows its number
    await page.goto(f"{publisher_site}/refinance")
    await swapped(page)
    assert (await shown(page))[0] == SHOWN_TEXT
    assert errors == []
    await context.close()

    call_sid = await call(dni.server.url, POOL[0], caller="+15125550161", seed=21)
    await asyncio.to_thread(wait_for, lambda: billed(dni.records, call_sid))
    with Session(dni.records) as session:
        row = session.scalars(
            select(t.Attribution).join(t.Call).where(t.Call.call_sid == call_sid)
        ).one()
        assert (row.source, row.medium, row.campaign, row.keyword, row.content) == (
            "google",
            "cpc",
            "refi-fall",
            "refinance rates",
            "hero",
        )
        assert (row.click_id, row.click_id_kind, row.landing_page) == (
            "TESTCLICK123",
            "gclid",
            landing,
        )
    today = datetime.now(UTC).date().isoformat()
    args = ["report", "pnl", "--by", "source", "--from", today, "--to", today, "--json"]
    report = warmline(*args, env={"WARMLINE_DATABASE_URL": dni.database_url})
    assert report.returncode == 0, report.stderr
    rows = json.loads(report.stdout)["rows"]
    assert [(r["id"], r["name"], r["calls"], r["billable"]) for r in rows] == [
        ("google", "google", 1, 1)
    ]


@pytest.mark.parametrize("failure", ["unreachable", "error"])
async def test_the_printed_number_stays_when_warmline_cannot_answer(
    browser: Browser, dni: Dni, publisher_site: str, failure: str
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    errors = errors_of(page)

    async def fail(route: Route) -> None:
        if failure == "unreachable":
            await route.abort("connectionrefused")
        elif route.request.method == "OPTIONS":  # the real preflight, then a failing lease
            await route.continue_()
        else:
            headers = {"Access-Control-Allow-Origin": publisher_site}
            await route.fulfill(status=503, headers=headers, json={"error": "down"})

    await page.route("**/dni/*/lease", fail)
    if failure == "unreachable":
        waited = page.expect_event("requestfailed", lambda r: r.url.endswith("/lease"))
    else:
        waited = page.expect_event(
            "response", lambda r: r.url.endswith("/lease") and r.request.method == "POST"
        )
    async with waited:
        await page.goto(f"{publisher_site}/refinance?{QUERY}")
    await page.evaluate("() => new Promise((done) => setTimeout(done, 100))")  # its promise ran
    assert await shown(page) == ("(800) 555-0100", "tel:+18005550100", "Call 1-800-555-0100")
    assert errors == []
    await context.close()


def billed(records: Engine, call_sid: str) -> bool:
    with Session(records) as session:
        line = select(t.BillingLine.id).join(t.Call).where(t.Call.call_sid == call_sid)
        return session.scalar(line) is not None


def wait_for(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:  # the server migrates the records database in the background
            if check():
                return
        except SQLAlchemyError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server's recorder did not write the call in time")
