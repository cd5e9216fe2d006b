"""The header's navigation over a real app, on SQLite and PostgreSQL: each role sees exactly
the links to the pages it may open, ``aria-current="page"`` marks the page shown (and
``aria-current="true"`` the section of a call's page), and no page repeats those links in a
navigation of its own."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

import pytest

from ivr.web.auth import SignedIn
from ivr.web.templates import NAVIGATION, navigation
from scoring.intent.labels import LABELS
from tests.support.web import Browser, Site, assert_no_inline_code

REVIEW = [("/qa/calls", "Calls"), ("/qa/queue", "Review queue")]
WEBHOOKS = ("/webhooks", "Webhooks")
LINKS = {
    "root": [*REVIEW, ("/dashboard", "Dashboard"), ("/disputes", "Disputes"), WEBHOOKS],
    "quinn": REVIEW,
    "ana": [("/portal", "My transfers"), WEBHOOKS],
}
"""The seeded users (admin, qa, officer) and the header links each must see, in order."""
EVERY_PAGE = sorted({href for links in LINKS.values() for href, _ in links})
SEEDED_CALLS = ("CA-ana", "CA-ben", "CA-nobody")
QA_SCRIPT = '<script src="/static/qa.js" defer></script>'
"""The QA pages' one script, a file: the header itself brings neither script nor style."""


@dataclass
class Link:
    href: str
    title: str
    current: str | None


class _Navigation(HTMLParser):
    """The links of the header's ``nav.site-nav``, and those of every other ``nav``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.header: list[Link] = []
        self.elsewhere: list[str] = []
        """The hrefs of the links in the page's other navigations (pagers, …)."""
        self.navs = 0
        self._open: list[bool] = []
        self._link: Link | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "nav":
            site = "site-nav" in values.get("class", "").split()
            self.navs += site
            self._open.append(site)
        elif tag == "a" and self._open:
            if self._open[-1]:
                self._link = Link(values.get("href", ""), "", values.get("aria-current"))
            else:
                self.elsewhere.append(values.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self._open:
            self._open.pop()
        elif tag == "a" and self._link is not None:
            self._link.title = " ".join(self._link.title.split())
            self.header.append(self._link)
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link.title += data


def read_navigation(html: str) -> _Navigation:
    parsed = _Navigation()
    parsed.feed(html)
    return parsed


async def header_of(browser: Browser, path: str, status: int = 200) -> _Navigation:
    reply = await browser.get(path)
    assert reply.status == status, (path, reply.status, reply.text)
    assert_no_inline_code(reply.text.replace(QA_SCRIPT, ""))
    parsed = read_navigation(reply.text)
    assert parsed.navs == 1, path
    return parsed


def marked(parsed: _Navigation) -> dict[str, str]:
    """The header links carrying ``aria-current``, by href."""
    return {link.href: link.current for link in parsed.header if link.current is not None}


@pytest.mark.integration
@pytest.mark.parametrize("username", list(LINKS))
async def test_each_role_sees_exactly_its_links_and_the_page_shown_is_marked(
    site: Site, username: str
) -> None:
    browser = await site.signed_in(username)
    expected = LINKS[username]
    # The review queue opens its first call (see below); every other link is a page of its own.
    for href in [href for href, _ in expected if href != "/qa/queue"]:
        parsed = await header_of(browser, href)
        assert [(link.href, link.title) for link in parsed.header] == expected
        assert marked(parsed) == {href: "page"}
        # No other navigation on the page repeats the header's links.
        assert not {link.href for link in parsed.header} & set(parsed.elsewhere), href


@pytest.mark.integration
@pytest.mark.parametrize("username", list(LINKS))
async def test_every_link_opens_and_no_other_page_does(site: Site, username: str) -> None:
    browser = await site.signed_in(username)
    own = {href for href, _ in LINKS[username]}
    for href in EVERY_PAGE:
        reply = await browser.get(href)
        if href in own:
            assert reply.status in (200, 303), (href, reply.status)
        else:
            assert reply.status == 404, (href, reply.status)


@pytest.mark.integration
async def test_a_call_page_is_marked_under_calls_or_under_the_queue(site: Site) -> None:
    quinn = await site.signed_in("quinn")
    start = await quinn.get("/qa/queue")
    assert start.status == 303
    assert start.location is not None and start.location.endswith("?queue=1")
    from_queue = await header_of(quinn, start.location)
    assert marked(from_queue) == {"/qa/queue": "true"}
    assert "queue-banner" in (await quinn.get(start.location)).text

    sid = start.location.split("?")[0].rsplit("/", 1)[1]
    from_list = await header_of(quinn, f"/qa/calls/{sid}")
    assert marked(from_list) == {"/qa/calls": "true"}

    # A refused verdict shows the call again, still under the link it came from.
    token = await quinn.csrf()
    for queue, section in (("1", "/qa/queue"), ("", "/qa/calls")):
        refused = await quinn.post(
            f"/qa/calls/{sid}/verdict", {"csrf_token": token, "queue": queue, "agrees": "no"}
        )
        assert refused.status == 400, refused.text
        assert marked(read_navigation(refused.text)) == {section: "true"}


@pytest.mark.integration
async def test_the_empty_queue_is_marked_as_the_page_shown(site: Site) -> None:
    quinn = await site.signed_in("quinn")
    token = await quinn.csrf()
    for sid in SEEDED_CALLS:
        verdict = {"csrf_token": token, "agrees": "no", "label": LABELS[0]}
        saved = await quinn.post(f"/qa/calls/{sid}/verdict", verdict)
        assert saved.status == 303, saved.text
    empty = await header_of(quinn, "/qa/queue")
    assert marked(empty) == {"/qa/queue": "page"}
    assert [(link.href, link.title) for link in empty.header] == REVIEW
    assert not {link.href for link in empty.header} & set(empty.elsewhere)


@pytest.mark.integration
async def test_a_page_with_a_query_is_still_the_page_shown(site: Site) -> None:
    root = await site.signed_in("root")
    dashboard = await header_of(root, "/dashboard?from=2026-11-01&to=2026-11-10&tz=UTC")
    assert marked(dashboard) == {"/dashboard": "page"}
    ana = await site.signed_in("ana")
    portal = await header_of(ana, "/portal?page=1")
    assert marked(portal) == {"/portal": "page"}


@pytest.mark.integration
async def test_signed_out_pages_have_no_navigation(site: Site) -> None:
    reply = await site.browser().get("/login")
    assert reply.status == 200
    parsed = read_navigation(reply.text)
    assert parsed.navs == 0
    assert parsed.header == []


def user(role: str) -> SignedIn:
    return SignedIn(1, role, role, None, "token")  # type: ignore[arg-type]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("role", "path", "section", "expected"),
    [
        ("admin", "/qa/calls", None, {"/qa/calls": "page"}),
        ("admin", "/qa/calls/CA-1", None, {"/qa/calls": "true"}),
        ("admin", "/qa/calls/CA-1", "/qa/queue", {"/qa/queue": "true"}),
        ("admin", "/qa/callsX", None, {}),
        ("admin", "/disputes/7", None, {"/disputes": "true"}),
        ("qa", "/qa/queue", None, {"/qa/queue": "page"}),
        ("qa", "/dashboard", None, {}),
        ("officer", "/portal", None, {"/portal": "page"}),
        ("officer", "/portal/lines/3/dispute", None, {"/portal": "true"}),
    ],
)
def test_navigation_marks_the_page_and_its_section(
    role: str, path: str, section: str | None, expected: dict[str, str]
) -> None:
    links = navigation(user(role), path, section)
    assert [(link.href, link.title) for link in links] == list(NAVIGATION[role])
    assert {link.href: link.current for link in links if link.current} == expected


@pytest.mark.unit
def test_signed_out_there_is_no_navigation() -> None:
    assert navigation(None, "/qa/calls") == []
