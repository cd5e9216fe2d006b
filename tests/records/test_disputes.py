"""Disputes and corrections on SQLite and PostgreSQL: what each refuses, and the money after."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.records.disputes import DisputeError, correct, dispute, resolve
from ivr.records.reports import pnl
from tests.support.records import add_call

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 20, 15, tzinfo=UTC)
NOW = AT + timedelta(days=2)
LATER = NOW + timedelta(hours=3)


@pytest.fixture
def session(records: Engine) -> Iterator[Session]:
    with Session(records) as session:
        yield session


def billable_line(session: Session) -> t.BillingLine:
    _, line = add_call(
        session, started_at=AT, officer="ana", billable=True, revenue="45.00", payout="35.00"
    )
    return line


def money(session: Session) -> tuple[Decimal, Decimal]:
    totals = pnl(session, "officer", AT, AT + timedelta(days=1)).totals
    return totals.revenue, totals.payout


def test_an_accepted_dispute_credits_revenue_and_payout(session: Session) -> None:
    line = billable_line(session)
    opened = dispute(session, line.id, "  wrong number  ", "ana", NOW)
    assert (opened.kind, opened.status, opened.reason, opened.raised_at) == (
        "dispute",
        "open",
        "wrong number",
        NOW,
    )
    assert money(session) == (Decimal("45.00"), Decimal("35.00"))  # open: nothing changes
    accepted = resolve(session, opened.id, True, "ops", "caller confirmed", LATER)
    assert (accepted.status, accepted.resolved_by, accepted.resolution) == (
        "accepted",
        "ops",
        "caller confirmed",
    )
    assert (accepted.revenue_delta_cents, accepted.payout_delta_cents) == (-4500, -3500)
    assert money(session) == (Decimal("0.00"), Decimal("0.00"))
    assert (line.revenue_cents, line.payout_cents) == (4500, 3500)  # the line never changes


def test_keep_payout_credits_only_the_revenue(session: Session) -> None:
    line = billable_line(session)
    opened = dispute(session, line.id, "wrong number", "ana", NOW)
    resolve(session, opened.id, True, "ops", None, LATER, keep_payout=True)
    assert money(session) == (Decimal("0.00"), Decimal("35.00"))


def test_a_rejected_dispute_changes_nothing_and_another_may_follow(session: Session) -> None:
    line = billable_line(session)
    first = dispute(session, line.id, "wrong number", "ana", NOW)
    rejected = resolve(session, first.id, False, "ops", "recording shows a real lead", LATER)
    assert (rejected.status, rejected.revenue_delta_cents, rejected.payout_delta_cents) == (
        "rejected",
        0,
        0,
    )
    assert money(session) == (Decimal("45.00"), Decimal("35.00"))
    second = dispute(session, line.id, "duplicate of yesterday's call", "ana", LATER)
    assert second.status == "open"


def test_accepting_credits_the_net_after_a_correction(session: Session) -> None:
    line = billable_line(session)
    correct(session, line.id, Decimal("-5.00"), Decimal("0"), "promo price", "ops", NOW)
    opened = dispute(session, line.id, "wrong number", "ana", NOW)
    accepted = resolve(session, opened.id, True, "ops", None, LATER)
    assert accepted.revenue_delta_cents == -4000
    assert money(session) == (Decimal("0.00"), Decimal("0.00"))


def test_dispute_refusals(session: Session) -> None:
    line = billable_line(session)
    _, unbilled = add_call(session, started_at=AT, officer="ben", rule="short", reason="30 s")
    with pytest.raises(DisputeError, match="no billing line 999999"):
        dispute(session, 999999, "wrong number", "ana", NOW)
    with pytest.raises(DisputeError, match=r"did not bill \(short: 30 s\)"):
        dispute(session, unbilled.id, "wrong number", "ben", NOW)
    with pytest.raises(DisputeError, match="a reason is required"):
        dispute(session, line.id, "   ", "ana", NOW)
    with pytest.raises(DisputeError, match="who raises it is required"):
        dispute(session, line.id, "wrong number", "", NOW)
    opened = dispute(session, line.id, "wrong number", "ana", NOW)
    with pytest.raises(
        DisputeError, match=f"already has an open dispute \\(adjustment {opened.id}"
    ):
        dispute(session, line.id, "again", "ana", NOW)
    resolve(session, opened.id, True, "ops", None, LATER)
    with pytest.raises(DisputeError, match=f"already credited by dispute {opened.id}"):
        dispute(session, line.id, "again", "ana", LATER)
    assert session.scalar(select(func.count()).select_from(t.Adjustment)) == 1


def test_resolve_refusals(session: Session) -> None:
    line = billable_line(session)
    opened = dispute(session, line.id, "wrong number", "ana", NOW)
    with pytest.raises(DisputeError, match="no adjustment 999999"):
        resolve(session, 999999, True, "ops", None, LATER)
    with pytest.raises(DisputeError, match="who resolves it is required"):
        resolve(session, opened.id, True, " ", None, LATER)
    with pytest.raises(DisputeError, match="--keep-payout only applies to accepting"):
        resolve(session, opened.id, False, "ops", None, LATER, keep_payout=True)
    resolve(session, opened.id, False, "ops", None, LATER)
    with pytest.raises(DisputeError, match=f"dispute {opened.id} is already rejected \\(by ops at"):
        resolve(session, opened.id, True, "ops", None, LATER)
    fix = correct(session, line.id, Decimal("1.00"), Decimal("0"), "rounding", "ops", NOW)
    with pytest.raises(DisputeError, match="is a correction, not a dispute"):
        resolve(session, fix.id, True, "ops", None, LATER)


def test_a_correction_is_accepted_at_once(session: Session) -> None:
    line = billable_line(session)
    fix = correct(session, line.id, Decimal("5.00"), Decimal("-2.50"), "bid was 50", "ops", NOW)
    assert (fix.kind, fix.status, fix.raised_by, fix.resolved_by, fix.resolved_at) == (
        "correction",
        "accepted",
        "ops",
        "ops",
        NOW,
    )
    assert (fix.revenue_delta_cents, fix.payout_delta_cents) == (500, -250)
    assert money(session) == (Decimal("50.00"), Decimal("32.50"))


def test_correction_refusals(session: Session) -> None:
    line = billable_line(session)
    with pytest.raises(DisputeError, match="changes the revenue, the payout or both"):
        correct(session, line.id, Decimal("0"), Decimal("0.00"), "nothing", "ops", NOW)
    with pytest.raises(DisputeError, match="must be dollars and cents"):
        correct(session, line.id, Decimal("0.001"), Decimal("0"), "tiny", "ops", NOW)
    with pytest.raises(DisputeError, match=r"revenue would be -5.00 \(it is 45.00\)"):
        correct(session, line.id, Decimal("-50"), Decimal("0"), "too much", "ops", NOW)
    with pytest.raises(DisputeError, match="a reason is required"):
        correct(session, line.id, Decimal("1"), Decimal("0"), "", "ops", NOW)
    with pytest.raises(DisputeError, match="no billing line 999999"):
        correct(session, 999999, Decimal("1"), Decimal("0"), "why", "ops", NOW)
