"""The operator's pages over a real app, on SQLite and PostgreSQL: the dashboard's charts (parsed
as SVG) and P&L, the disputes an admin resolves and the officer then sees decided; QA staff and
officers get 404 on all of it."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from tests.support.web import (
    PORTAL_SCRIPT_NAME,
    Browser,
    Site,
    assert_no_inline_code,
    csrf_of,
    inline_svgs,
    seed_portal,
    table_rows,
)

pytestmark = pytest.mark.integration

SVG = "{http://www.w3.org/2000/svg}"
CHARTS = [
    "chart-calls",
    "chart-billable-rate",
    "chart-margin",
    "chart-scores",
    "chart-intents",
    "chart-outcomes",
]
DAY_QUERY = "/dashboard?from=2026-11-10&to=2026-11-10&tz=UTC"
HEADER = [
    "Publisher",
    "Calls",
    "Connected",
    "Billable",
    "Billable rate",
    "Revenue",
    "Payout",
    "Margin",
    "Avg score",
    "Disputes open",
    "Disputes accepted",
]


@pytest.fixture
async def lines(site: Site) -> dict[str, int]:
    return await asyncio.to_thread(seed_portal, site.records)


def adjustments(records: Engine) -> list[tuple[str, str | None, str | None, str, str]]:
    with Session(records) as session:
        return [
            (
                a.status,
                a.resolved_by,
                a.resolution,
                f"{a.revenue_delta_cents / 100:.2f}",
                f"{a.payout_delta_cents / 100:.2f}",
            )
            for a in session.scalars(select(t.Adjustment).order_by(t.Adjustment.id))
        ]


async def stored(site: Site) -> list[tuple[str, str | None, str | None, str, str]]:
    return await asyncio.to_thread(adjustments, site.records)


async def officer_disputes(site: Site, officer: Browser, line: int, reason: str) -> int:
    """Dispute ``line`` through the portal; the id the operator's page shows for it."""
    page = await officer.get("/portal")
    reply = await officer.post(
        f"/portal/lines/{line}/dispute", {"csrf_token": csrf_of(page.text), "reason": reason}
    )
    assert reply.status == 303, reply.text
    with_ids = await asyncio.to_thread(_open_ids, site.records)
    return with_ids[-1]


def _open_ids(records: Engine) -> list[int]:
    with Session(records) as session:
        return list(
            session.scalars(
                select(t.Adjustment.id)
                .where(t.Adjustment.status == "open")
                .order_by(t.Adjustment.id)
            )
        )


async def test_the_dashboard_shows_charts_and_the_pnl(site: Site, lines: dict[str, int]) -> None:
    root = await site.signed_in("root")
    page = await root.get(DAY_QUERY)
    assert page.status == 200, page.text
    html = page.text
    assert_no_inline_code(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Media" in html
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]

    rows = table_rows(html, "pnl")
    assert rows[0] == HEADER
    assert rows[1:] == [
        [PORTAL_SCRIPT_NAME, "1", "1", "1", "100.0%", "$50.00", "$35.00", "$15.00", "55.0",
         "0", "0"],
        ["Alpha Leads", "2", "2", "1", "50.0%", "$45.00", "$30.00", "$15.00", "56.0", "0", "0"],
        ["rate-compare", "3", "2", "0", "0.0%", "$0.00", "$0.00", "$0.00", "—", "0", "0"],
        ["(total)", "6", "5", "2", "33.3%", "$95.00", "$65.00", "$30.00", "55.7", "0", "0"],
    ]  # fmt: skip

    for chart in CHARTS:
        assert f'<figure class="chart" id="{chart}"' in html, chart
    svgs = inline_svgs(html)
    assert len(svgs) == 6
    assert all(svg.tag == f"{SVG}svg" for svg in svgs)
    titles = [svg.findtext(f"{SVG}title") for svg in svgs]
    assert titles == [
        "Calls per publisher",
        "Billable rate per publisher (%)",
        "Margin per publisher ($)",
        "Score distribution",
        "Intent mix",
        "Transfer outcomes",
    ]
    calls, _, _, scores, intents, outcomes = svgs
    series = [g.findtext(f"{SVG}title") for g in calls.iter(f"{SVG}g")]
    assert sorted(s or "" for s in series) == sorted(
        [PORTAL_SCRIPT_NAME, "Alpha Leads", "rate-compare"]
    )

    def bars(svg: ET.Element) -> dict[str, str]:
        found = {}
        for rect in svg.iter(f"{SVG}rect"):
            title = rect.findtext(f"{SVG}title")
            if title:
                label, _, value = title.rpartition(": ")
                found[label] = value
        return found

    assert {k: v for k, v in bars(scores).items() if v != "0"} == {
        "40–49": "1",
        "50–59": "1",
        "70–79": "1",
    }
    assert bars(intents) == {"(unclassified)": "2", "shopping": "1"}
    assert bars(outcomes) == {"bridged": "1", "no_answer": "1"}


async def test_the_dashboard_period(site: Site, lines: dict[str, int]) -> None:
    root = await site.signed_in("root")
    today = datetime.now(UTC).date()
    default = await root.get("/dashboard")
    assert default.status == 200
    assert f'name="from" type="date" value="{today - timedelta(days=29)}"' in default.text
    assert f'name="to" type="date" value="{today}"' in default.text
    assert len(inline_svgs(default.text)) == 6
    for query, message in [
        ("from=2025-01-01&to=2026-11-10", "a dashboard covers at most 366 days"),
        ("from=2026-11-10&to=2026-11-01", "is before"),
        ("from=yesterday", "must be a date, YYYY-MM-DD"),
        ("tz=Nowhere/City", "unknown time zone"),
    ]:
        reply = await root.get(f"/dashboard?{query}")
        assert reply.status == 400, query
        assert message in reply.text, query
        assert inline_svgs(reply.text) == []


@pytest.mark.parametrize("username", ["quinn", "ana"])
async def test_operator_pages_are_404_to_others(
    site: Site, lines: dict[str, int], username: str
) -> None:
    ana = await site.signed_in("ana")
    ident = await officer_disputes(site, ana, lines["CA-ana-paid"], "wrong caller")
    browser = await site.signed_in(username)
    for path in ("/dashboard", DAY_QUERY, "/disputes"):
        assert (await browser.get(path)).status == 404, path
    token = await browser.csrf()
    reply = await browser.post(f"/disputes/{ident}", {"csrf_token": token, "decision": "accept"})
    assert reply.status == 404
    assert [row[0] for row in await stored(site)] == ["open"]
    signed_out = await site.browser().get("/dashboard")
    assert (signed_out.status, signed_out.location) == (303, "/login?next=/dashboard")


async def test_an_admin_resolves_and_the_officer_sees_it(site: Site, lines: dict[str, int]) -> None:
    ana, root = await site.signed_in("ana"), await site.signed_in("root")
    line = lines["CA-ana-paid"]
    first = await officer_disputes(site, ana, line, "Caller wanted a car loan")

    listing = await root.get("/disputes")
    assert listing.status == 200
    assert_no_inline_code(listing.text)
    rows = table_rows(listing.text, "open-disputes")
    assert len(rows) == 2
    assert rows[1][1] == "Ana Ruiz"
    assert rows[1][2].startswith("CA-ana-paid 2026-11-10 16:00 UTC · +1••••••0123 · Alpha Leads")
    assert rows[1][3].startswith("line ")
    assert "revenue $45.00 · payout $30.00" in rows[1][3]
    assert rows[1][4] == "Caller wanted a car loan"
    assert f'id="resolve-{first}"' in listing.text

    reply = await root.post(
        f"/disputes/{first}",
        {
            "csrf_token": csrf_of(listing.text),
            "decision": "reject",
            "note": "The caller asked for a refinance at 0:40.",
        },
    )
    assert reply.status == 303, reply.text
    assert reply.location == "/disputes?resolved=reject"
    assert await stored(site) == [
        ("rejected", "root", "The caller asked for a refinance at 0:40.", "0.00", "0.00")
    ]
    after = await root.get(reply.location)
    assert "Dispute rejected." in after.text
    assert 'id="no-open-disputes"' in after.text
    assert table_rows(after.text, "resolved-disputes")[1][4] == (
        "rejected: The caller asked for a refinance at 0:40."
    )

    portal = (await ana.get("/portal")).text
    cells = {row[0]: row[8] for row in table_rows(portal, "transfers")[1:]}
    assert cells["2026-11-10 16:00"].startswith("rejected “Caller wanted a car loan” root, ")
    assert "The caller asked for a refinance at 0:40." in cells["2026-11-10 16:00"]
    assert f'id="dispute-{line}"' in portal  # a rejected dispute may be raised again

    second = await officer_disputes(site, ana, line, "It was a wrong number")
    token = csrf_of((await root.get("/disputes")).text)
    accepted = await root.post(
        f"/disputes/{second}",
        {"csrf_token": token, "decision": "accept", "note": "Agreed.", "keep_payout": "1"},
    )
    assert accepted.status == 303
    assert (await stored(site))[1] == ("accepted", "root", "Agreed.", "-45.00", "0.00")
    portal = (await ana.get("/portal")).text
    cells = {row[0]: row[8] for row in table_rows(portal, "transfers")[1:]}
    assert cells["2026-11-10 16:00"].startswith("accepted “It was a wrong number” root, ")
    assert f'id="dispute-{line}"' not in portal  # credited: nothing left to dispute

    pnl = table_rows((await root.get(DAY_QUERY)).text, "pnl")
    assert pnl[2] == [
        "Alpha Leads", "2", "2", "1", "50.0%", "$0.00", "$30.00", "-$30.00", "56.0", "0", "1",
    ]  # fmt: skip
    assert pnl[-1][5:8] == ["$50.00", "$65.00", "-$15.00"]


async def test_resolving_refuses_what_it_cannot_do(site: Site, lines: dict[str, int]) -> None:
    ana, root = await site.signed_in("ana"), await site.signed_in("root")
    ident = await officer_disputes(site, ana, lines["CA-ana-paid"], "wrong caller")
    token = await root.csrf()
    for target in ("999999", "abc"):
        reply = await root.post(f"/disputes/{target}", {"csrf_token": token, "decision": "accept"})
        assert reply.status == 404, target
    for form, message in [
        ({"decision": "maybe"}, "Choose accept or reject"),
        ({"decision": "reject", "keep_payout": "1"}, "Keeping the payout only applies"),
        ({"decision": "reject", "note": "x" * 2001}, "at most 2000"),
    ]:
        reply = await root.post(f"/disputes/{ident}", {"csrf_token": token, **form})
        assert reply.status == 400, form
        assert message in reply.text, form
    assert [row[0] for row in await stored(site)] == ["open"]
    forged = await root.post(f"/disputes/{ident}", {"decision": "accept"})
    assert forged.status == 403
    assert [row[0] for row in await stored(site)] == ["open"]
    done = await root.post(f"/disputes/{ident}", {"csrf_token": token, "decision": "reject"})
    assert done.status == 303
    twice = await root.post(f"/disputes/{ident}", {"csrf_token": token, "decision": "accept"})
    assert twice.status == 400
    assert re.search(r"is already rejected \(by root at ", twice.text)
