"""The QA review pages and their JSON, served for real (``site``: real Redis, SQLite and
PostgreSQL, blocking calls on the loop fail the test).

Besides the fixture's three calls (ana's, ben's, nobody's), a fourth call bills to ana on the
next day from another publisher and campaign; three of the four are scored with different
confidences, ana's call has its answers, transfer leg, consent and a two-channel transcript.
Every page is read as HTML (the parser below) or for concrete strings; no page may carry inline
script or style (the CSP forbids them).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.web.qa_forms import VerdictForm, clock, transcript_lines
from ivr.web.queries import VerdictError
from tests.support.records import (
    add_adjustment,
    add_answer,
    add_call,
    add_campaign,
    add_publisher,
    add_score,
)
from tests.support.web import DAY, Browser, Site, csrf_of

pytestmark = pytest.mark.integration

MASKED = "+1••••••0123"
RAW = "+15125550123"
SEGMENTS = [
    {"speaker": "officer", "start": 2.5, "end": 4.0, "text": "Happy to help. What is it worth?"},
    {"speaker": "caller", "start": 0.5, "end": 2.0, "text": "Call me at 512 555 0199 please."},
    {"speaker": "caller", "start": 65.25, "end": 67.0, "text": "About four hundred thousand."},
]
PAGES = ["/qa/calls", "/qa/calls/CA-ana", "/qa/queue"]
APIS = ["/app/api/calls", "/app/api/calls/CA-ana"]


# -- data ----------------------------------------------------------------------------------------


def _more_calls(engine: Engine) -> None:
    with Session(engine) as session:
        calls = {c.call_sid: c for c in session.scalars(select(t.Call))}
        ana, ben, nobody = calls["CA-ana"], calls["CA-ben"], calls["CA-nobody"]
        add_publisher(session, "pub-b", "Beta Media")
        add_campaign(session, "camp-y", "Purchase Y")
        q1, line = add_call(
            session, call_sid="CA-q1", started_at=DAY + timedelta(days=1), publisher="pub-b",
            campaign="camp-y", officer="ana", billable=True, revenue="45.00", payout="30.00",
        )  # fmt: skip
        score = add_score(session, ana, score=72, intent="shopping", confidence=0.62)
        score.reasons = ["intent shopping (+40)", "credit band good (+20)"]
        add_score(session, ben, score=40, intent="researching", confidence=0.31)
        add_score(session, q1, score=85, intent="ready", confidence=0.9)
        for call, outcome, duration in (
            (ana, "transferred", 300),
            (ben, "transferred", 120),
            (nobody, "completed", 60),
            (q1, "transferred", 400),
        ):
            call.outcome, call.duration_s = outcome, duration
        add_answer(session, ana, "loan_type", "refinance", heard="refinance please")
        add_answer(session, ana, "state", "TX", source="keypad")
        session.add(
            t.TransferAttempt(
                call_id=ana.id, position=1, step="transfer", officer_id="ana",
                number="+15125550111", outcome="bridged", started_at=DAY, duration_s=240.0,
            )
        )  # fmt: skip
        session.add(
            t.ConsentRecord(
                call_id=ana.id, step="consent", flow="mortgage", flow_version="v1",
                caller_state="CA", all_party=True, disclosure="This call is recorded.",
                asked=True, given=True, heard="yes", at=DAY,
            )
        )  # fmt: skip
        session.add(
            t.Transcript(
                recording_sid="RE-ana", call_sid="CA-ana", model="tiny.en",
                text="…", segments=SEGMENTS, created_at=DAY,
            )
        )  # fmt: skip
        add_adjustment(session, line, reason="caller was a realtor", by="ana")
        session.commit()


@pytest.fixture
async def qa_site(site: Site) -> Site:
    await asyncio.to_thread(_more_calls, site.records)
    return site


def _reviews(engine: Engine) -> list[tuple[str, str, bool, str | None, bool | None, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(
                t.Call.call_sid, t.User.username, t.Review.agrees, t.Review.label,
                t.Review.billable, t.Review.notes,
            )
            .join(t.Call, t.Call.id == t.Review.call_id)
            .join(t.User, t.User.id == t.Review.reviewer_id)
            .order_by(t.Review.id)
        )  # fmt: skip
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def reviews(site: Site) -> list[tuple[str, str, bool, str | None, bool | None, str]]:
    return await asyncio.to_thread(_reviews, site.records)


# -- reading the pages ---------------------------------------------------------------------------


class Page(HTMLParser):
    """Every element with its attributes, the text of each element with an id, and each
    ``<script>``'s own text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._open: list[tuple[str, str | None]] = []
        self.texts: dict[str, str] = {}
        self._in_script: dict[str, str] | None = None
        self._script_text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append((tag, values))
        self.handle_data(" ")  # elements are words apart, as a reader sees them
        if tag == "script":
            self._in_script, self._script_text = values, ""
        if tag not in ("input", "meta", "link", "br", "img"):
            self._open.append((tag, values.get("id")))
            if values.get("id"):
                self.texts[values["id"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_script is not None:
            self.scripts.append((self._in_script, self._script_text))
            self._in_script = None
        while self._open:
            name, _ = self._open.pop()
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_script is not None and data != " ":
            self._script_text += data
        for _, ident in self._open:
            if ident:
                self.texts[ident] += data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            values
            for name, values in self.elements
            if name == tag and all(values.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def selected(self, name: str) -> list[str]:
        """The selected options' values of the select named ``name``."""
        chosen, inside = [], False
        for tag, values in self.elements:
            if tag == "select":
                inside = values.get("name") == name
            elif tag == "option" and inside and "selected" in values:
                chosen.append(values["value"])
        return chosen

    def by_id(self, ident: str) -> dict[str, str]:
        found = [values for _, values in self.elements if values.get("id") == ident]
        assert len(found) == 1, (ident, found)
        return found[0]

    def text(self, ident: str) -> str:
        return " ".join(self.texts[ident].split())

    def with_class(self, name: str) -> list[dict[str, str]]:
        return [v for _, v in self.elements if name in v.get("class", "").split()]


async def page_of(browser: Browser, path: str, status: int = 200) -> Page:
    reply = await browser.get(path)
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"].startswith("text/html")
    return Page(reply.text)


def listed_sids(page: Page) -> list[str]:
    return [row["data-call-sid"] for row in page.find("tr", **{"class": "call-row"})]


def query_of(url: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}


# -- the call list -------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["quinn", "root"])
async def test_the_call_list_shows_every_call_with_masked_numbers(
    qa_site: Site, username: str
) -> None:
    browser = await qa_site.signed_in(username)
    reply = await browser.get("/qa/calls")
    assert reply.status == 200
    assert RAW not in reply.text
    page = Page(reply.text)
    # Newest first; the fixture's three calls started together: the last written first.
    assert listed_sids(page) == ["CA-q1", "CA-nobody", "CA-ben", "CA-ana"]
    assert page.text("call-total") == "4 calls · page 1 of 1"
    links = [a["href"] for a in page.with_class("call-link")]
    assert links == [f"/qa/calls/{sid}" for sid in ("CA-q1", "CA-nobody", "CA-ben", "CA-ana")]
    assert [" ".join(c.split()) for c in _cells(reply.text, "caller")] == [MASKED] * 4
    options = {o["value"] for o in page.find("option")}
    assert {"pub-b", "rate-compare", "camp-y", "sunbelt-refi", "ana", "ben"} <= options
    assert {"ready", "shopping", "researching", "servicing", "not_interested"} <= options
    assert {"completed", "transferred"} <= options
    assert "Beta Media" in reply.text and "Ana Ruiz" in reply.text
    for ident in (
        "filter-from", "filter-to", "filter-campaign", "filter-publisher", "filter-officer",
        "filter-intent", "filter-score-min", "filter-score-max", "filter-outcome",
        "filter-billable", "filter-reviewed", "filter-submit",
    ):  # fmt: skip
        page.by_id(ident)
    assert page.find("label", **{"for": "filter-publisher"})


def _cells(html: str, css_class: str) -> list[str]:
    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[str] = []
            self.inside = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "td" and (dict(attrs).get("class") or "") == css_class:
                self.inside = True
                self.found.append("")

        def handle_endtag(self, tag: str) -> None:
            if tag == "td":
                self.inside = False

        def handle_data(self, data: str) -> None:
            if self.inside:
                self.found[-1] += data

    cells = Cells()
    cells.feed(html)
    return cells.found


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("publisher=pub-b", ["CA-q1"]),
        ("campaign=sunbelt-refi", ["CA-nobody", "CA-ben", "CA-ana"]),
        ("officer=ana", ["CA-q1", "CA-ana"]),
        ("intent=researching", ["CA-ben"]),
        ("score_min=50&score_max=80", ["CA-ana"]),
        ("outcome=completed", ["CA-nobody"]),
        ("billable=yes", ["CA-q1"]),
        ("billable=no&reviewed=no", ["CA-nobody", "CA-ben", "CA-ana"]),
        ("from=2026-11-11&to=2026-11-11", ["CA-q1"]),
        ("to=2026-11-10&tz=America/Chicago", ["CA-nobody", "CA-ben", "CA-ana"]),
        ("reviewed=yes", []),
    ],
)
async def test_filters_narrow_the_list_and_refill_the_form(
    qa_site: Site, query: str, expected: list[str]
) -> None:
    browser = await qa_site.signed_in("quinn")
    page = await page_of(browser, f"/qa/calls?{query}")
    assert listed_sids(page) == expected
    if not expected:
        assert page.text("no-calls") == "No calls match these filters."
    given = query_of(f"?{query}")
    selects = {"publisher", "campaign", "officer", "intent", "outcome", "billable", "reviewed"}
    for name, value in given.items():
        if name in selects:
            assert page.selected(name) == [value], name
        else:
            field = page.find("input", name=name)
            assert field and field[0]["value"] == value, name


async def test_sort_links_keep_the_filters_and_flip_the_order(qa_site: Site) -> None:
    browser = await qa_site.signed_in("quinn")
    page = await page_of(browser, "/qa/calls?officer=ana&sort=score&order=desc&page=1")
    assert listed_sids(page) == ["CA-q1", "CA-ana"]
    score = query_of(page.by_id("sort-score")["href"])
    assert score == {"officer": "ana", "sort": "score", "order": "asc"}  # back to page 1
    assert query_of(page.by_id("sort-confidence")["href"]) == {
        "officer": "ana", "sort": "confidence", "order": "asc",
    }  # fmt: skip
    assert query_of(page.by_id("sort-started")["href"])["order"] == "desc"
    sorted_by = [th for th in page.find("th") if "aria-sort" in th]
    assert sorted_by == [{"scope": "col", "aria-sort": "descending"}]
    flipped = await page_of(browser, page.by_id("sort-score")["href"])
    assert listed_sids(flipped) == ["CA-ana", "CA-q1"]
    by_confidence = await page_of(browser, "/qa/calls?sort=confidence&order=asc")
    assert listed_sids(by_confidence) == ["CA-ben", "CA-ana", "CA-q1", "CA-nobody"]
    # The filter form keeps the sort: a new filter is applied to the same order.
    assert page.find("input", type="hidden", name="sort", value="score")


async def test_paging_links_walk_the_pages(qa_site: Site) -> None:
    browser = await qa_site.signed_in("quinn")
    first = await page_of(browser, "/qa/calls?page_size=3&sort=started&order=asc")
    assert listed_sids(first) == ["CA-ana", "CA-ben", "CA-nobody"]
    assert first.text("call-total") == "4 calls · page 1 of 2"
    assert not first.find("a", id="page-previous")
    following = first.by_id("page-next")["href"]
    assert query_of(following) == {
        "page_size": "3", "sort": "started", "order": "asc", "page": "2",
    }  # fmt: skip
    second = await page_of(browser, following)
    assert listed_sids(second) == ["CA-q1"]
    assert second.text("call-total") == "4 calls · page 2 of 2"
    assert not second.find("a", id="page-next")
    assert query_of(second.by_id("page-previous")["href"])["page"] == "1"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=yesterday", "'from' must be a date, YYYY-MM-DD (got 'yesterday')"),
        ("score_min=90&score_max=10", "'score_min' (90) is above 'score_max' (10)"),
        ("score_min=lots", "'score_min' must be a whole number (got 'lots')"),
        ("page=0", "'page' must be 1 to 100 (got 0)"),
        ("sort=caller", "'sort' must be one of started, score, confidence, duration, revenue"),
        ("intent=angry", "'intent' must be one of ready, shopping"),
        ("tz=Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ],
)
async def test_bad_filters_show_the_page_with_what_is_wrong(
    qa_site: Site, query: str, message: str
) -> None:
    browser = await qa_site.signed_in("quinn")
    reply = await browser.get(f"/qa/calls?{query}")
    assert reply.status == 400
    page = Page(reply.text)
    shown = page.text("filter-error")
    assert message[1:] in shown  # the sentence starts with a capital
    assert "Traceback" not in reply.text
    assert listed_sids(page) == []
    page.by_id("filter-submit")  # the form is there to correct the value


# -- a call's page -------------------------------------------------------------------------------


async def test_the_call_page_shows_the_whole_record(qa_site: Site) -> None:
    browser = await qa_site.signed_in("quinn")
    reply = await browser.get("/qa/calls/CA-ana")
    assert reply.status == 200
    assert RAW not in reply.text and "0199" in reply.text and "512 555 0199" not in reply.text
    page = Page(reply.text)
    audio = page.find("audio")
    assert audio == [
        {"controls": "", "preload": "metadata", "class": "qa-player", "id": "player-RE-ana",
         "src": "/recordings/RE-ana"},
        {"controls": "", "preload": "metadata", "class": "qa-player", "id": "player-RE-missing",
         "src": "/recordings/RE-missing"},
    ]  # fmt: skip
    lines = page.with_class("transcript-line")
    assert [(b["data-start"], b["data-player"], b["type"]) for b in lines] == [
        ("0.50", "player-RE-ana", "button"),
        ("2.50", "player-RE-ana", "button"),
        ("65.25", "player-RE-ana", "button"),
    ]
    transcript = " ".join(reply.text.split())
    assert '<span class="speaker">caller</span> <span class="stamp">0:00</span>' in transcript
    assert '<span class="speaker">officer</span> <span class="stamp">0:02</span>' in transcript
    assert '<span class="stamp">1:05</span> <span class="said">About four hundred' in transcript
    assert "Not transcribed yet." in reply.text  # RE-missing
    assert "The recording is not stored yet." in reply.text  # RE-unstored
    assert page.find("script", src="/static/qa.js")
    assert page.text("score-value") == "72"
    assert page.text("intent-label") == "shopping"
    assert page.text("score-reasons") == "intent shopping (+40) credit band good (+20)"
    assert "(confidence 0.62)" in reply.text
    answers = page.text("answers")
    assert "loan_type refinance speech refinance please" in answers
    assert "state TX keypad" in answers
    routing = page.text("routing")
    assert "Outcome: transferred · connected" in routing
    assert "1 ana +1••••••0111 bridged 4:00" in routing
    assert page.text("billing-status") == "Not billable"
    assert page.text("consent-given") == "given (“yes”)"
    assert "(all-party consent)" in page.text("consent")
    assert page.text("no-verdicts") == "Not reviewed yet."
    form = page.by_id("verdict-form")
    assert (form["method"], form["action"]) == ("post", "/qa/calls/CA-ana/verdict")
    assert page.find("input", type="hidden", name="csrf_token")
    assert {r["id"] for r in page.find("input", type="radio")} == {
        "verdict-agree", "verdict-disagree", "verdict-billable-yes", "verdict-billable-no",
        "verdict-billable-unsure",
    }  # fmt: skip
    assert page.by_id("verdict-label")["name"] == "label"
    assert page.by_id("verdict-notes")["name"] == "notes"
    assert page.by_id("verdict-submit")["type"] == "submit"
    assert not page.find("input", name="queue")


async def test_the_call_page_shows_a_dispute_and_the_billing_line(qa_site: Site) -> None:
    browser = await qa_site.signed_in("root")
    page = await page_of(browser, "/qa/calls/CA-q1")
    assert page.text("billing-status") == "Billable"
    billing = page.text("billing")
    assert "Revenue $45.00" in billing and "Payout $30.00" in billing
    assert "Margin $15.00" in billing
    assert "dispute open caller was a realtor ana," in page.text("adjustments")
    assert page.text("no-recordings") == "This call has no recording."
    assert "This call was not scored." not in page.text("score")


async def test_unknown_calls_are_404_everywhere(qa_site: Site) -> None:
    browser = await qa_site.signed_in("quinn")
    token = await browser.csrf()
    assert (await browser.get("/qa/calls/CA-unknown")).status == 404
    assert (await browser.get("/app/api/calls/CA-unknown")).status == 404
    posted = await browser.post(
        "/qa/calls/CA-unknown/verdict", {"csrf_token": token, "agrees": "yes"}
    )
    assert posted.status == 404
    assert await reviews(qa_site) == []


# -- verdicts ------------------------------------------------------------------------------------


async def test_a_verdict_is_stored_and_the_browser_goes_back_to_the_call(qa_site: Site) -> None:
    browser = await qa_site.signed_in("quinn")
    form = await browser.get("/qa/calls/CA-ana")
    reply = await browser.post(
        "/qa/calls/CA-ana/verdict",
        {
            "csrf_token": csrf_of(form.text),
            "agrees": "no",
            "label": "ready",
            "billable": "yes",
            "notes": "  asked for an application  ",
        },
    )
    assert reply.status == 303
    assert reply.location == "/qa/calls/CA-ana?saved=1"
    assert await reviews(qa_site) == [
        ("CA-ana", "quinn", False, "ready", True, "asked for an application")
    ]
    page = await page_of(browser, reply.location)
    assert page.text("notice") == "Verdict saved."
    history = page.text("verdict-history")
    assert history.startswith("quinn, 20")
    assert "label should be ready; billable: yes asked for an application" in history
    agreed = await browser.post(
        "/qa/calls/CA-ana/verdict",
        {"csrf_token": csrf_of(form.text), "agrees": "yes", "billable": "unsure"},
    )
    assert agreed.status == 303
    assert (await reviews(qa_site))[-1] == ("CA-ana", "quinn", True, None, None, "")
    listed = await page_of(browser, "/qa/calls?reviewed=yes")
    assert listed_sids(listed) == ["CA-ana"]


async def test_a_verdict_without_the_csrf_token_is_refused(qa_site: Site) -> None:
    browser = await qa_site.signed_in("quinn")
    for token in ({}, {"csrf_token": "forged"}):
        reply = await browser.post(
            "/qa/calls/CA-ana/verdict", {**token, "agrees": "no", "label": "ready"}
        )
        assert reply.status == 403
        assert "did not come from Warmline's own pages" in reply.text
    assert await reviews(qa_site) == []


@pytest.mark.parametrize(
    ("call_sid", "form", "message"),
    [
        ("CA-ana", {"label": "ready"}, "Choose whether you agree with the intent label"),
        ("CA-ana", {"agrees": "no"}, "Disagreeing needs the corrected label"),
        ("CA-ana", {"agrees": "no", "label": "shopping"}, "is the classifier's own label"),
        ("CA-ana", {"agrees": "yes", "label": "ready"}, "disagree to correct it"),
        ("CA-ana", {"agrees": "no", "label": "angry"}, "label 'angry' is not one of"),
        ("CA-nobody", {"agrees": "yes"}, "has no intent label to agree with"),
        ("CA-ana", {"agrees": "yes", "billable": "maybe"}, "Billable must be yes, no or unsure"),
        ("CA-ana", {"agrees": "yes", "notes": "x" * 2001}, "notes are 2001 characters"),
    ],
)
async def test_a_refused_verdict_shows_the_page_again_with_why(
    qa_site: Site, call_sid: str, form: dict[str, str], message: str
) -> None:
    browser = await qa_site.signed_in("quinn")
    token = await browser.csrf()
    notes = form.get("notes", "keep these notes")
    reply = await browser.post(
        f"/qa/calls/{call_sid}/verdict", {"csrf_token": token, "notes": notes, **form}
    )
    assert reply.status == 400
    page = Page(reply.text)
    assert message[1:] in page.text("verdict-error")  # as a sentence: capitalised
    assert page.text("verdict-notes") == notes  # what was typed is kept
    if form.get("label") in ("ready", "shopping"):
        assert page.selected("label") == [form["label"]]
    assert await reviews(qa_site) == []


# -- the queue -----------------------------------------------------------------------------------


async def test_the_queue_walks_unreviewed_calls_least_confident_first(qa_site: Site) -> None:
    browser = await qa_site.signed_in("quinn")
    token = await browser.csrf()
    start = await browser.get("/qa/queue")
    assert (start.status, start.location) == (303, "/qa/calls/CA-ben?queue=1")
    page = await page_of(browser, start.location)
    assert page.find("input", type="hidden", name="queue", value="1")
    assert "queue-banner" in page.texts
    visited = []
    verdict = {"csrf_token": token, "queue": "1", "agrees": "yes"}
    current = "CA-ben"
    for _ in range(4):
        visited.append(current)
        form = {**verdict, "agrees": "no", "label": "ready"} if current == "CA-nobody" else verdict
        reply = await browser.post(f"/qa/calls/{current}/verdict", form)
        assert reply.status == 303, reply.text
        assert reply.location is not None
        if reply.location.startswith("/qa/queue"):
            break
        assert query_of(reply.location) == {"queue": "1", "saved": "1"}
        current = urlsplit(reply.location).path.rsplit("/", 1)[-1]
        shown = await page_of(browser, reply.location)
        assert shown.text("notice") == "Verdict saved. Here is the next call in the queue."
    assert visited == ["CA-ben", "CA-ana", "CA-q1", "CA-nobody"]  # unscored last
    assert reply.location == "/qa/queue?saved=1"
    empty = await page_of(browser, reply.location)
    assert "The review queue is empty" in empty.text("queue-empty")
    assert empty.text("notice") == "Verdict saved."
    assert [sid for sid, *_ in await reviews(qa_site)] == visited


# -- JSON ----------------------------------------------------------------------------------------


async def test_the_call_list_as_json(qa_site: Site) -> None:
    browser = await qa_site.signed_in("quinn")
    reply = await browser.get("/app/api/calls?officer=ana&sort=score&order=asc")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    body = json.loads(reply.body)
    assert {k: body[k] for k in ("total", "page", "page_size", "pages")} == {
        "total": 2, "page": 1, "page_size": 50, "pages": 1,
    }  # fmt: skip
    assert [c["call_sid"] for c in body["calls"]] == ["CA-ana", "CA-q1"]
    first, second = body["calls"]
    assert (first["caller"], first["score"], first["intent"]) == (MASKED, 72, "shopping")
    assert (first["confidence"], first["reviewed"]) == (0.62, False)
    assert (second["billable"], second["revenue"], second["publisher"]) == (
        True, "45.00", "Beta Media",
    )  # fmt: skip
    assert RAW not in reply.text
    bad = await browser.get("/app/api/calls?score_max=101")
    assert bad.status == 400
    assert json.loads(bad.body) == {"error": "'score_max' must be 0 to 100 (got 101)"}


async def test_a_call_record_as_json(qa_site: Site) -> None:
    browser = await qa_site.signed_in("quinn")
    token = await browser.csrf()
    await browser.post(
        "/qa/calls/CA-ana/verdict", {"csrf_token": token, "agrees": "no", "label": "ready"}
    )
    reply = await browser.get("/app/api/calls/CA-ana")
    assert reply.status == 200
    body = json.loads(reply.body)
    assert body["call_sid"] == "CA-ana"
    assert body["attribution"]["caller"] == MASKED
    assert RAW not in reply.text and "512 555 0199" not in reply.text
    assert body["confidence"] == 0.62
    assert body["score"]["reasons"] == ["intent shopping (+40)", "credit band good (+20)"]
    assert [a["slot"] for a in body["answers"]] == ["loan_type", "state"]
    assert body["transfer_attempts"][0]["number"] == "+1••••••0111"
    by_sid = {r["recording_sid"]: r for r in body["recordings"]}
    assert by_sid["RE-ana"]["audio"] == "/recordings/RE-ana"
    assert by_sid["RE-unstored"]["audio"] is None
    assert all("path" not in r and "url" not in r for r in body["recordings"])
    segments = by_sid["RE-ana"]["transcript"]["segments"]
    assert [s["start"] for s in segments] == [2.5, 0.5, 65.25]
    assert "0199" in segments[1]["text"] and "555 0199" not in segments[1]["text"]
    assert body["consent"]["given"] is True
    assert body["billing"]["billable"] is False
    assert [(v["reviewer"], v["agrees"], v["label"]) for v in body["verdicts"]] == [
        ("quinn", False, "ready")
    ]


# -- access --------------------------------------------------------------------------------------


async def test_officers_get_404_on_every_qa_page_and_api(qa_site: Site) -> None:
    ana = await qa_site.signed_in("ana")
    token = await ana.csrf()
    for path in [*PAGES, "/qa/calls/CA-ben", *APIS, "/app/api/calls/CA-ben"]:
        assert (await ana.get(path)).status == 404, path
    posted = await ana.post(
        "/qa/calls/CA-ana/verdict", {"csrf_token": token, "agrees": "no", "label": "ready"}
    )
    assert posted.status == 404
    assert await reviews(qa_site) == []


async def test_signed_out_visitors_are_sent_to_sign_in(qa_site: Site) -> None:
    visitor = qa_site.browser()
    for path in [*PAGES, "/qa/calls?officer=ana&page=2"]:
        reply = await visitor.get(path)
        assert reply.status == 303, path
        assert reply.location is not None
        assert query_of(reply.location) == {"next": path}
    for path in APIS:
        reply = await visitor.get(path)
        assert reply.status == 401
        assert json.loads(reply.body) == {"error": "sign in first"}
    posted = await visitor.post("/qa/calls/CA-ana/verdict", {"agrees": "yes"})
    assert posted.status == 403
    assert await reviews(qa_site) == []


async def test_no_page_carries_inline_script_or_style(qa_site: Site) -> None:
    browser = await qa_site.signed_in("quinn")
    token = await browser.csrf()
    refused = await browser.post("/qa/calls/CA-ana/verdict", {"csrf_token": token})
    queue = await browser.get("/qa/queue")
    assert queue.location is not None
    replies = [
        refused,
        await browser.get("/qa/calls"),
        await browser.get("/qa/calls?from=nonsense"),
        await browser.get("/qa/calls/CA-ana"),
        await browser.get("/qa/calls/CA-q1"),
        await browser.get(queue.location),
    ]
    for reply in replies:
        assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
        page = Page(reply.text)
        for attrs, text in page.scripts:
            assert attrs.get("src", "").startswith("/static/"), attrs
            assert text.strip() == ""
        assert not page.find("style")
        for tag, attrs in page.elements:
            assert "style" not in attrs, tag
            assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
            assert not unescape(attrs.get("href", "")).lower().startswith("javascript:")
    script = await browser.get("/static/qa.js")
    assert script.status == 200
    assert b"transcript-line" in script.body and b"currentTime" in script.body


# -- the pieces ----------------------------------------------------------------------------------


def test_transcript_lines_are_in_spoken_order_and_skip_what_cannot_seek() -> None:
    lines = transcript_lines(
        {
            "segments": [
                {"speaker": "officer", "start": 3, "end": 4.5, "text": " Hello. "},
                {"speaker": "caller", "start": None, "text": "no start"},
                {"speaker": "caller", "start": -1, "text": "before the start"},
                {"speaker": "caller", "start": 1.25, "text": "   "},
                "not a segment",
                {"start": 0.5, "text": "who said this?"},
            ]
        }
    )
    assert [(x.speaker, x.start_attr, x.stamp, x.text) for x in lines] == [
        ("unknown", "0.50", "0:00", "who said this?"),
        ("officer", "3.00", "0:03", "Hello."),
    ]
    assert transcript_lines(None) == []


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "—"), (0, "0:00"), (59.9, "0:59"), (65.25, "1:05"), (3725, "1:02:05")],
)
def test_clock(seconds: float | None, shown: str) -> None:
    assert clock(seconds) == shown


def test_the_verdict_form_reads_only_what_it_offers() -> None:
    form = VerdictForm.read(
        {"agrees": " No ", "label": " ready ", "billable": "unsure", "queue": "1"}
    )
    assert form.verdict() == (False, "ready", None)
    assert form.queue is True
    assert VerdictForm.read({"agrees": "yes", "billable": "no"}).verdict() == (True, None, False)
    with pytest.raises(VerdictError, match="choose whether you agree"):
        VerdictForm.read({"agrees": "perhaps"}).verdict()
