"""Who may take a call: licences (expiry in the officer's zone), loan types, hours across DST,
holidays, each cap, the minimums, and every failing check at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from ivr.routing.eligibility import CallAttributes, Eligibility, Usage, eligibility
from ivr.routing.officers import Officer

pytestmark = pytest.mark.unit

CALL = CallAttributes(loan_type="refinance", state="TX", credit_band="good", score=80)
MONDAY_2PM = "2026-11-23T14:00:00-06:00"


def officer(**fields: Any) -> Officer:
    data: dict[str, Any] = {
        "id": "ana",
        "name": "Ana Ruiz",
        "phone": "+15125550111",
        "nmls_id": "1000001",
        "licences": {"TX": "2027-12-31", "FL": "2026-10-01"},
        "loan_types": ["refinance", "purchase"],
        "time_zone": "America/Chicago",
        "hours": {"mon-fri": "09:00-18:00"},
        "price": "45.00",
    }
    return Officer.model_validate({**data, **fields})


def check(
    who: Officer, at: str, call: CallAttributes = CALL, usage: Usage | None = None
) -> Eligibility:
    return eligibility(who, call, datetime.fromisoformat(at), usage or Usage())


def test_an_officer_meeting_every_condition_is_eligible_with_no_reasons() -> None:
    assert check(officer(), MONDAY_2PM) == Eligibility(True, [])


# --- licences ------------------------------------------------------------------------------

ALWAYS_OPEN = {"mon-sun": "00:00-24:00"}
FLORIDA = CallAttributes(loan_type="refinance", state="FL", credit_band="good", score=80)


@pytest.mark.parametrize(
    ("at", "reasons"),
    [
        ("2026-09-30T12:00:00-05:00", []),
        ("2026-10-01T12:00:00-05:00", []),  # current through its expiry date
        ("2026-10-02T04:59:00+00:00", []),  # already 2 October in UTC, still 1 October in Chicago
        ("2026-10-02T05:00:00+00:00", ["licence FL expired 2026-10-01"]),  # midnight in Chicago
        ("2026-10-02T00:00:00-05:00", ["licence FL expired 2026-10-01"]),
        ("2027-10-01T12:00:00-05:00", ["licence FL expired 2026-10-01"]),
    ],
)
def test_a_licence_is_current_through_its_expiry_day_in_the_officers_zone(
    at: str, reasons: list[str]
) -> None:
    assert check(officer(hours=ALWAYS_OPEN), at, FLORIDA).reasons == reasons


def test_the_expiry_day_follows_the_officers_zone_not_the_callers() -> None:
    """At 04:30 UTC on 2 October it is 00:30 on the 2nd in New York, 21:30 on the 1st in LA."""
    at = "2026-10-02T04:30:00+00:00"
    west = officer(hours=ALWAYS_OPEN, time_zone="America/Los_Angeles")
    east = officer(hours=ALWAYS_OPEN, time_zone="America/New_York")
    assert check(west, at, FLORIDA).eligible
    assert check(east, at, FLORIDA).reasons == ["licence FL expired 2026-10-01"]


def test_an_expired_licence_is_never_eligible_however_good_the_call() -> None:
    best = CallAttributes(loan_type="refinance", state="FL", credit_band="excellent", score=100)
    assert check(officer(), MONDAY_2PM, best) == Eligibility(
        False, ["licence FL expired 2026-10-01"]
    )


@pytest.mark.parametrize(
    ("state", "reason"), [("NY", "no licence for NY"), (None, "caller's state unknown")]
)
def test_no_licence_for_the_callers_state(state: str | None, reason: str) -> None:
    call = CallAttributes(loan_type="refinance", state=state, credit_band="good", score=80)
    assert check(officer(), MONDAY_2PM, call).reasons == [reason]


# --- loan types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loan_type", "reasons"),
    [("purchase", []), ("heloc", ["does not take heloc"]), (None, ["loan type unknown"])],
)
def test_loan_type(loan_type: str | None, reasons: list[str]) -> None:
    call = CallAttributes(loan_type=loan_type, state="TX", credit_band="good", score=80)
    assert check(officer(), MONDAY_2PM, call).reasons == reasons


# --- hours, time zones and DST -------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "reasons"),
    [
        ("2026-11-23T08:59:00-06:00", ["closed: 08:59 America/Chicago"]),
        ("2026-11-23T09:00:00-06:00", []),
        ("2026-11-23T17:59:00-06:00", []),
        ("2026-11-23T18:00:00-06:00", ["closed: 18:00 America/Chicago"]),
        ("2026-11-23T19:05:00-06:00", ["closed: 19:05 America/Chicago"]),
        ("2026-11-24T01:05:00+00:00", ["closed: 19:05 America/Chicago"]),  # the same instant
        ("2026-11-23T14:00:00-05:00", []),  # 13:00 in Chicago
        ("2026-11-28T12:00:00-06:00", ["closed: 12:00 America/Chicago"]),  # a Saturday
    ],
)
def test_hours_are_read_in_the_officers_zone(at: str, reasons: list[str]) -> None:
    assert check(officer(), at).reasons == reasons


EVERY_DAY = {"mon-sun": "09:00-17:00"}


@pytest.mark.parametrize(
    ("at", "reasons"),
    [
        # Spring forward, Sunday 8 March 2026: CST (UTC-6) until 02:00, then CDT (UTC-5).
        ("2026-03-07T14:30:00+00:00", ["closed: 08:30 America/Chicago"]),
        ("2026-03-08T14:30:00+00:00", []),  # the same UTC time is 09:30 after the change
        ("2026-03-08T08:30:00+00:00", ["closed: 03:30 America/Chicago"]),  # 02:30 never happens
        ("2026-03-08T21:59:00+00:00", []),  # 16:59 CDT
        ("2026-03-08T22:00:00+00:00", ["closed: 17:00 America/Chicago"]),
        # Fall back, Sunday 1 November 2026: CDT until 02:00, then CST again.
        ("2026-10-31T14:30:00+00:00", []),  # 09:30 CDT
        ("2026-11-01T14:30:00+00:00", ["closed: 08:30 America/Chicago"]),
        ("2026-11-01T15:00:00+00:00", []),  # 09:00 CST
        ("2026-11-01T22:59:00+00:00", []),
        ("2026-11-01T23:00:00+00:00", ["closed: 17:00 America/Chicago"]),
    ],
)
def test_opening_hours_stay_local_across_dst_changes(at: str, reasons: list[str]) -> None:
    assert check(officer(hours=EVERY_DAY), at).reasons == reasons


@pytest.mark.parametrize("at", ["2026-03-07T16:30:00+00:00", "2026-03-08T16:30:00+00:00"])
def test_a_zone_without_dst_keeps_its_offset(at: str) -> None:
    """Phoenix stays on UTC-7: 16:30 UTC is 09:30 on both days."""
    assert check(officer(hours=EVERY_DAY, time_zone="America/Phoenix"), at).eligible


@pytest.mark.parametrize(
    ("at", "reasons"),
    [
        ("2026-12-25T12:00:00-06:00", ["holiday 2026-12-25"]),
        ("2026-12-26T03:00:00+00:00", ["holiday 2026-12-25"]),  # 21:00 on the 25th, local
        ("2026-12-24T12:00:00-06:00", []),
        ("2026-12-28T12:00:00-06:00", []),
    ],
)
def test_holidays_are_closed_all_day(at: str, reasons: list[str]) -> None:
    assert check(officer(holidays=["2026-12-25"]), at).reasons == reasons


# --- caps ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caps", "usage", "reasons"),
    [
        ({"hourly": 4}, Usage(hourly=3), []),
        ({"hourly": 4}, Usage(hourly=4), ["hourly cap 4/4"]),
        ({"daily": 40}, Usage(daily=39), []),
        ({"daily": 40}, Usage(daily=40), ["daily cap 40/40"]),
        ({"daily": 40}, Usage(daily=41), ["daily cap 41/40"]),  # over, e.g. after a cap change
        ({"concurrent": 1}, Usage(concurrent=0), []),
        ({"concurrent": 1}, Usage(concurrent=1), ["concurrent cap 1/1"]),
        ({"daily": 0}, Usage(), ["daily cap 0/0"]),  # a cap of 0 pauses the officer
        ({}, Usage(hourly=500, daily=5000, concurrent=50), []),  # absent: no cap
        (
            {"hourly": 2, "daily": 10, "concurrent": 1},
            Usage(hourly=2, daily=10, concurrent=1),
            ["hourly cap 2/2", "daily cap 10/10", "concurrent cap 1/1"],
        ),
    ],
)
def test_caps(caps: dict[str, int], usage: Usage, reasons: list[str]) -> None:
    assert check(officer(caps=caps), MONDAY_2PM, usage=usage).reasons == reasons


# --- minimums ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("band", "reasons"),
    [
        ("excellent", []),
        ("good", []),  # the minimum itself is enough
        ("fair", ["credit band fair below minimum good"]),
        ("poor", ["credit band poor below minimum good"]),
        (None, ["credit band unknown (minimum good)"]),
    ],
)
def test_minimum_credit_band(band: str | None, reasons: list[str]) -> None:
    call = CallAttributes(loan_type="refinance", state="TX", credit_band=band, score=80)
    assert check(officer(min_credit_band="good"), MONDAY_2PM, call).reasons == reasons


@pytest.mark.parametrize(
    ("score", "reasons"),
    [
        (100, []),
        (60, []),
        (59, ["score 59 below minimum 60"]),
        (0, ["score 0 below minimum 60"]),
        (None, ["score unknown (minimum 60)"]),
    ],
)
def test_minimum_score(score: int | None, reasons: list[str]) -> None:
    call = CallAttributes(loan_type="refinance", state="TX", credit_band="good", score=score)
    assert check(officer(min_score=60), MONDAY_2PM, call).reasons == reasons


def test_without_minimums_unknown_answers_do_not_matter() -> None:
    call = CallAttributes(loan_type="refinance", state="TX", credit_band=None, score=None)
    assert check(officer(), MONDAY_2PM, call).eligible


# --- all at once ---------------------------------------------------------------------------


def test_every_failing_check_is_listed_in_order() -> None:
    strict = officer(
        caps={"daily": 40, "concurrent": 2},
        min_credit_band="good",
        min_score=70,
    )
    call = CallAttributes(loan_type="heloc", state="FL", credit_band="poor", score=55)
    verdict = check(strict, "2026-11-23T19:05:00-06:00", call, Usage(daily=40, concurrent=1))
    assert verdict == Eligibility(
        False,
        [
            "licence FL expired 2026-10-01",
            "does not take heloc",
            "closed: 19:05 America/Chicago",
            "daily cap 40/40",
            "credit band poor below minimum good",
            "score 55 below minimum 70",
        ],
    )


def test_a_time_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        eligibility(officer(), CALL, datetime(2026, 11, 23, 14), Usage())
