"""The operator dashboard's figures on SQLite and PostgreSQL, and its SVG charts.

Calls on two days for two publishers (one named like a script tag), with an accepted dispute,
scores at every bucket edge, intents and transfer legs; calls outside the period must change
nothing, and an officer's access rule must narrow every figure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.web.dashboard import (
    SCORE_BUCKETS,
    PublisherDay,
    bar_chart,
    dashboard,
    intent_mix,
    line_chart,
    publisher_days,
    score_histogram,
    transfer_outcomes,
)
from tests.support.records import add_adjustment, add_call, add_officer, add_publisher

UTC_ZONE = ZoneInfo("UTC")
CHICAGO = ZoneInfo("America/Chicago")
NOV1 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NOV2 = NOV1 + timedelta(days=1)
SCRIPT = '<script>alert("x")</script> & Co'
SVG = "{http://www.w3.org/2000/svg}"

pytestmark = pytest.mark.integration


def attempt(session: Session, call: t.Call, position: int, outcome: str | None) -> None:
    session.add(
        t.TransferAttempt(
            call_id=call.id,
            position=position,
            step="transfer",
            officer_id=call.officer_id or "ana",
            number="+15125550111",
            outcome=outcome,
            started_at=call.started_at,
            duration_s=10.0,
        )
    )


@pytest.fixture
def period(records: Engine) -> Engine:
    with Session(records) as session:
        add_publisher(session, "pub-a", SCRIPT)
        add_publisher(session, "pub-b", "Beta Media")
        add_officer(session, "ana")
        add_officer(session, "ben")
        a1, credited = add_call(
            session, started_at=NOV1, publisher="pub-a", officer="ana", billable=True,
            revenue="45.00", payout="35.00", score=0,
        )  # fmt: skip
        add_adjustment(
            session, credited, status="accepted", revenue_delta="-45.00", payout_delta="-35.00"
        )
        add_adjustment(session, credited, kind="dispute", status="rejected")
        a2, _ = add_call(
            session, started_at=NOV1 + timedelta(hours=1), publisher="pub-a", officer="ben",
            billable=True, revenue="50.00", payout="30.00", score=9,
        )  # fmt: skip
        a3, _ = add_call(session, started_at=NOV1 + timedelta(hours=2), publisher="pub-a", score=10)
        a4, _ = add_call(
            session, started_at=NOV2, publisher="pub-a", officer="ana", billable=True,
            revenue="40.00", payout="20.00", score=55,
        )  # fmt: skip
        b1, _ = add_call(session, started_at=NOV2, publisher="pub-b", officer="ben", score=99)
        b2, _ = add_call(
            session, started_at=NOV2 + timedelta(hours=1), publisher="pub-b", score=100
        )
        add_call(session, started_at=NOV2 + timedelta(hours=2), publisher="pub-b")
        # outside the period, either side
        before, _ = add_call(
            session, started_at=NOV1 - timedelta(days=1), publisher="pub-a", officer="ana",
            billable=True, revenue="99.00", score=50,
        )  # fmt: skip
        after, _ = add_call(session, started_at=NOV2 + timedelta(days=1), score=50)
        for call, intent in (
            (a1, "ready"), (a2, "ready"), (a3, "shopping"), (a4, None), (b1, "servicing"),
            (b2, "ready"), (before, "ready"), (after, "ready"),
        ):  # fmt: skip
            call.intent = intent
        attempt(session, a1, 0, "no_answer")
        attempt(session, a1, 1, "bridged")
        attempt(session, a2, 0, "bridged")
        attempt(session, a4, 0, "bridged")
        attempt(session, b1, 0, "declined")
        attempt(session, b1, 1, None)
        attempt(session, before, 0, "declined")
        session.commit()
    return records


def money(row: PublisherDay) -> tuple[Decimal, Decimal, Decimal]:
    return row.revenue, row.payout, row.margin


def test_publisher_days(period: Engine) -> None:
    with Session(period) as session:
        rows = publisher_days(session, date(2026, 11, 1), date(2026, 11, 2), UTC_ZONE)
    figures = [
        (r.publisher_id, r.publisher, r.day, r.calls, r.billable, *map(str, money(r))) for r in rows
    ]
    assert figures == [
        ("pub-a", SCRIPT, date(2026, 11, 1), 3, 2, "50.00", "30.00", "20.00"),
        ("pub-a", SCRIPT, date(2026, 11, 2), 1, 1, "40.00", "20.00", "20.00"),
        ("pub-b", "Beta Media", date(2026, 11, 2), 3, 0, "0.00", "0.00", "0.00"),
    ]  # fmt: skip
    assert [r.billable_rate for r in rows] == [2 / 3, 1.0, 0.0]


def test_publisher_days_in_a_zone(period: Engine) -> None:
    """Chicago's 1 November runs 05:00 UTC on the 1st to 06:00 UTC on the 2nd (DST ends)."""
    with Session(period) as session:
        rows = publisher_days(session, date(2026, 11, 1), date(2026, 11, 1), CHICAGO)
        assert [(r.publisher_id, r.day, r.calls) for r in rows] == [("pub-a", date(2026, 11, 1), 3)]
        with pytest.raises(ValueError, match="at most 366 days"):
            publisher_days(session, date(2026, 1, 1), date(2027, 1, 2), UTC_ZONE)
        with pytest.raises(ValueError, match=r"'to' \(2026-10-31\) is before"):
            publisher_days(session, date(2026, 11, 1), date(2026, 10, 31), UTC_ZONE)


def test_score_histogram_intents_and_outcomes(period: Engine) -> None:
    first, last = date(2026, 11, 1), date(2026, 11, 2)
    with Session(period) as session:
        assert score_histogram(session, first, last, UTC_ZONE) == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]
        assert intent_mix(session, first, last, UTC_ZONE) == {
            "ready": 3,
            "(unclassified)": 1,
            "servicing": 1,
            "shopping": 1,
        }
        assert transfer_outcomes(session, first, last, UTC_ZONE) == {
            "bridged": 3,
            "(in progress)": 1,
            "declined": 1,
            "no_answer": 1,
        }
    assert SCORE_BUCKETS[0] == "0–9" and SCORE_BUCKETS[-1] == "90–100"


def test_where_narrows_every_figure(period: Engine) -> None:
    ana = t.Call.officer_id == "ana"
    with Session(period) as session:
        board = dashboard(session, date(2026, 11, 1), date(2026, 11, 2), UTC_ZONE, ana)
    assert board.days == [date(2026, 11, 1), date(2026, 11, 2)]
    assert [(r.day, r.calls, r.revenue, r.payout) for r in board.publishers] == [
        (date(2026, 11, 1), 1, Decimal("0.00"), Decimal("0.00")),
        (date(2026, 11, 2), 1, Decimal("40.00"), Decimal("20.00")),
    ]
    assert board.scores == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert board.intents == {"(unclassified)": 1, "ready": 1}
    assert board.outcomes == {"bridged": 2, "no_answer": 1}


def test_an_empty_period(period: Engine) -> None:
    with Session(period) as session:
        board = dashboard(session, date(2025, 1, 1), date(2025, 1, 1), UTC_ZONE)
    assert (board.publishers, board.scores, board.intents, board.outcomes) == ([], [0] * 10, {}, {})


# -- charts --------------------------------------------------------------------------------------


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [
        element.text or ""
        for element in root.iter()
        if element.tag in (f"{SVG}text", f"{SVG}title")
    ]


def test_line_chart_parses_and_escapes_names() -> None:
    svg = line_chart(
        "Calls per day",
        ["11-01", "11-02", "11-03"],
        {SCRIPT: [3, None, 1], "Beta Media": [0, 3, 2]},
    )
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg
    found = texts(svg)
    assert SCRIPT in found and "Beta Media" in found and "Calls per day" in found
    assert "11-02" in found
    root = ET.fromstring(svg)
    lines = root.findall(f"{SVG}g/{SVG}polyline")
    # the gap splits the first series: only the second has a line of more than one point
    assert [len(p.get("points", "").split()) for p in lines] == [3]
    assert len(root.findall(f"{SVG}g/{SVG}circle")) == 5


def test_line_chart_checks_lengths_and_handles_no_data() -> None:
    with pytest.raises(ValueError, match="series 'a' has 1 values for 2 labels"):
        line_chart("x", ["1", "2"], {"a": [1]})
    assert ET.fromstring(line_chart("empty", [], {})).tag == f"{SVG}svg"
    negative = line_chart("Margin", ["a", "b"], {"m": [-20.5, 10]}, fmt="${:,.0f}")
    assert "$-20" in negative or "$-21" in negative


def test_bar_chart_parses_and_escapes_labels() -> None:
    svg = bar_chart("Transfer outcomes", [("bridged", 3), ('<b>"x"</b> & y', 1)])
    root = ET.fromstring(svg)
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 2
    heights = [float(bar.get("height", "0")) for bar in bars]
    assert heights[0] == pytest.approx(3 * heights[1])
    assert '<b>"x"</b> & y' in texts(svg)
    assert "<b>" not in svg
    with pytest.raises(ValueError, match="no negative values"):
        bar_chart("x", [("a", -1)])
