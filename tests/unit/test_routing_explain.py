"""The per-pool explanation: every officer with its verdict, and the pick where the strategy
decides it from the inputs alone (waterfall); the others name their candidates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from ivr.routing.eligibility import CallAttributes, Usage
from ivr.routing.explain import Explanation, explain, explanation_json, explanation_text
from ivr.routing.officers import Officer, Strategy

pytestmark = pytest.mark.unit

AT = datetime.fromisoformat("2026-11-23T14:00:00-06:00")
CALL = CallAttributes(loan_type="refinance", state="TX", credit_band="good", score=80)
FALLBACK = "+15125550101"


def officer(officer_id: str, **fields: Any) -> Officer:
    data: dict[str, Any] = {
        "id": officer_id,
        "name": officer_id.title(),
        "phone": "+15125550111",
        "nmls_id": "1000001",
        "licences": {"TX": "2027-12-31"},
        "loan_types": ["refinance"],
        "time_zone": "America/Chicago",
        "hours": {"mon-fri": "09:00-18:00"},
        "price": "45.00",
    }
    return Officer.model_validate({**data, **fields})


OFFICERS = [
    officer("ana", priority=2, weight=3),
    officer("ben", priority=1, caps={"daily": 40}),
    officer("carla", priority=1, weight=1),
    officer("dan", priority=1, licences={"TX": "2026-10-01"}),
]


def run(strategy: Strategy, usage: dict[str, Usage] | None = None) -> Explanation:
    return explain("officers", strategy, FALLBACK, OFFICERS, CALL, AT, usage or {})


def test_waterfall_picks_the_highest_priority_eligible_officer() -> None:
    result = run("waterfall")
    assert [(r.officer.id, r.verdict.eligible) for r in result.rows] == [
        ("ana", True),
        ("ben", True),
        ("carla", True),
        ("dan", False),
    ]
    assert result.pick == "ben"  # priority 1, and before carla in the pool
    assert result.pick_note == "ben (waterfall: highest priority eligible, priority 1)"


def test_waterfall_skips_an_officer_at_a_cap() -> None:
    result = run("waterfall", {"ben": Usage(daily=40)})
    assert result.rows[1].verdict.reasons == ["daily cap 40/40"]
    assert (result.pick, result.candidates) == ("carla", ["ana", "carla"])


@pytest.mark.parametrize(
    ("strategy", "note"),
    [
        (
            "round_robin",
            "made at call time (round_robin: the next in the rotation) among ana, ben, carla",
        ),
        (
            "weighted",
            "made at call time (weighted: drawn by weight) among ana (weight 3), "
            "ben (weight 1), carla (weight 1)",
        ),
        (
            "ping_post",
            "made at call time (ping_post: the best bid from a ping to each) among ana, ben, carla",
        ),
    ],
)
def test_other_strategies_name_their_candidates(strategy: Strategy, note: str) -> None:
    result = run(strategy)
    assert (result.pick, result.pick_note) == (None, note)
    assert result.candidates == ["ana", "ben", "carla"]


@pytest.mark.parametrize("strategy", ["round_robin", "weighted", "waterfall", "ping_post"])
@pytest.mark.parametrize(
    ("overflow", "then"),
    [
        (FALLBACK, "the pool's overflow line +15125550101"),
        (None, "the flow's fallback"),
    ],
)
def test_no_one_eligible_goes_to_the_overflow_or_the_fallback(
    strategy: Strategy, overflow: str | None, then: str
) -> None:
    late = datetime.fromisoformat("2026-11-23T19:05:00-06:00")
    result = explain("officers", strategy, overflow, OFFICERS, CALL, late, {})
    assert result.pick is None
    assert result.pick_note == f"none (no officer is eligible: the call goes to {then})"
    assert result.rows[0].verdict.reasons == ["closed: 19:05 America/Chicago"]


def test_the_text_is_a_table_then_the_pick() -> None:
    assert explanation_text(run("waterfall")).splitlines() == [
        "pool officers (strategy waterfall) at 2026-11-23T14:00:00-06:00",
        "call: loan type refinance, state TX, credit band good, score 80",
        "usage: not read (no Redis reachable: counts taken as zero)",
        "",
        "officer  name   eligible  reasons",
        "ana      Ana    yes",
        "ben      Ben    yes",
        "carla    Carla  yes",
        "dan      Dan    no        licence TX expired 2026-10-01",
        "",
        "pick: ben (waterfall: highest priority eligible, priority 1)",
    ]


def test_the_json_has_every_officer_and_the_pick() -> None:
    data = explanation_json(run("waterfall"))
    assert data["officers"][3] == {
        "id": "dan",
        "name": "Dan",
        "eligible": False,
        "reasons": ["licence TX expired 2026-10-01"],
    }
    assert {k: v for k, v in data.items() if k != "officers"} == {
        "pool": "officers",
        "strategy": "waterfall",
        "at": "2026-11-23T14:00:00-06:00",
        "call": {"loan_type": "refinance", "state": "TX", "credit_band": "good", "score": 80},
        "usage": "not read (no Redis reachable: counts taken as zero)",
        "candidates": ["ana", "ben", "carla"],
        "pick": "ben",
        "pick_note": "ben (waterfall: highest priority eligible, priority 1)",
        "overflow": "+15125550101",
    }


def test_a_pool_without_officers_says_so() -> None:
    result = explain("officers", "waterfall", FALLBACK, [], CALL, AT, {})
    text = explanation_text(result).splitlines()
    assert text[-3:] == [
        "(the pool has no officers)",
        "",
        "pick: none (no officer is eligible: the call goes to the pool's overflow line "
        "+15125550101)",
    ]
