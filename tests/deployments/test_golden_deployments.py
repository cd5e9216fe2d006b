"""Golden corpus: each deployment in ``bad/`` reports exactly the problems its header lists.

A file's leading comments say what to expect, once per problem, in the order
:class:`~ivr.problems.InvalidConfig` sorts them (path, then line, then message):

    # expect: LINE: MESSAGE                   a problem in the deployment file itself
    # expect: FLOWS/FILE.yaml:LINE: MESSAGE   a problem in one of its flows (a path relative
                                              to the deployment's directory, as it is loaded)

Most files point ``flows:`` at the shared good flow in ``flows/`` (``intake``, which transfers to
the pool ``officers``); the broken-flow cases use ``bad/broken_flows/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ivr.deployment import load_setup
from ivr.problems import InvalidConfig
from tests.support.golden import expected_problems
from tests.support.services import ROOT

pytestmark = pytest.mark.unit

HERE = Path(__file__).parent
BAD = HERE / "bad"


def _cases() -> list[Any]:
    return [
        pytest.param(path, expected_problems(path), id=path.stem)
        for path in sorted(BAD.glob("*.yaml"))
    ]


def test_the_corpus_covers_every_kind_of_mistake() -> None:
    names = {path.stem for path in BAD.glob("*.yaml")}
    assert len(names) >= 12
    assert {
        "invalid_phone_number",
        "duplicate_tracking_number",
        "unknown_campaign",
        "unknown_publisher",
        "unknown_flow",
        "unknown_pool",
        "unknown_loan_type",
        "unknown_state",
        "money_three_decimals",
        "money_negative",
        "unknown_field_did_you_mean",
        "missing_required_section",
        "duplicate_campaign_id",
        "broken_flow",
        "officer_fields",
        "officer_hours",
        "officer_licences",
        "officer_pool_references",
    } <= names


def test_the_shared_flow_is_good() -> None:
    """Otherwise the corpus would test the flow instead of the deployments."""
    from ivr.flows import load_flows

    flows = load_flows([HERE / "flows"], known_pools=["officers"])
    assert sorted(flows) == ["intake"]


@pytest.mark.parametrize(("path", "expected"), _cases())
def test_bad_deployment_reports_every_problem(path: Path, expected: list[str]) -> None:
    assert expected, f"{path.name} has no '# expect:' line"
    with pytest.raises(InvalidConfig) as caught:
        load_setup(path)
    assert [str(problem) for problem in caught.value.problems] == expected


def test_a_broken_flow_is_reported_with_the_deployments_problems() -> None:
    """Spelled out once without the header, so the format itself is checked too."""
    with pytest.raises(InvalidConfig) as caught:
        load_setup(BAD / "broken_flow.yaml")
    located = [(Path(p.path).name, p.line) for p in caught.value.problems]
    assert located == [("broken_flow.yaml", 15), ("intake.yaml", 7), ("intake.yaml", 13)]
    assert caught.value.problems[1].path == str(BAD / "broken_flows" / "intake.yaml")


def test_the_shipped_deployment_loads_and_every_number_reaches_a_flow() -> None:
    setup = load_setup(ROOT / "warmline.yaml")
    numbers = {n.number: (n.campaign, n.publisher) for n in setup.deployment.numbers}
    assert numbers == {
        "+18005550100": ("sunbelt-refi", "rate-compare"),
        "+18005550101": ("national", "radio-spot"),
    }
    assert sorted(setup.flows) == ["mortgage"]
    for number in setup.deployment.numbers:
        tracked = setup.number(number.number)
        assert tracked == number
        campaign = setup.campaign(number.campaign)
        assert campaign.flow in setup.flows
        flow = setup.flows[campaign.flow]
        assert flow.flow == campaign.flow
    assert [str(n.payout) for n in setup.deployment.numbers] == ["35.00", "20.00"]
    assert setup.pool("loan_officers").fallback_number is None  # the flow's fallback instead
    assert setup.number("+19999999999") is None


def test_the_shipped_deployment_has_a_pool_of_officers() -> None:
    from datetime import date

    setup = load_setup(ROOT / "warmline.yaml")
    pool = setup.pool("loan_officers")
    assert (pool.strategy, pool.ping_deadline_ms) == ("waterfall", 400)
    officers = setup.pool_officers(pool)
    assert [o.id for o in officers] == [
        "ana-ruiz",
        "ben-okafor",
        "carla-diaz",
        "dan-wu",
        "night-desk",
    ]
    ana = officers[0]
    assert ana.licences == {"TX": date(2027, 12, 31), "FL": date(2027, 6, 30)}
    assert (ana.caps.hourly, ana.caps.daily, ana.caps.concurrent) == (4, 30, 1)
    assert (str(ana.price), ana.min_credit_band, ana.min_score) == ("45.00", "fair", 60)
    assert ana.week[5] == ((540, 780),)  # Saturday 09:00-13:00
    assert ana.holidays == [date(2026, 11, 26), date(2026, 12, 25)]
    assert {o.time_zone for o in officers} == {
        "America/Chicago",
        "America/New_York",
        "America/Phoenix",
        "America/Los_Angeles",
    }
    assert all(o.phone.startswith("+1") and o.phone[5:8] == "555" for o in officers)
    assert officers[3].ping_url == "https://buyer.example/ping/dan-wu"


def test_pools_default_to_no_officers_and_the_waterfall(tmp_path: Path) -> None:
    """Deployments written before officers existed load unchanged."""
    path = tmp_path / "warmline.yaml"
    path.write_text(SCORED_DEPLOYMENT.format(flows=HERE / "flows"), encoding="utf-8")
    setup = load_setup(path)
    pool = setup.pool("officers")
    assert (pool.officers, pool.strategy, setup.deployment.officers) == ([], "waterfall", [])
    assert setup.pool_officers(pool) == []


SCORED_DEPLOYMENT = """\
flows: {flows}
publishers:
  - id: rate-compare
    name: RateCompare
campaigns:
  - id: strict
    name: Buys ready callers only
    flow: intake
    loan_types: [refinance]
    states: [TX]
    scoring:
      intent_weights: {{shopping: 50}}
      credit_bands: {{poor: -60}}
      qualified_at: 75
  - id: default
    name: Default scoring
    flow: intake
    loan_types: [refinance]
    states: [TX]
pools:
  - id: officers
    fallback_number: "+15125550101"
numbers:
  - number: "+18005550100"
    campaign: strict
    publisher: rate-compare
  - number: "+18005550101"
    campaign: default
    publisher: rate-compare
"""


def test_a_campaigns_scoring_rules_reach_its_calls(tmp_path: Path) -> None:
    from scoring.qualification import DEFAULT_RULES

    path = tmp_path / "warmline.yaml"
    path.write_text(SCORED_DEPLOYMENT.format(flows=HERE / "flows"), encoding="utf-8")
    setup = load_setup(path)
    strict = setup.number("+18005550100")
    default = setup.number("+18005550101")
    assert strict is not None and default is not None
    rules = setup.call_context(strict, "+15125550123").scoring
    assert rules is not None
    assert rules.intent_weights == {**DEFAULT_RULES.intent_weights, "shopping": 50}
    assert rules.credit_bands == {**DEFAULT_RULES.credit_bands, "poor": -60}
    assert (rules.qualified_at, rules.no_words) == (75, DEFAULT_RULES.no_words)
    assert setup.call_context(default, "+15125550123").scoring is None  # the defaults
