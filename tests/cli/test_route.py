"""``warmline route --explain`` as a user runs it, against the shipped ``warmline.yaml``."""

from __future__ import annotations

import json

import pytest

from tests.support.services import warmline

pytestmark = pytest.mark.e2e

TEXAS_REFI = ("--loan-type", "refinance", "--state", "TX", "--credit-band", "good", "--score", "80")


def test_explain_prints_every_officer_and_the_waterfall_pick() -> None:
    result = warmline(
        "route", "--explain", "--number", "+18005550100", *TEXAS_REFI,
        "--at", "2026-11-23T14:00:00-06:00",
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "pool loan_officers (strategy waterfall) at 2026-11-23T14:00:00-06:00",
        "call: loan type refinance, state TX, credit band good, score 80",
        "usage: not read (no Redis in this command yet)",
        "",
        "officer     name        eligible  reasons",
        "ana-ruiz    Ana Ruiz    yes",
        "ben-okafor  Ben Okafor  no        no licence for TX",
        "carla-diaz  Carla Diaz  no        licence TX expired 2026-10-01",
        "dan-wu      Dan Wu      yes",
        "",
        "pick: ana-ruiz (waterfall: highest priority eligible, priority 1)",
    ]


def test_explain_as_json_after_hours() -> None:
    result = warmline(
        "route", "--explain", "--campaign", "sunbelt-refi", *TEXAS_REFI,
        "--at", "2026-11-24T01:05:00Z", "--json",
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    data = json.loads(result.stdout)
    assert [(o["id"], o["eligible"], o["reasons"]) for o in data["officers"]] == [
        ("ana-ruiz", False, ["closed: 19:05 America/Chicago"]),
        ("ben-okafor", False, ["no licence for TX", "closed: 20:05 America/New_York"]),
        (
            "carla-diaz",
            False,
            ["licence TX expired 2026-10-01", "closed: 18:05 America/Phoenix"],
        ),
        ("dan-wu", False, ["closed: 17:05 America/Los_Angeles"]),
    ]
    assert (data["pool"], data["at"], data["pick"], data["candidates"]) == (
        "loan_officers",
        "2026-11-24T01:05:00+00:00",
        None,
        [],
    )
    assert data["pick_note"] == "none (no officer is eligible: the call goes to +15125550101)"
    assert data["usage"] == "not read (no Redis in this command yet)"


def test_minimums_and_holidays_reach_the_explanation() -> None:
    """Thanksgiving (26 November) is Ana's holiday; Dan wants at least a good credit band."""
    result = warmline(
        "route", "--explain", "--pool", "loan_officers", "--loan-type", "purchase",
        "--state", "tx", "--credit-band", "fair", "--at", "2026-11-26T10:00:00-06:00", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    reasons = {o["id"]: o["reasons"] for o in data["officers"]}
    assert reasons["ana-ruiz"] == ["holiday 2026-11-26", "score unknown (minimum 60)"]
    assert reasons["dan-wu"] == ["credit band fair below minimum good"]
    assert data["call"] == {
        "loan_type": "purchase",
        "state": "TX",
        "credit_band": "fair",
        "score": None,
    }


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("--pool", "loan_offcers"),
            1,
            "warmline: unknown pool 'loan_offcers' (did you mean 'loan_officers'?)\n",
        ),
        (
            ("--number", "+18005550199"),
            1,
            "warmline: unknown tracking number '+18005550199' (known: +18005550100, "
            "+18005550101)\n",
        ),
        (
            ("--at", "2026-11-23T14:00:00"),
            1,
            "warmline: --at '2026-11-23T14:00:00' needs a UTC offset, e.g. -06:00 or Z\n",
        ),
        (
            ("--at", "monday"),
            1,
            "warmline: --at 'monday' is not an ISO 8601 time, e.g. 2026-11-23T14:00:00-06:00\n",
        ),
    ],
)
def test_explain_refuses_what_it_cannot_read(
    args: tuple[str, ...], code: int, message: str
) -> None:
    result = warmline("route", "--explain", *args)
    assert (result.returncode, result.stdout, result.stderr) == (code, "", message)


def test_answers_are_the_parsers_values_with_a_did_you_mean() -> None:
    result = warmline("route", "--explain", "--state", "Texas")
    assert result.returncode == 2
    assert (
        "Invalid value for '--state': 'Texas' is not a value of the us_state answer "
        "(did you mean 'TX'?)" in result.stderr
    )


def test_route_without_explain_says_what_exists() -> None:
    result = warmline("route")
    assert result.returncode == 1
    assert result.stderr == (
        "warmline: only 'route --explain' exists yet: routing itself is not on the call path\n"
    )
