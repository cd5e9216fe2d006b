"""``warmline route --explain`` as a user runs it, against the shipped ``warmline.yaml``.

Usage comes from the test Redis (the servers' counters); where no Redis answers, counts are
taken as zero and the output says so.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from redis.asyncio import Redis

from ivr.deployment import load_setup
from ivr.routing.usage import UsageBook
from tests.support.services import ROOT, warmline

pytestmark = pytest.mark.e2e

TEXAS_REFI = ("--loan-type", "refinance", "--state", "TX", "--credit-band", "good", "--score", "80")


NO_REDIS = {"WARMLINE_REDIS_URL": "redis://127.0.0.1:1/0"}
MONDAY_2PM = "2026-11-23T14:00:00-06:00"


def test_explain_prints_every_officer_and_the_waterfall_pick() -> None:
    result = warmline(
        "route", "--explain", "--number", "+18005550100", *TEXAS_REFI, "--at", MONDAY_2PM,
        env=NO_REDIS,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "pool loan_officers (strategy waterfall) at 2026-11-23T14:00:00-06:00",
        "call: loan type refinance, state TX, credit band good, score 80",
        "usage: not read (no Redis reachable: counts taken as zero)",
        "",
        "officer     name            eligible  reasons",
        "ana-ruiz    Ana Ruiz        yes",
        "ben-okafor  Ben Okafor      no        no licence for TX",
        "carla-diaz  Carla Diaz      no        licence TX expired 2026-10-01",
        "dan-wu      Dan Wu          yes",
        "night-desk  Overnight desk  yes",
        "",
        "pick: ana-ruiz (waterfall: highest priority eligible, priority 1)",
    ]


async def test_explain_reads_the_live_caps_from_redis(redis_url: str, redis: Redis) -> None:
    """Ana's one concurrent slot is taken (a call rings her now): the pick moves on."""
    setup = load_setup(ROOT / "warmline.yaml")
    ana = setup.pool_officers(setup.pool("loan_officers"))[0]
    at = datetime.fromisoformat(MONDAY_2PM).timestamp()
    book = UsageBook(redis, prefix="warmline:routing:")
    claimed = await book.claim("explain-test", "loan_officers", "waterfall", [ana], at, 600)
    assert claimed.officer == "ana-ruiz"
    try:
        result = warmline(
            "route", "--explain", "--number", "+18005550100", *TEXAS_REFI, "--at", MONDAY_2PM,
            "--json", env={"WARMLINE_REDIS_URL": redis_url},
        )  # fmt: skip
    finally:
        await book.settle("explain-test", connected=False)
    data = json.loads(result.stdout)
    assert data["usage"].startswith("live counts from redis://127.0.0.1")
    assert data["officers"][0]["reasons"] == ["concurrent cap 1/1"]
    assert data["pick"] == "dan-wu"


def test_explain_as_json_after_hours() -> None:
    result = warmline(
        "route", "--explain", "--campaign", "sunbelt-refi", *TEXAS_REFI,
        "--at", "2026-11-24T01:05:00Z", "--json", env=NO_REDIS,
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
        ("night-desk", True, []),
    ]
    assert (data["pool"], data["at"], data["pick"], data["candidates"]) == (
        "loan_officers",
        "2026-11-24T01:05:00+00:00",
        "night-desk",
        ["night-desk"],
    )
    assert data["usage"] == "not read (no Redis reachable: counts taken as zero)"


def test_nobody_eligible_names_the_flows_fallback() -> None:
    result = warmline(
        "route", "--explain", "--number", "+18005550101", "--loan-type", "refinance",
        "--state", "WY", "--at", MONDAY_2PM, "--json", env=NO_REDIS,
    )  # fmt: skip
    data = json.loads(result.stdout)
    assert data["pick"] is None
    assert (
        data["pick_note"] == "none (no officer is eligible: the call goes to the flow's fallback)"
    )


def test_minimums_and_holidays_reach_the_explanation() -> None:
    """Thanksgiving (26 November) is Ana's holiday; Dan wants at least a good credit band."""
    result = warmline(
        "route", "--explain", "--pool", "loan_officers", "--loan-type", "purchase",
        "--state", "tx", "--credit-band", "fair", "--at", "2026-11-26T10:00:00-06:00", "--json",
        env=NO_REDIS,
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
    result = warmline("route", "--explain", *args, env=NO_REDIS)
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
        "warmline: say --explain: routing itself happens on calls (see docs/routing.md)\n"
    )
