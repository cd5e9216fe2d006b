"""Web-visit attribution in the records, on SQLite and PostgreSQL: a call to a leased pool
number carries its visit into the ``attributions`` table; the P&L breaks down by it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.deployment import Setup, load_setup
from ivr.records import tables as t
from ivr.records.record import call_record
from ivr.records.record_text import record_text
from ivr.records.recorder import RecordWriter
from ivr.records.reports import pnl
from tests.dni.support import CAMPAIGN, POOL, PRINTED, call, dni_deployment
from tests.records.played import journal, journaling_server
from tests.support.records import add_adjustment, add_call

pytestmark = pytest.mark.integration

ORIGIN = "https://rates.example.test"
START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return load_setup(dni_deployment(tmp_path, [ORIGIN]))


def writer(engine: Engine, setup: Setup) -> RecordWriter:
    prepared = RecordWriter(engine, setup, time.time)
    prepared.prepare()
    return prepared


async def test_a_call_to_a_leased_number_is_attributed_to_its_visit(
    redis: Redis, redis_url: str, records_url: str, records: Engine, setup: Setup
) -> None:
    page = f"{ORIGIN}/refinance?utm_source=google&utm_medium=cpc&gclid=Cj0KCQ"
    visit = {
        "visit_id": "f" * 32,
        "page": page,
        "referrer": "https://www.google.com/",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "refi-fall",
        "utm_term": "refinance rates",
        "utm_content": "ad-2",
        "gclid": "Cj0KCQ",
        "msclkid": "ms-1",
    }
    async with journaling_server(setup, redis_url, records_url) as base:
        async with aiohttp.ClientSession() as session:
            lease = await session.post(
                f"{base}/dni/{CAMPAIGN}/lease", json=visit, headers={"Origin": ORIGIN}
            )
            leased = await lease.json()
        assert leased["number"] == POOL[0]
        attributed = await call(base, POOL[0], caller="+15125550141", seed=11)
        free_number = await call(base, POOL[1], caller="+15125550142", seed=12)
        printed = await call(base, PRINTED, caller="+15125550143", seed=13)
    entries = await journal(redis)
    recorder = writer(records, setup)
    recorder.apply(entries)
    recorder.apply(entries)  # applied twice: one row, the same
    with Session(records) as session:
        rows = session.execute(
            select(t.Call.call_sid, t.Attribution).join(
                t.Attribution, t.Attribution.call_id == t.Call.id
            )
        ).all()
        assert [sid for sid, _ in rows] == [attributed]
        row = rows[0][1]
        assert (row.visit_id, row.source, row.medium, row.campaign, row.keyword, row.content) == (
            "f" * 32,
            "google",
            "cpc",
            "refi-fall",
            "refinance rates",
            "ad-2",
        )
        assert (row.landing_page, row.referrer) == (page, "https://www.google.com/")
        assert (row.click_id, row.click_id_kind) == ("Cj0KCQ", "gclid")
        assert abs(row.leased_at.replace(tzinfo=UTC).timestamp() - time.time()) < 600
        record = call_record(session, attributed)
        assert record is not None and record["visit"] is not None
        assert (record["visit"]["source"], record["visit"]["landing_page"]) == ("google", page)
        assert "  visit      source google, medium cpc, campaign refi-fall, keyword refinance " in (
            record_text(record)
        )
        unleased = call_record(session, free_number)
        assert unleased is not None and unleased["visit"] is None
        calls = {c.call_sid: c for c in session.scalars(select(t.Call))}
        assert calls[free_number].number == POOL[1]
        assert calls[printed].number == PRINTED
        assert {c.campaign_id for c in calls.values()} == {CAMPAIGN}
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        report = pnl(session, "source", today - timedelta(days=1), today + timedelta(days=2))
    assert [(r.key, r.name, r.calls, r.billable) for r in report.rows] == [
        ("google", "google", 1, 1),
        (None, "(none)", 2, 2),
    ]
    assert report.rows[0].revenue > Decimal("0")


@pytest.fixture
def attributed_calls(records: Engine) -> Engine:
    """Four November calls: two from Google ads (one disputed), one from Bing, one unattributed."""
    with Session(records) as session:
        visits = [
            ("google", "cpc", "refi-fall", "refinance rates", True, "45.00", "35.00"),
            ("google", "cpc", "refi-fall", "cash out refi", False, "0", "0"),
            ("bing", "cpc", "heloc", "heloc rates", True, "40.00", "30.00"),
            None,
        ]
        for day, visit in enumerate(visits):
            billable = visit is None or visit[4]
            revenue, payout = ("38.00", "20.00") if visit is None else visit[5:]
            call, line = add_call(
                session,
                started_at=START + timedelta(days=day),
                officer=None,
                connected=True,
                billable=billable,
                revenue=revenue,
                payout=payout,
            )
            if day == 0:
                add_adjustment(
                    session, line, status="accepted", revenue_delta="-45.00", payout_delta="-35.00"
                )
            if visit is not None:
                session.add(
                    t.Attribution(
                        call_id=call.id,
                        visit_id=f"visit-{day:027d}",
                        source=visit[0],
                        medium=visit[1],
                        campaign=visit[2],
                        keyword=visit[3],
                        leased_at=START + timedelta(days=day, minutes=-5),
                    )
                )
        session.commit()
    return records


def test_pnl_by_source_medium_ad_campaign_and_keyword(attributed_calls: Engine) -> None:
    with Session(attributed_calls) as session:
        by_source = pnl(session, "source", START, END)
        by_medium = pnl(session, "medium", START, END)
        by_ad = pnl(session, "ad-campaign", START, END)
        by_keyword = pnl(session, "keyword", START, END)
    summary = [
        (r.name, r.calls, r.billable, r.billable_rate, str(r.revenue), str(r.margin))
        for r in by_source.rows
    ]
    assert summary == [
        ("bing", 1, 1, 1.0, "40.00", "10.00"),
        ("google", 2, 1, 0.5, "0.00", "0.00"),  # the billable one was credited back
        ("(none)", 1, 1, 1.0, "38.00", "18.00"),
    ]
    assert by_source.rows[1].disputes_accepted == 1
    assert [(r.key, r.calls) for r in by_medium.rows] == [("cpc", 3), (None, 1)]
    assert [(r.key, r.calls) for r in by_ad.rows] == [("heloc", 1), ("refi-fall", 2), (None, 1)]
    assert [(r.key, r.calls) for r in by_keyword.rows] == [
        ("cash out refi", 1),
        ("heloc rates", 1),
        ("refinance rates", 1),
        (None, 1),
    ]
    assert by_source.totals.calls == 4 and str(by_source.totals.revenue) == "78.00"
    assert by_source.as_dict()["by"] == "source"
