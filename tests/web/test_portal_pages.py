"""The officer portal over a real app, on SQLite and PostgreSQL: an officer sees only their own
transfers and disputes only their own billable lines; everything else is 404 (or 400 with why,
for their own line that cannot be disputed), and a form without its CSRF token is refused."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from tests.support.records import add_call
from tests.support.web import DAY, Site, assert_no_inline_code, csrf_of, seed_portal, table_rows

pytestmark = pytest.mark.integration

OTHERS = ("CA-ben", "CA-ben-paid", "CA-nobody")


@pytest.fixture
async def lines(site: Site) -> dict[str, int]:
    return await asyncio.to_thread(seed_portal, site.records)


def disputes(records: Engine) -> list[tuple[int, str, str, str]]:
    with Session(records) as session:
        return [
            (a.billing_line_id, a.kind, a.status, a.reason)
            for a in session.scalars(select(t.Adjustment).order_by(t.Adjustment.id))
        ]


def raisers(records: Engine) -> list[str]:
    with Session(records) as session:
        return list(session.scalars(select(t.Adjustment.raised_by)))


async def stored(site: Site) -> list[tuple[int, str, str, str]]:
    return await asyncio.to_thread(disputes, site.records)


async def test_an_officer_sees_only_their_own_transfers(site: Site, lines: dict[str, int]) -> None:
    ana = await site.signed_in("ana")
    page = await ana.get("/portal")
    assert page.status == 200, page.text
    html = page.text
    for sid in ("CA-ana", "CA-ana-paid", "CA-ana-short", "CA-ana-next"):
        assert f'id="call-{sid}"' in html, sid
    for sid in OTHERS:
        assert sid not in html, sid
    assert "+15125550123" not in html
    assert_no_inline_code(html)
    rows = {row[0]: row for row in table_rows(html, "transfers")[1:]}
    assert len(rows) == 4
    paid = rows["2026-11-10 16:00"]
    assert paid[1:8] == ["+1••••••0123", "TX", "refinance", "good", "72", "4:00", "billable $45.00"]
    assert paid[8] == "Dispute this call Reason for disputing Send dispute"
    short = rows["2026-11-10 17:00"]
    assert short[5:8] == ["40", "0:30", "not billable too_short: bridged 30 s, under 90 s"]
    assert short[8] == ""  # nothing to dispute: no form
    assert f'id="dispute-{lines["CA-ana-paid"]}"' in html
    assert f'id="dispute-{lines["CA-ana-short"]}"' not in html
    # Newest first.
    assert html.index("CA-ana-next") < html.index("CA-ana-paid") < html.index('"call-CA-ana"')

    ben = await site.signed_in("ben")
    theirs = (await ben.get("/portal")).text
    assert "CA-ben-paid" in theirs
    assert "CA-ana" not in theirs


async def test_the_period_filter_and_its_errors(site: Site, lines: dict[str, int]) -> None:
    ana = await site.signed_in("ana")
    day = await ana.get("/portal?from=2026-11-11&to=2026-11-11&tz=UTC")
    assert day.status == 200
    assert "CA-ana-next" in day.text
    assert "CA-ana-paid" not in day.text
    assert 'value="2026-11-11"' in day.text
    chicago = await ana.get("/portal?from=2026-11-10&to=2026-11-10&tz=America/Chicago")
    assert [row[0] for row in table_rows(chicago.text, "transfers")[1:]] == [
        "2026-11-10 11:00",
        "2026-11-10 10:00",
        "2026-11-10 09:00",
    ]
    bad = await ana.get("/portal?from=2026-11-12&to=2026-11-11")
    assert bad.status == 400
    assert "&#39;to&#39; (2026-11-11) is before &#39;from&#39; (2026-11-12)" in bad.text
    assert "CA-ben" not in bad.text


@pytest.mark.parametrize("username", ["root", "quinn"])
async def test_other_roles_get_404(site: Site, lines: dict[str, int], username: str) -> None:
    browser = await site.signed_in(username)
    assert (await browser.get("/portal")).status == 404
    token = await browser.csrf()
    line = lines["CA-ana-paid"]
    reply = await browser.post(
        f"/portal/lines/{line}/dispute", {"csrf_token": token, "reason": "not mine"}
    )
    assert reply.status == 404
    assert await stored(site) == []


async def test_signed_out_goes_to_sign_in(site: Site) -> None:
    reply = await site.browser().get("/portal")
    assert reply.status == 303
    assert reply.location == "/login?next=/portal"


async def test_an_officer_disputes_their_own_billable_line(
    site: Site, lines: dict[str, int]
) -> None:
    ana = await site.signed_in("ana")
    page = await ana.get("/portal")
    line = lines["CA-ana-paid"]
    reply = await ana.post(
        f"/portal/lines/{line}/dispute",
        {"csrf_token": csrf_of(page.text), "reason": "  Caller was shopping for a car loan  "},
    )
    assert reply.status == 303, reply.text
    assert reply.location == f"/portal?disputed={line}"
    assert await stored(site) == [(line, "dispute", "open", "Caller was shopping for a car loan")]
    assert await asyncio.to_thread(raisers, site.records) == ["ana"]

    after = await ana.get(reply.location)
    assert 'id="notice"' in after.text
    rows = {row[0]: row for row in table_rows(after.text, "transfers")[1:]}
    assert rows["2026-11-10 16:00"][8] == "open “Caller was shopping for a car loan”"
    assert f'id="dispute-{line}"' not in after.text  # one open dispute at a time

    again = await ana.post(
        f"/portal/lines/{line}/dispute", {"csrf_token": csrf_of(page.text), "reason": "again"}
    )
    assert again.status == 400
    assert "already has an open dispute" in again.text
    assert len(await stored(site)) == 1


async def test_an_officer_cannot_dispute_what_is_not_theirs(
    site: Site, lines: dict[str, int]
) -> None:
    ana = await site.signed_in("ana")
    token = csrf_of((await ana.get("/portal")).text)
    for target in (str(lines["CA-ben-paid"]), "999999", "abc", "-1"):
        reply = await ana.post(
            f"/portal/lines/{target}/dispute", {"csrf_token": token, "reason": "not mine"}
        )
        assert reply.status == 404, target
        assert "CA-ben" not in reply.text
    short = await ana.post(
        f"/portal/lines/{lines['CA-ana-short']}/dispute", {"csrf_token": token, "reason": "x"}
    )
    assert short.status == 400
    assert "did not bill (too_short: bridged 30 s, under 90 s)" in short.text
    blank = await ana.post(
        f"/portal/lines/{lines['CA-ana-paid']}/dispute", {"csrf_token": token, "reason": "   "}
    )
    assert blank.status == 400
    assert "A reason is required" in blank.text
    long = await ana.post(
        f"/portal/lines/{lines['CA-ana-paid']}/dispute", {"csrf_token": token, "reason": "x" * 2001}
    )
    assert long.status == 400
    assert "at most 2000" in long.text
    assert await stored(site) == []


async def test_a_dispute_without_its_csrf_token_is_refused(
    site: Site, lines: dict[str, int]
) -> None:
    ana = await site.signed_in("ana")
    line = lines["CA-ana-paid"]
    missing = await ana.post(f"/portal/lines/{line}/dispute", {"reason": "forged"})
    assert missing.status == 403
    wrong = await ana.post(
        f"/portal/lines/{line}/dispute", {"reason": "forged", "csrf_token": "not-the-token"}
    )
    assert wrong.status == 403
    assert await stored(site) == []


def many_calls(records: Engine, count: int) -> None:
    with Session(records) as session:
        for n in range(count):
            add_call(
                session, call_sid=f"CA-many-{n:02d}", started_at=DAY - timedelta(days=1, minutes=n),
                officer="ana",
            )  # fmt: skip
        session.commit()


async def test_the_portal_is_paged(site: Site, lines: dict[str, int]) -> None:
    await asyncio.to_thread(many_calls, site.records, 26)  # 30 of ana's calls in all
    ana = await site.signed_in("ana")
    first = await ana.get("/portal")
    assert "30 calls · page 1 of 2" in first.text
    assert len(table_rows(first.text, "transfers")) == 1 + 25
    assert 'rel="next" href="/portal?page=2"' in first.text
    assert 'rel="prev"' not in first.text
    second = await ana.get("/portal?page=2")
    assert len(table_rows(second.text, "transfers")) == 1 + 5
    assert "CA-many-25" in second.text
    assert 'rel="prev" href="/portal?page=1"' in second.text
    kept = await ana.get("/portal?from=2026-11-09&to=2026-11-10&page=1")
    assert 'rel="next" href="/portal?from=2026-11-09&amp;to=2026-11-10&amp;page=2"' in kept.text
    assert (await ana.get("/portal?page=0")).status == 400
