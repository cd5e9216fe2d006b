"""The web pages in a real Chromium: sign in, find a call, hear it, judge it, dispute it.

One ``warmline serve`` with real records (see ``site.py``) serves every test of the module;
each test has a fresh browser context (its own cookies).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from tests.browser.site import AUDIO_S, PASSWORD, SEGMENTS, BrowserSite, browser_site

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(
    redis_url: str, scenario_deployment_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserSite]:
    with browser_site(redis_url, scenario_deployment_path, tmp_path_factory.mktemp("web")) as s:
        yield s


async def sign_in(page: Page, site: BrowserSite, username: str) -> None:
    await page.goto(f"{site.url}/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


async def test_signing_in_sends_each_role_to_its_pages(
    page: Page, site: BrowserSite, screenshots: Path
) -> None:
    await page.goto(f"{site.url}/login")
    await page.screenshot(path=screenshots / "login.png")
    await page.fill("#username", "quinn")
    await page.fill("#password", "not the password")
    await page.click("button[type=submit]")
    assert await page.inner_text("[role=alert]") == "Wrong username or password."
    await sign_in(page, site, "quinn")
    assert page.url == f"{site.url}/qa/calls"


async def test_signed_out_visitors_reach_neither_pages_nor_recordings(
    page: Page, site: BrowserSite
) -> None:
    await page.goto(f"{site.url}/qa/calls/{site.call_sid}")
    assert page.url.startswith(f"{site.url}/login?next=")
    reply = await page.request.get(f"{site.url}/recordings/{site.recording_sid}", max_redirects=0)
    assert reply.status == 303
    assert reply.headers["location"].startswith("/login")
    assert not reply.headers["content-type"].startswith("audio/")
    assert not (await reply.body()).startswith(b"RIFF")


async def as_user(browser: Browser, site: BrowserSite, username: str) -> Page:
    """A fresh browser context (its own cookies) signed in as ``username``."""
    page = await (await browser.new_context()).new_page()
    await sign_in(page, site, username)
    return page


async def test_an_officer_hears_only_their_own_calls(browser: Browser, site: BrowserSite) -> None:
    bo = await as_user(browser, site, "bo")
    other = await bo.request.get(f"{site.url}/recordings/{site.recording_sid}")
    assert other.status == 404
    amy = await as_user(browser, site, "amy")  # the officer the call was bridged to
    own = await amy.request.get(
        f"{site.url}/recordings/{site.recording_sid}", headers={"Range": "bytes=0-43"}
    )
    assert (own.status, own.headers["content-type"]) == (206, "audio/wav")
    assert (await own.body())[:4] == b"RIFF"


def line_of(site: BrowserSite) -> int:
    with Session(site.records) as session:
        line = session.scalar(
            select(t.BillingLine.id).join(t.Call).where(t.Call.call_sid == site.call_sid)
        )
    assert line is not None
    return line


async def test_qa_finds_a_call_hears_it_and_records_a_verdict(
    page: Page, site: BrowserSite, screenshots: Path
) -> None:
    await sign_in(page, site, "quinn")
    await page.select_option("#filter-campaign", "national")
    await page.click("#filter-submit")
    await page.wait_for_selector("#no-calls")
    await page.select_option("#filter-campaign", "sunbelt-refi")
    await page.click("#filter-submit")
    row = page.locator(f"tr.call-row[data-call-sid='{site.call_sid}']")
    await row.wait_for()
    await page.screenshot(path=screenshots / "qa-calls.png", full_page=True)

    await row.locator("a.call-link").click()
    await page.wait_for_url(f"**/qa/calls/{site.call_sid}")
    player = f"audio#player-{site.recording_sid}"
    assert await page.get_attribute(player, "src") == f"/recordings/{site.recording_sid}"
    lines = page.locator("button.transcript-line")
    assert await lines.count() == len(SEGMENTS)
    await lines.nth(2).click()  # "About four hundred thousand." at 4.5 s
    seeked = f"document.querySelector('{player}').currentTime"
    await page.wait_for_function(f"{seeked} >= 4.5 && {seeked} < {AUDIO_S}")
    assert await lines.nth(2).get_attribute("aria-current") == "true"
    await page.screenshot(path=screenshots / "qa-call.png", full_page=True)

    await page.check("#verdict-disagree")
    await page.select_option("#verdict-label", "ready")
    await page.check("#verdict-billable-yes")
    await page.fill("#verdict-notes", "Clearly ready to refinance.")
    await page.click("#verdict-submit")
    await page.wait_for_selector("#notice")
    history = await page.inner_text("#verdict-history")
    assert "quinn" in history and "Clearly ready to refinance." in history


async def test_an_officer_disputes_a_call_and_sees_the_operators_decision(
    browser: Browser, site: BrowserSite, screenshots: Path
) -> None:
    line = line_of(site)
    officer = await as_user(browser, site, "amy")
    assert officer.url == f"{site.url}/portal"
    row = officer.locator(f"tr#call-{site.call_sid}")
    await row.locator("summary").click()
    await officer.fill(f"#reason-{line}", "The caller already had a loan with us.")
    await row.locator("button[type=submit]").click()
    await officer.wait_for_selector("#notice")
    assert await row.locator(".dispute-status").inner_text() == "open"
    await officer.screenshot(path=screenshots / "portal.png", full_page=True)

    operator = await as_user(browser, site, "root")
    await operator.goto(f"{site.url}/dashboard")
    await operator.wait_for_selector("table#pnl")
    await operator.screenshot(path=screenshots / "dashboard.png", full_page=True)
    await operator.goto(f"{site.url}/disputes")
    dispute = operator.locator(f"tr[data-call-sid='{site.call_sid}']")
    await dispute.locator("textarea").fill("Agreed: an existing customer.")
    await operator.screenshot(path=screenshots / "disputes.png", full_page=True)
    await dispute.locator("button.accept").click()
    await operator.wait_for_selector("#no-open-disputes")

    await officer.reload()
    assert await row.locator(".dispute-status").inner_text() == "accepted"
    assert "Agreed: an existing customer." in await row.locator(".dispute-note").inner_text()


async def test_each_forbidden_access_is_refused(browser: Browser, site: BrowserSite) -> None:
    line = line_of(site)
    bo = await as_user(browser, site, "bo")  # officer B: the call went to amy-ng
    for path in (
        f"/qa/calls/{site.call_sid}",
        f"/app/api/calls/{site.call_sid}",
        f"/recordings/{site.recording_sid}",
    ):
        reply = await bo.request.get(site.url + path)
        assert reply.status == 404, path
    amy = await as_user(browser, site, "amy")
    forged = await amy.request.post(
        f"{site.url}/portal/lines/{line}/dispute", form={"reason": "no token"}
    )
    assert forged.status == 403
