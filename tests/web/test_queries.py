"""The call list, the review queue, verdicts and the officer portal's list, on SQLite and
PostgreSQL.

Five calls in early November (one still in progress) over two publishers, two campaigns and two
officers, with scores, billing lines and two reviews of one call; every filter, sort and paging
edge is checked against the exact calls it must give, and an officer's access rule (``where``)
must hide the other officer's calls from lists, counts, the queue and verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.web.queries import (
    MAX_NOTES,
    CallFilters,
    CallRow,
    VerdictError,
    list_calls,
    officer_transfers,
    record_verdict,
    review_queue,
    verdicts,
)
from tests.support.records import (
    add_adjustment,
    add_answer,
    add_call,
    add_campaign,
    add_live_call,
    add_officer,
    add_publisher,
    add_review,
    add_score,
    add_user,
)

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # 22:00 on 31 October in Chicago
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ANA = t.Call.officer_id == "ana"


@pytest.fixture
def calls(records: Engine) -> Engine:
    """c1…c5 by start; c4 reviewed twice (newest disagrees: shopping); c5 in progress."""
    with Session(records) as session:
        add_publisher(session, "pub-a", "Alpha Leads")
        add_publisher(session, "pub-b", "Beta Media")
        add_campaign(session, "camp-x", "Refinance X")
        add_campaign(session, "camp-y", "Purchase Y")
        add_officer(session, "ana", "Ana Ruiz")
        add_officer(session, "ben", "Ben Okafor")
        qa = add_user(session, "quinn", "qa")
        add_user(session, "ana-user", "officer", officer="ana")
        c1, l1 = add_call(
            session, call_sid="c1", started_at=DAY, publisher="pub-a", campaign="camp-x",
            officer="ana", billable=True, revenue="45.00", payout="35.00",
            caller="+15125550101",
        )  # fmt: skip
        add_score(session, c1, score=80, intent="shopping", confidence=0.9)
        c2, _ = add_call(
            session, call_sid="c2", started_at=DAY + timedelta(days=1), publisher="pub-a",
            campaign="camp-y", officer="ben", rule="short", reason="bridged 42 s",
        )  # fmt: skip
        add_score(session, c2, score=40, intent="researching", confidence=0.3)
        c3, _ = add_call(
            session, call_sid="c3", started_at=DAY + timedelta(days=2), publisher="pub-b",
            campaign="camp-x",
        )  # fmt: skip
        c4, l4 = add_call(
            session, call_sid="c4", started_at=DAY + timedelta(days=3), publisher="pub-b",
            campaign="camp-x", officer="ana", billable=True, revenue="50.00", payout="30.00",
        )  # fmt: skip
        add_score(session, c4, score=70, intent="ready", confidence=0.55)
        add_review(session, c4, qa, agrees=True, at=NOW - timedelta(hours=2))
        add_review(session, c4, qa, agrees=False, label="shopping", billable=False, at=NOW)
        c5 = add_live_call(
            session, call_sid="c5", started_at=DAY + timedelta(days=4), publisher="pub-a",
            campaign="camp-x",
        )  # fmt: skip
        for call, outcome, duration in (
            (c1, "transferred", 300),
            (c2, "transferred", 120),
            (c3, "completed", 60),
            (c4, "transferred", 400),
        ):
            call.outcome, call.duration_s = outcome, duration
        c5.duration_s = None
        add_answer(session, c1, "loan_type", "refinance", heard="refinance")
        add_answer(session, c1, "state", "TX", source="keypad")
        add_adjustment(session, l1, status="rejected", reason="not a lead", at=NOW)
        add_adjustment(session, l4, status="open", reason="wrong number", at=NOW)
        session.commit()
    return records


def sids(rows: Sequence[CallRow]) -> list[str]:
    return [row.call_sid for row in rows]


def listed(engine: Engine, where: object = None, **values: str) -> tuple[list[str], int]:
    with Session(engine) as session:
        page = list_calls(session, CallFilters.parse(values), where)  # type: ignore[arg-type]
        return sids(page.rows), page.total


# -- parsing -------------------------------------------------------------------------------------


def test_parse_reads_every_filter() -> None:
    filters = CallFilters.parse(
        {
            "from": "2026-11-01", "to": "2026-11-02", "tz": "America/Chicago",
            "campaign": "camp-x", "publisher": "pub-a", "officer": "ana", "intent": "ready",
            "score_min": "10", "score_max": "90", "outcome": "transferred", "billable": "yes",
            "reviewed": "no", "sort": "confidence", "order": "asc", "page": "3",
            "page_size": "20", "other": "ignored",
        }
    )  # fmt: skip
    assert filters.start == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
    assert filters.end == datetime(2026, 11, 3, 6, 0, tzinfo=UTC)  # CDT → CST on 1 November
    assert (filters.campaign, filters.publisher, filters.officer) == ("camp-x", "pub-a", "ana")
    assert (filters.intent, filters.score_min, filters.score_max) == ("ready", 10, 90)
    assert (filters.outcome, filters.billable, filters.reviewed) == ("transferred", True, False)
    assert (filters.sort, filters.order, filters.page, filters.page_size) == (
        "confidence",
        "asc",
        3,
        20,
    )


def test_parse_defaults_and_blank_values() -> None:
    filters = CallFilters.parse({"campaign": "", "billable": "  "})
    assert filters == CallFilters()
    assert (filters.sort, filters.order, filters.page, filters.page_size) == (
        "started",
        "desc",
        1,
        50,
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"from": "11/01/2026"}, "'from' must be a date, YYYY-MM-DD (got '11/01/2026')"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "'to' (2026-11-01) is before 'from'"),
        ({"tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"score_min": "ten"}, "'score_min' must be a whole number (got 'ten')"),
        ({"score_max": "101"}, "'score_max' must be 0 to 100 (got 101)"),
        ({"score_min": "60", "score_max": "50"}, "'score_min' (60) is above 'score_max' (50)"),
        ({"billable": "maybe"}, "'billable' must be yes or no (got 'maybe')"),
        ({"reviewed": "2"}, "'reviewed' must be yes or no (got '2')"),
        ({"intent": "hot"}, "'intent' must be one of ready, shopping"),
        ({"sort": "caller"}, "'sort' must be one of started, score, confidence"),
        ({"order": "up"}, "'order' must be asc or desc (got 'up')"),
        ({"page": "0"}, "'page' must be 1 to 100 (got 0)"),
        ({"page": "101"}, "'page' must be 1 to 100 (got 101): narrow the filters"),
        ({"page_size": "101"}, "'page_size' must be 1 to 100 (got 101)"),
        ({"page_size": "-5"}, "'page_size' must be 1 to 100 (got -5)"),
    ],
)
def test_parse_refuses_bad_values(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        CallFilters.parse(values)


def test_filters_refuse_naive_times() -> None:
    with pytest.raises(ValueError, match="'start' must be an aware time"):
        CallFilters(start=datetime(2026, 11, 1))


# -- filters -------------------------------------------------------------------------------------


def test_newest_first_by_default(calls: Engine) -> None:
    assert listed(calls) == (["c5", "c4", "c3", "c2", "c1"], 5)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"campaign": "camp-x"}, ["c5", "c4", "c3", "c1"]),
        ({"campaign": "camp-z"}, []),
        ({"publisher": "pub-b"}, ["c4", "c3"]),
        ({"officer": "ana"}, ["c4", "c1"]),
        ({"intent": "shopping"}, ["c1"]),
        ({"score_min": "70"}, ["c4", "c1"]),  # 70 itself is in
        ({"score_max": "70"}, ["c4", "c2"]),
        ({"score_min": "41", "score_max": "79"}, ["c4"]),
        ({"outcome": "completed"}, ["c3"]),
        ({"billable": "yes"}, ["c4", "c1"]),
        ({"billable": "no"}, ["c3", "c2"]),  # c5 has no line yet: neither
        ({"reviewed": "yes"}, ["c4"]),
        ({"reviewed": "no"}, ["c5", "c3", "c2", "c1"]),
        ({"from": "2026-11-02"}, ["c5", "c4", "c3", "c2"]),
        ({"to": "2026-11-02"}, ["c2", "c1"]),
        ({"from": "2026-11-02", "to": "2026-11-02"}, ["c2"]),
        ({"from": "2026-11-01", "to": "2026-11-01"}, ["c1"]),
        # c1 started at 22:00 on 31 October Chicago time, c2 at 21:00 on 1 November (CST)
        ({"from": "2026-11-01", "to": "2026-11-01", "tz": "America/Chicago"}, ["c2"]),
        ({"from": "2026-10-31", "to": "2026-10-31", "tz": "America/Chicago"}, ["c1"]),
        ({"campaign": "camp-x", "publisher": "pub-a", "billable": "yes"}, ["c1"]),
    ],
)
def test_each_filter(calls: Engine, values: dict[str, str], expected: list[str]) -> None:
    assert listed(calls, **values) == (expected, len(expected))


# -- sorting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("started", "asc", ["c1", "c2", "c3", "c4", "c5"]),
        # calls without a value come last either way, by id in the same direction
        ("score", "desc", ["c1", "c4", "c2", "c5", "c3"]),
        ("score", "asc", ["c2", "c4", "c1", "c3", "c5"]),
        ("confidence", "asc", ["c2", "c4", "c1", "c3", "c5"]),
        ("confidence", "desc", ["c1", "c4", "c2", "c5", "c3"]),
        ("duration", "desc", ["c4", "c1", "c2", "c3", "c5"]),
        ("duration", "asc", ["c3", "c2", "c1", "c4", "c5"]),
        ("revenue", "desc", ["c4", "c1", "c3", "c2", "c5"]),
        ("revenue", "asc", ["c2", "c3", "c1", "c4", "c5"]),
    ],
)
def test_each_sort(calls: Engine, sort: str, order: str, expected: list[str]) -> None:
    assert listed(calls, sort=sort, order=order) == (expected, 5)


def test_sort_with_a_filter_that_joins_the_same_table(calls: Engine) -> None:
    assert listed(calls, sort="revenue", billable="yes") == (["c4", "c1"], 2)


# -- paging --------------------------------------------------------------------------------------


def test_pages(calls: Engine) -> None:
    seen = []
    with Session(calls) as session:
        for number in (1, 2, 3):
            page = list_calls(session, CallFilters(page=number, page_size=2))
            assert (page.total, page.pages, page.has_next) == (5, 3, number < 3)
            seen.append(sids(page.rows))
        beyond = list_calls(session, CallFilters(page=4, page_size=2))
        assert (beyond.rows, beyond.total, beyond.has_next) == ([], 5, False)
        empty = list_calls(session, CallFilters(campaign="nobody"))
        assert (empty.rows, empty.total, empty.pages) == ([], 0, 0)
    assert seen == [["c5", "c4"], ["c3", "c2"], ["c1"]]


def test_page_size_one_and_the_last_exact_page(calls: Engine) -> None:
    with Session(calls) as session:
        assert sids(list_calls(session, CallFilters(page=5, page_size=1)).rows) == ["c1"]
        page = list_calls(session, CallFilters(page=1, page_size=5))
        assert (len(page.rows), page.pages, page.has_next) == (5, 1, False)


def test_pages_are_capped(calls: Engine) -> None:
    from ivr.web.queries import CallPage

    assert CallPage([], 1_000_000, 1, 100).pages == 100


# -- the rows ------------------------------------------------------------------------------------


def test_row_content(calls: Engine) -> None:
    with Session(calls) as session:
        rows = {row.call_sid: row for row in list_calls(session, CallFilters()).rows}
    c4, c1, c5 = rows["c4"], rows["c1"], rows["c5"]
    assert (c4.campaign_id, c4.campaign, c4.publisher, c4.officer) == (
        "camp-x",
        "Refinance X",
        "Beta Media",
        "Ana Ruiz",
    )
    assert (c4.intent, c4.confidence, c4.score, c4.outcome) == ("ready", 0.55, 70, "transferred")
    assert (c4.billable, c4.rule, c4.revenue, c4.connected) == (
        True,
        "billable",
        Decimal("50.00"),
        True,
    )
    # the newest of two reviews
    assert (c4.reviewed, c4.verdict_agrees, c4.verdict_label, c4.verdict_billable) == (
        True,
        False,
        "shopping",
        False,
    )
    assert c1.caller == "+1••••••0101"
    assert (c1.reviewed, c1.verdict_agrees, c1.duration_s) == (False, None, 300)
    assert (c5.status, c5.line_id, c5.billable, c5.revenue, c5.officer) == (
        "in_progress",
        None,
        None,
        None,
        None,
    )
    assert c4.as_dict()["revenue"] == "50.00"
    assert c4.as_dict()["started_at"] == "2026-11-04T03:00:00+00:00"


# -- the access rule -----------------------------------------------------------------------------


def test_where_scopes_lists_and_counts(calls: Engine) -> None:
    assert listed(calls, ANA) == (["c4", "c1"], 2)
    assert listed(calls, ANA, publisher="pub-a") == (["c1"], 1)
    assert listed(calls, ANA, officer="ben") == ([], 0)  # a filter cannot widen the rule
    assert listed(calls, ANA, sort="confidence", reviewed="no") == (["c1"], 1)
    with Session(calls) as session:
        assert sids(review_queue(session, where=ANA)) == ["c1"]
        assert verdicts(session, "c4", where=t.Call.officer_id == "ben") == []
        quinn = session.scalar(select(t.User.id).where(t.User.username == "quinn"))
        assert quinn is not None
        with pytest.raises(VerdictError, match="no call 'c2'"):
            record_verdict(session, "c2", quinn, True, None, None, "", NOW, where=ANA)


# -- the review queue ----------------------------------------------------------------------------


def test_review_queue_order(calls: Engine) -> None:
    with Session(calls) as session:
        tie, _ = add_call(session, call_sid="c6", started_at=DAY + timedelta(days=5))
        add_score(session, tie, confidence=0.3)
        early, _ = add_call(session, call_sid="c0", started_at=DAY - timedelta(days=1))
        add_score(session, early, intent=None, confidence=None)
        session.commit()
        # least confident first, ties oldest first; unclassified last, oldest first;
        # c4 (reviewed) and c5 (in progress) never
        assert sids(review_queue(session)) == ["c2", "c6", "c1", "c0", "c3"]
        assert sids(review_queue(session, limit=2)) == ["c2", "c6"]
        with pytest.raises(ValueError, match="'limit' must be 1 to 100"):
            review_queue(session, limit=0)


def test_a_verdict_takes_a_call_off_the_queue(calls: Engine) -> None:
    with Session(calls) as session:
        quinn = session.scalar(select(t.User.id).where(t.User.username == "quinn"))
        assert quinn is not None
        record_verdict(session, "c2", quinn, True, None, True, "fine", NOW)
        session.commit()
        assert sids(review_queue(session)) == ["c1", "c3"]


# -- verdicts ------------------------------------------------------------------------------------


def reviewer(session: Session, name: str = "quinn") -> int:
    ident = session.scalar(select(t.User.id).where(t.User.username == name))
    assert ident is not None
    return ident


def test_record_and_list_verdicts(calls: Engine) -> None:
    with Session(calls) as session:
        quinn = reviewer(session)
        review = record_verdict(
            session, "c1", quinn, False, " ready ", True, "  says offer accepted  ", NOW
        )
        assert (review.label, review.notes, review.billable) == (
            "ready",
            "says offer accepted",
            True,
        )
        agreed = record_verdict(session, "c1", quinn, True, "shopping", None, "", NOW)
        assert agreed.label is None  # agreeing keeps no label of its own
        session.commit()
    with Session(calls) as session:
        history = verdicts(session, "c1")
        assert [(v.agrees, v.label, v.reviewer) for v in history] == [
            (True, None, "quinn"),  # same time: the later one first
            (False, "ready", "quinn"),
        ]
        assert history[1].as_dict()["created_at"] == NOW.isoformat()
        assert [v.label for v in verdicts(session, "c4")] == ["shopping", None]
        assert verdicts(session, "nope") == []


def test_record_verdict_after_a_label_was_recorded(calls: Engine) -> None:
    """Agreeing after the recorder re-scored: the label given must be the classifier's."""
    with Session(calls) as session:
        record_verdict(session, "c1", reviewer(session), True, "shopping", None, "", NOW)


@pytest.mark.parametrize(
    ("call_sid", "agrees", "label", "notes", "message"),
    [
        ("nope", True, None, "", "no call 'nope'"),
        ("c1", False, None, "", "disagreeing needs the corrected label"),
        ("c1", False, "  ", "", "disagreeing needs the corrected label"),
        ("c1", False, "hot", "", "label 'hot' is not one of ready, shopping"),
        ("c1", False, "shopping", "", "'shopping' is the classifier's own label: agree instead"),
        ("c1", True, "ready", "", "agreeing with 'shopping' but the label given is 'ready'"),
        ("c3", True, None, "", "call 'c3' has no intent label to agree with"),
        ("c1", True, None, "x" * (MAX_NOTES + 1), "notes are 2001 characters; at most 2000"),
    ],
)
def test_verdict_validation(
    calls: Engine, call_sid: str, agrees: bool, label: str | None, notes: str, message: str
) -> None:
    with Session(calls) as session:
        with pytest.raises(VerdictError, match="^" + re.escape(message)):
            record_verdict(session, call_sid, reviewer(session), agrees, label, None, notes, NOW)
        assert session.scalar(select(t.Review.id).where(t.Review.notes != "")) is None


def test_verdict_reviewers(calls: Engine) -> None:
    with Session(calls) as session:
        officer = reviewer(session, "ana-user")
        with pytest.raises(VerdictError, match=r"user 'ana-user' \(officer\) cannot review"):
            record_verdict(session, "c1", officer, True, None, None, "", NOW)
        with pytest.raises(VerdictError, match="no active user 999999"):
            record_verdict(session, "c1", 999_999, True, None, None, "", NOW)
        with pytest.raises(VerdictError, match="aware"):
            record_verdict(
                session, "c1", reviewer(session), True, None, None, "", NOW.replace(tzinfo=None)
            )
        # disagreeing with an unclassified call is how it gets a label
        record_verdict(session, "c3", reviewer(session), False, "servicing", False, "", NOW)


# -- the officer portal --------------------------------------------------------------------------


def test_officer_transfers(calls: Engine) -> None:
    with Session(calls) as session:
        page = officer_transfers(session, "ana", CallFilters())
        assert (page.total, page.pages) == (2, 1)
        c4, c1 = page.transfers
        assert (c4.call.call_sid, c1.call.call_sid) == ("c4", "c1")
        assert c1.answers == {"loan_type": "refinance", "state": "TX"}
        assert (c1.bridged_s, c1.call.duration_s, c1.call.score) == (240.0, 300, 80)
        assert c1.dispute is not None and (c1.dispute.status, c1.dispute.reason) == (
            "rejected",
            "not a lead",
        )
        assert c4.dispute is not None and c4.dispute.status == "open"
        assert c4.answers == {}
        data = page.as_dict()["transfers"][1]
        assert data["dispute"]["resolved_by"] == "tester"
        assert data["answers"] == {"loan_type": "refinance", "state": "TX"}
        # filters narrow it; another officer's filter never widens it
        assert [
            x.call.call_sid
            for x in officer_transfers(session, "ana", CallFilters(publisher="pub-a")).transfers
        ] == ["c1"]
        assert officer_transfers(session, "ana", CallFilters(officer="ben")).total == 0
        ben = officer_transfers(session, "ben", CallFilters())
        assert [(x.call.call_sid, x.dispute) for x in ben.transfers] == [("c2", None)]
