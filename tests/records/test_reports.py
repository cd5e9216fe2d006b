"""The P&L, the call listing and one call's record, on SQLite and PostgreSQL.

Six calls in November over three publishers, two campaigns and three officers (one call to an
overflow line that is no officer), with disputes accepted, rejected and open and an operator's
correction; calls just outside the period, with adjustments of their own, must change nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.records.reports import call_record, calls, parse_period, period, pnl
from tests.support.records import (
    add_adjustment,
    add_call,
    add_campaign,
    add_live_call,
    add_officer,
    add_publisher,
)

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
CALLER = "+15125550123"


def figures(row: object) -> dict[str, object]:
    """The row's JSON form without its id and name."""
    data = dict(row.as_dict())  # type: ignore[attr-defined]
    del data["id"], data["name"]
    return data


@pytest.fixture
def november(records: Engine) -> Engine:
    with Session(records) as session:
        add_publisher(session, "pub-a", "Alpha Leads")
        add_publisher(session, "pub-b", "Beta Media")
        add_publisher(session, "pub-c", "Zeta Radio")
        add_campaign(session, "camp-x", "Refinance X")
        add_campaign(session, "camp-y", "Purchase Y")
        add_officer(session, "ana", "Ana Ruiz")
        add_officer(session, "ben", "Ben Okafor")
        add_officer(session, "carla", "Carla Diaz")
        common = {"caller": CALLER}
        _, first = add_call(  # exactly at the start: in
            session, started_at=START, publisher="pub-a", campaign="camp-x", officer="ana",
            billable=True, revenue="45.00", payout="35.00", score=80, **common,
        )  # fmt: skip
        add_call(
            session, started_at=START + timedelta(days=1), publisher="pub-a", campaign="camp-x",
            officer="ben", billable=False, rule="short", reason="bridged 30 s < 90 s minimum",
            score=60, **common,
        )  # fmt: skip
        add_call(
            session, started_at=START + timedelta(days=2), publisher="pub-a", campaign="camp-y",
            **common,
        )  # fmt: skip
        _, fourth = add_call(
            session, started_at=START + timedelta(days=3), publisher="pub-b", campaign="camp-y",
            officer="ana", billable=True, revenue="40.00", payout="30.00", score=70, **common,
        )  # fmt: skip
        _, fifth = add_call(
            session, started_at=START + timedelta(days=4), publisher="pub-b", campaign="camp-x",
            officer="carla", billable=True, revenue="38.00", payout="20.00", **common,
        )  # fmt: skip
        add_call(  # the last microsecond: in
            session, started_at=END - timedelta(microseconds=1), publisher="pub-c",
            campaign="camp-y", score=40, **common,
        )  # fmt: skip
        add_call(  # to the overflow line: connected, no officer row, not billable
            session, started_at=START + timedelta(days=5), publisher="pub-c", campaign="camp-y",
            officer="overflow", rule="no_buyer", reason="bridged to overflow, not a buyer",
            **common,
        )  # fmt: skip
        _, before = add_call(  # outside, just before
            session, started_at=START - timedelta(microseconds=1), publisher="pub-a",
            campaign="camp-x", officer="ana", billable=True, revenue="45.00", payout="35.00",
            score=10, **common,
        )  # fmt: skip
        add_call(  # outside: exactly the end
            session, started_at=END, publisher="pub-b", campaign="camp-x", officer="ben",
            billable=True, revenue="40.00", payout="30.00", score=10, **common,
        )  # fmt: skip
        add_adjustment(
            session, first, status="accepted", revenue_delta="-45.00", payout_delta="-35.00"
        )
        add_adjustment(session, fourth, status="rejected", revenue_delta="0")
        add_adjustment(session, fourth, kind="correction", status="accepted", revenue_delta="5.00")
        add_adjustment(session, fifth, status="open")
        add_adjustment(session, before, status="accepted", revenue_delta="-45.00")
        add_adjustment(session, before, status="open")
        session.commit()
    return records


def test_pnl_by_publisher_nets_accepted_adjustments_only(november: Engine) -> None:
    with Session(november) as session:
        report = pnl(session, "publisher", START, END)
    assert [(row.key, row.name) for row in report.rows] == [
        ("pub-a", "Alpha Leads"),
        ("pub-b", "Beta Media"),
        ("pub-c", "Zeta Radio"),
    ]
    alpha, beta, zeta = report.rows
    assert figures(alpha) == {
        "calls": 3,
        "connected": 2,
        "billable": 1,
        "billable_rate": 0.3333,
        "revenue": "0.00",  # 45.00 credited back by the accepted dispute
        "payout": "0.00",
        "margin": "0.00",
        "average_score": 70.0,  # (80 + 60) / 2: the unscored call does not count
        "disputes_open": 0,
        "disputes_accepted": 1,
    }
    assert figures(beta) == {
        "calls": 2,
        "connected": 2,
        "billable": 2,
        "billable_rate": 1.0,
        "revenue": "83.00",  # 40 + 38 + the 5.00 correction; the rejected dispute: nothing
        "payout": "50.00",
        "margin": "33.00",
        "average_score": 70.0,
        "disputes_open": 1,
        "disputes_accepted": 0,
    }
    assert figures(zeta) == {
        "calls": 2,
        "connected": 1,
        "billable": 0,
        "billable_rate": 0.0,
        "revenue": "0.00",
        "payout": "0.00",
        "margin": "0.00",
        "average_score": 40.0,
        "disputes_open": 0,
        "disputes_accepted": 0,
    }
    assert report.totals.name == "(total)"
    assert figures(report.totals) == {
        "calls": 7,
        "connected": 5,
        "billable": 3,
        "billable_rate": 0.4286,
        "revenue": "83.00",
        "payout": "50.00",
        "margin": "33.00",
        "average_score": 62.5,  # (80 + 60 + 70 + 40) / 4
        "disputes_open": 1,
        "disputes_accepted": 1,
    }
    assert report.totals.revenue == Decimal("83.00")
    assert isinstance(report.totals.margin, Decimal)


def test_pnl_by_officer_names_officers_and_puts_untransferred_calls_last(
    november: Engine,
) -> None:
    with Session(november) as session:
        report = pnl(session, "officer", START, END)
    rows = {row.key: row for row in report.rows}
    assert [(row.key, row.name) for row in report.rows] == [
        ("ana", "Ana Ruiz"),
        ("ben", "Ben Okafor"),
        ("carla", "Carla Diaz"),
        ("overflow", "overflow"),  # no officer row: its id
        (None, "(not transferred)"),
    ]
    ana = rows["ana"]
    assert (ana.calls, ana.connected, ana.billable) == (2, 2, 2)
    assert (ana.revenue, ana.payout, ana.margin) == (Decimal("45.00"), Decimal("30.00"), 15)
    assert ana.average_score == 75.0
    assert (ana.disputes_open, ana.disputes_accepted) == (0, 1)
    assert (rows["ben"].billable, rows["ben"].revenue, rows["ben"].billable_rate) == (
        0,
        Decimal("0.00"),
        0.0,
    )
    assert (rows["carla"].revenue, rows["carla"].payout, rows["carla"].disputes_open) == (
        Decimal("38.00"),
        Decimal("20.00"),
        1,
    )
    assert rows["carla"].average_score is None
    nobody = rows[None]
    assert (nobody.calls, nobody.connected, nobody.average_score) == (2, 0, 40.0)
    assert report.totals.calls == 7
    assert report.totals.revenue == sum(row.revenue for row in report.rows)


def test_pnl_by_campaign(november: Engine) -> None:
    with Session(november) as session:
        report = pnl(session, "campaign", START, END)
    assert [(r.name, r.calls, r.billable, str(r.revenue), str(r.payout)) for r in report.rows] == [
        ("Purchase Y", 4, 1, "45.00", "30.00"),
        ("Refinance X", 3, 2, "38.00", "20.00"),
    ]
    assert [row.average_score for row in report.rows] == [55.0, 70.0]


def test_pnl_of_an_empty_period_has_zero_totals(november: Engine) -> None:
    with Session(november) as session:
        report = pnl(session, "publisher", END + timedelta(days=1), END + timedelta(days=2))
    assert report.rows == []
    assert figures(report.totals) == {
        "calls": 0,
        "connected": 0,
        "billable": 0,
        "billable_rate": None,
        "revenue": "0.00",
        "payout": "0.00",
        "margin": "0.00",
        "average_score": None,
        "disputes_open": 0,
        "disputes_accepted": 0,
    }


def test_period_boundaries_follow_the_time_zone(records: Engine) -> None:
    chicago = ZoneInfo("America/Chicago")
    start, end = period(date(2026, 11, 2), date(2026, 11, 2), chicago)  # CST: UTC-6
    assert (start, end) == (
        datetime(2026, 11, 2, 6, tzinfo=UTC),
        datetime(2026, 11, 3, 6, tzinfo=UTC),
    )
    with Session(records) as session:
        for at, score in [
            (datetime(2026, 11, 2, 5, 59, 59, tzinfo=UTC), 1),  # 23:59:59 on the 1st in Chicago
            (datetime(2026, 11, 2, 6, tzinfo=UTC), 50),
            (datetime(2026, 11, 3, 5, 59, 59, tzinfo=UTC), 70),
            (datetime(2026, 11, 3, 6, tzinfo=UTC), 99),
        ]:
            add_call(session, started_at=at, score=score)
        session.commit()
        report = pnl(session, "publisher", start, end)
    assert (report.totals.calls, report.totals.average_score) == (2, 60.0)


def test_parse_period_takes_inclusive_days_and_says_what_is_wrong() -> None:
    assert parse_period("2026-11-01", "2026-11-30") == (START, END)
    with pytest.raises(ValueError, match="'from' must be a date, YYYY-MM-DD"):
        parse_period("11/01/2026", "2026-11-30")
    with pytest.raises(ValueError, match=r"'to' \(2026-10-31\) is before 'from'"):
        parse_period("2026-11-01", "2026-10-31")
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        parse_period("2026-11-01", "2026-11-30", "Mars/Olympus")


def test_pnl_refuses_an_unknown_grouping_and_naive_times(records: Engine) -> None:
    with Session(records) as session:
        with pytest.raises(ValueError, match="cannot group a P&L by 'state'"):
            pnl(session, "state", START, END)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="UTC-aware"):
            pnl(session, "publisher", START.replace(tzinfo=None), END)


def test_call_listing_masks_numbers_and_nets_adjustments(november: Engine) -> None:
    with Session(november) as session:
        add_live_call(session, started_at=START + timedelta(days=6), caller="+15125550199")
        session.commit()
        listing = calls(session, START, END)
        shown = calls(session, START, END, show_numbers=True, limit=2, offset=3)
    assert len(listing) == 8
    assert [line.started_at for line in listing] == sorted(line.started_at for line in listing)
    first = listing[0]
    assert first.caller == "+1••••••0123"
    assert (first.officer, first.billable, first.revenue, first.payout) == (
        "ana",
        True,
        Decimal("0.00"),  # net of the accepted dispute
        Decimal("0.00"),
    )
    assert first.line_id is not None
    fourth = listing[3]
    assert (fourth.revenue, fourth.payout) == (Decimal("45.00"), Decimal("30.00"))
    live = listing[6]
    assert (live.caller, live.line_id, live.billable, live.revenue) == (
        "+1••••••0199",
        None,
        None,
        None,
    )
    assert [line.call_sid for line in shown] == [line.call_sid for line in listing[3:5]]
    assert {line.caller for line in shown} == {CALLER}
    assert listing[1].as_dict()["reason"] == "bridged 30 s < 90 s minimum"
    assert listing[0].as_dict()["revenue"] == "0.00"


def test_call_record_holds_everything_and_masks_numbers(records: Engine) -> None:
    at = datetime(2026, 11, 20, 15, tzinfo=UTC)
    with Session(records) as session:
        add_publisher(session, "rate-compare", "RateCompare")
        add_officer(session, "ana", "Ana Ruiz")
        call, line = add_call(
            session,
            call_sid="CA-record",
            started_at=at,
            officer="ana",
            billable=True,
            revenue="45.00",
            payout="35.00",
            score=72,
        )
        session.add_all(
            [
                t.Answer(call_id=call.id, slot="loan_type", value="refinance", source="keypad",
                         heard=None, attempts=1, at=at + timedelta(seconds=20)),
                t.Answer(call_id=call.id, slot="goal", value="lower my rate", source="speech",
                         heard="call me on 512 555 0199", attempts=1,
                         at=at + timedelta(seconds=40)),
                t.TransferAttempt(call_id=call.id, position=0, step="connect", officer_id="ana",
                                  number="+15125550111", outcome="bridged",
                                  started_at=at + timedelta(seconds=60), duration_s=240.0),
                t.Score(call_id=call.id, score=72, qualified=True, intent="refinance",
                        probabilities={"refinance": 0.9}, reasons=["refinance intent (+40)"]),
                t.CallEvent(dedupe_key="status:CA-record:3", call_sid="CA-record",
                            source="status", event="completed", sequence=3,
                            at=at + timedelta(minutes=6), detail="372 s",
                            data={"From": "+15125550123", "To": "+15125550100",
                                  "CallSid": "CA-record", "CallDuration": "372"}),
                t.CallEvent(dedupe_key="engine:CA-record:0", call_sid="CA-record",
                            source="engine", event="enter", sequence=0, at=at,
                            step="disclosure", data={}),
                t.Recording(recording_sid="RE1", call_sid="CA-record", duration_s=300,
                            channels=2, created_at=at + timedelta(minutes=7)),
                t.Transcript(recording_sid="RE1", call_sid="CA-record", model="base.en",
                             text="caller: my number is 512 555 0199",
                             segments=[{"speaker": "caller",
                                        "text": "my number is 512 555 0199"}],
                             created_at=at + timedelta(minutes=9)),
            ]
        )  # fmt: skip
        consent = t.ConsentRecord(
            call_id=call.id, step="disclosure", flow="mortgage", flow_version="v1",
            caller_state="TX", all_party=False, disclosure="This call is recorded.",
            asked=False, given=None, at=at,
        )  # fmt: skip
        session.add(consent)
        add_adjustment(session, line, status="rejected", reason="caller hung up")
        session.commit()
        masked = call_record(session, "CA-record")
        clear = call_record(session, "CA-record", show_numbers=True)
        missing = call_record(session, "CA-nothing")
    assert missing is None
    assert masked is not None and clear is not None
    assert masked["attribution"] == {
        "number": "+15125550100",
        "campaign": {"id": "sunbelt-refi", "name": "sunbelt-refi"},
        "publisher": {"id": "rate-compare", "name": "RateCompare"},
        "caller": "+1••••••0123",
        "caller_state": "TX",
        "repeat": False,
    }
    assert clear["attribution"]["caller"] == "+15125550123"
    assert masked["officer"] == {"id": "ana", "name": "Ana Ruiz"}
    assert [a["slot"] for a in masked["answers"]] == ["loan_type", "goal"]
    assert masked["answers"][1]["heard"] == "call me on ••••••0199"
    assert masked["transfer_attempts"][0]["number"] == "+1••••••0111"
    assert masked["transfer_attempts"][0]["outcome"] == "bridged"
    assert masked["score"] == {
        "score": 72,
        "qualified": True,
        "intent": "refinance",
        "probabilities": {"refinance": 0.9},
        "reasons": ["refinance intent (+40)"],
    }
    assert masked["consent"]["disclosure"] == "This call is recorded."
    assert [(e["source"], e["event"]) for e in masked["timeline"]] == [
        ("engine", "enter"),
        ("status", "completed"),
    ]
    callback = masked["timeline"][1]["data"]
    assert (callback["From"], callback["To"], callback["CallSid"]) == (
        "+1••••••0123",
        "+1••••••0100",
        "CA-record",
    )
    assert clear["timeline"][1]["data"]["From"] == "+15125550123"
    transcript = masked["recordings"][0]["transcript"]
    assert transcript["segments"][0]["text"] == "my number is ••••••0199"
    assert clear["recordings"][0]["transcript"]["text"] == "caller: my number is 512 555 0199"
    billing = masked["billing"]
    assert (billing["line_id"], billing["billable"], billing["revenue"]) == (line.id, True, "45.00")
    assert (billing["net_revenue"], billing["net_margin"]) == ("45.00", "10.00")
    assert [(a["kind"], a["status"]) for a in billing["adjustments"]] == [("dispute", "rejected")]
