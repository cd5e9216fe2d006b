"""Each billing rule at its edges: the minimum duration, the duplicate windows, the filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ivr.records.billing import (
    CallFacts,
    DuplicateWindows,
    PriorCall,
    decide,
    describe_age,
)
from ivr.routing.eligibility import CallAttributes
from ivr.routing.officers import Officer

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PAYOUT = Decimal("35.00")
NO_WINDOWS = DuplicateWindows(campaign_h=0, across_campaigns=False)


def officer(**changes: object) -> Officer:
    fields: dict[str, object] = {
        "id": "ana-ruiz",
        "name": "Ana Ruiz",
        "phone": "+15125550111",
        "nmls_id": "1000001",
        "licences": {"TX": "2027-12-31", "FL": "2026-11-19"},
        "loan_types": ["refinance", "purchase"],
        "time_zone": "America/Chicago",
        "hours": {"mon-fri": "09:00-17:00"},
        "price": "45.00",
        "min_billable_s": 90,
        "min_credit_band": "fair",
    }
    fields.update(changes)
    return Officer.model_validate(fields)


def facts(**changes: object) -> CallFacts:
    values: dict[str, object] = {
        "call_sid": "CA-this",
        "campaign": "sunbelt-refi",
        "started_at": START,
        "bridged_officer": "ana-ruiz",
        "bridged_s": 240.0,
        "bid": None,
        "attributes": CallAttributes("refinance", "TX", "good", 70),
    }
    values.update(changes)
    return CallFacts(**values)  # type: ignore[arg-type]


def prior(age: timedelta, *, campaign: str = "sunbelt-refi", to: str | None = None) -> PriorCall:
    return PriorCall("CA-first", START - age, campaign, to or "ben-okafor")


def test_a_bridged_qualifying_call_bills_the_price_and_pays_the_payout() -> None:
    verdict = decide(facts(), officer(), PAYOUT, NO_WINDOWS, [])
    assert verdict.billable and verdict.rule == "billable"
    assert verdict.reason == "bridged 240 s ≥ 90 s to ana-ruiz"
    assert (verdict.revenue, verdict.payout, verdict.margin) == (
        Decimal("45.00"),
        Decimal("35.00"),
        Decimal("10.00"),
    )


def test_exactly_the_minimum_duration_bills_and_one_second_less_does_not() -> None:
    assert decide(facts(bridged_s=90.0), officer(), PAYOUT, NO_WINDOWS, []).billable
    short = decide(facts(bridged_s=89.9), officer(), PAYOUT, NO_WINDOWS, [])
    assert (short.billable, short.rule) == (False, "short")
    assert short.reason == "bridged 89 s < 90 s minimum"
    assert (short.revenue, short.payout) == (Decimal(0), Decimal(0))


def test_not_connected_says_who_was_tried() -> None:
    verdict = decide(
        facts(bridged_officer=None, bridged_s=0.0, attempts=["ana-ruiz declined", "bo no_answer"]),
        officer(),
        PAYOUT,
        NO_WINDOWS,
        [],
    )
    assert verdict.rule == "not_connected"
    assert verdict.reason == "not connected (2 tried: ana-ruiz declined, bo no_answer)"
    nobody = decide(facts(bridged_officer=None), officer(), PAYOUT, NO_WINDOWS, [])
    assert nobody.reason == "not connected (no officer tried)"


def test_the_overflow_line_is_not_a_buyer() -> None:
    verdict = decide(facts(bridged_officer="overflow"), None, PAYOUT, NO_WINDOWS, [])
    assert (verdict.billable, verdict.rule) == (False, "no_buyer")
    assert verdict.reason == "bridged to overflow, not a buyer"


def test_campaign_window_boundary() -> None:
    windows = DuplicateWindows(campaign_h=72, across_campaigns=False)
    inside = decide(facts(), officer(), PAYOUT, windows, [prior(timedelta(hours=72, seconds=-1))])
    assert (inside.billable, inside.rule) == (False, "duplicate")
    assert inside.reason == "duplicate of call CA-first 2 days ago"
    at_edge = decide(facts(), officer(), PAYOUT, windows, [prior(timedelta(hours=72))])
    assert at_edge.billable


def test_campaign_window_counts_other_campaigns_only_when_across() -> None:
    other = [prior(timedelta(hours=5), campaign="national")]
    own = DuplicateWindows(campaign_h=72, across_campaigns=False)
    assert decide(facts(), officer(), PAYOUT, own, other).billable
    across = DuplicateWindows(campaign_h=72, across_campaigns=True)
    verdict = decide(facts(), officer(), PAYOUT, across, other)
    assert verdict.reason == "duplicate of call CA-first 5 h ago"


def test_officer_window_only_counts_that_officers_calls() -> None:
    mine = officer(duplicate_window_h=720)
    to_me = [prior(timedelta(days=29), campaign="national", to="ana-ruiz")]
    to_ben = [prior(timedelta(days=29), campaign="national", to="ben-okafor")]
    assert decide(facts(), mine, PAYOUT, NO_WINDOWS, to_me).rule == "duplicate"
    assert decide(facts(), mine, PAYOUT, NO_WINDOWS, to_ben).billable
    expired = [prior(timedelta(days=30), campaign="national", to="ana-ruiz")]
    assert decide(facts(), mine, PAYOUT, NO_WINDOWS, expired).billable


def test_a_later_call_is_never_the_original() -> None:
    windows = DuplicateWindows(campaign_h=72, across_campaigns=False)
    later = [prior(timedelta(hours=-1))]
    assert decide(facts(), officer(), PAYOUT, windows, later).billable


def test_filters_are_those_of_the_call_as_answered() -> None:
    expired = decide(
        facts(attributes=CallAttributes("refinance", "FL", "good", 70)),
        officer(),
        PAYOUT,
        NO_WINDOWS,
        [],
    )
    assert expired.rule == "filters"
    assert expired.reason == "filters not met: licence FL expired 2026-11-19"
    loan_and_credit = decide(
        facts(attributes=CallAttributes("heloc", "TX", "poor", 70)),
        officer(),
        PAYOUT,
        NO_WINDOWS,
        [],
    )
    assert loan_and_credit.reason == (
        "filters not met: does not take heloc; credit band poor below minimum fair"
    )


def test_minimum_billable_score_when_set() -> None:
    picky = officer(min_billable_score=70)
    assert decide(facts(), picky, PAYOUT, NO_WINDOWS, []).billable  # exactly 70
    low = decide(
        facts(attributes=CallAttributes("refinance", "TX", "good", 69)),
        picky,
        PAYOUT,
        NO_WINDOWS,
        [],
    )
    assert (low.rule, low.reason) == ("score", "score 69 < 70 minimum")
    unscored = facts(attributes=CallAttributes("refinance", "TX", "good", None))
    assert decide(unscored, picky, PAYOUT, NO_WINDOWS, []).reason == "score unknown < 70 minimum"
    assert decide(unscored, officer(), PAYOUT, NO_WINDOWS, []).billable


def test_a_winning_bid_is_the_revenue() -> None:
    verdict = decide(facts(bid=Decimal("52.50")), officer(), PAYOUT, NO_WINDOWS, [])
    assert (verdict.revenue, verdict.margin) == (Decimal("52.50"), Decimal("17.50"))


def test_the_first_failing_rule_decides() -> None:
    windows = DuplicateWindows(campaign_h=72, across_campaigns=False)
    verdict = decide(facts(bridged_s=10.0), officer(), PAYOUT, windows, [prior(timedelta(hours=1))])
    assert verdict.rule == "short"


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(days=2), "2 days"),
        (timedelta(days=1, hours=23), "47 h"),
        (timedelta(hours=1), "1 h"),
        (timedelta(minutes=59), "59 min"),
        (timedelta(seconds=20), "0 min"),
    ],
)
def test_ages_read_naturally(age: timedelta, text: str) -> None:
    assert describe_age(age) == text
