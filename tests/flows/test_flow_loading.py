"""Good flows load; YAML stays text; hostile YAML is refused as a problem; the JSON Schema holds.

The bad flows and their exact messages are in ``test_golden_flows.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ivr.answers.us_states import US_STATES
from ivr.compliance.consent import ALL_PARTY_CONSENT_STATES
from ivr.flows import Flow, flow_json_schema, load_flow_file, load_flow_text
from ivr.flows.checks import check_flow
from ivr.flows.conditions import AllOf, AnyOf, CampaignRef, Condition, NotOf, SlotTest
from ivr.flows.schema import STEP_MODELS, AskStep, BranchStep, ConsentStep, SetStep
from ivr.problems import InvalidConfig, Problem
from ivr.yaml_source import MAX_BYTES, MAX_NODES, read_yaml

pytestmark = pytest.mark.unit

GOOD = Path(__file__).parent / "good"
REPO_FLOWS = Path(__file__).parents[2] / "flows"
POOLS = ("refi_team", "purchase_team")


def _good_files() -> list[Path]:
    return sorted(GOOD.glob("*.yaml"))


def _flow_files() -> list[Any]:
    good = [pytest.param(path, POOLS, id=f"good/{path.stem}") for path in _good_files()]
    repo = [
        pytest.param(path, None, id=f"flows/{path.stem}")
        for path in sorted([*REPO_FLOWS.glob("*.yaml"), *REPO_FLOWS.glob("*.yml")])
    ]
    return good + repo


@pytest.mark.parametrize(("path", "pools"), _flow_files())
def test_flow_loads_without_problems(path: Path, pools: tuple[str, ...] | None) -> None:
    flow = load_flow_file(path, known_pools=pools)
    assert flow.steps


def _operators(condition: Condition) -> set[str]:
    if isinstance(condition, AllOf):
        return {"all"}.union(*(_operators(c) for c in condition.all))
    if isinstance(condition, AnyOf):
        return {"any"}.union(*(_operators(c) for c in condition.any))
    if isinstance(condition, NotOf):
        return {"not"} | _operators(condition.not_)
    assert isinstance(condition, SlotTest)
    operand = condition.operand(condition.operator)
    campaign = {f"{condition.operator} campaign"} if isinstance(operand, CampaignRef) else set()
    return {condition.operator} | campaign


def test_good_flows_use_every_step_kind_and_condition_form() -> None:
    flows = [load_flow_file(path, known_pools=POOLS) for path in _good_files()]
    steps = [step for flow in flows for step in flow.steps]
    forms = set().union(
        *(
            _operators(case.when)
            for step in steps
            if isinstance(step, BranchStep)
            for case in step.cases
        )
    )
    assert {step.kind for step in steps} == set(STEP_MODELS)
    assert forms == {
        "equals",
        "not_equals",
        "in",
        "not_in",
        "in campaign",
        "not_in campaign",
        "gte",
        "gt",
        "lte",
        "lt",
        "present",
        "all",
        "any",
        "not",
    }


def test_yaml_one_one_booleans_and_octals_stay_text() -> None:
    flow = load_flow_file(GOOD / "yaml_strings.yaml")
    confirm = flow.step("confirm")
    mark = flow.step("mark")
    route = flow.step("route")
    assert isinstance(confirm, AskStep)
    assert isinstance(mark, SetStep)
    assert isinstance(route, BranchStep)
    assert confirm.keypad == {"1": "yes", "012": "no"}
    assert mark.values == {"country": "NO", "opted_in": "on", "code": "012", "answer": "yes"}
    literals = [case.when for case in route.cases]
    assert literals == [
        SlotTest(slot="country", equals="NO"),
        SlotTest(slot="opted_in", in_=["on"]),
        SlotTest(slot="code", not_equals="012"),
        SlotTest(slot="answer", not_in=["yes"]),
    ]


def test_an_alias_bomb_is_a_problem_not_an_exception() -> None:
    lines = ["flow: bomb", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for name, previous in zip("bcdefghij", "abcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 8)}]")
    with pytest.raises(InvalidConfig) as caught:
        load_flow_text("\n".join(lines), "bomb.yaml")
    assert [str(p) for p in caught.value.problems] == [
        f"bomb.yaml:2: document has more than {MAX_NODES} nodes"
    ]


def test_an_over_large_text_is_a_problem() -> None:
    text = "flow: big\ndescription: " + "x" * MAX_BYTES + "\n"
    with pytest.raises(InvalidConfig) as caught:
        load_flow_text(text, "big.yaml")
    assert caught.value.problems == [
        Problem("big.yaml", 1, f"file is larger than {MAX_BYTES} bytes")
    ]


def test_an_over_large_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("flow: big\ndescription: " + "x" * MAX_BYTES + "\n", encoding="utf-8")
    with pytest.raises(InvalidConfig) as caught:
        load_flow_file(path)
    assert caught.value.problems == [
        Problem(str(path), 1, f"file is larger than {MAX_BYTES} bytes")
    ]


def test_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(InvalidConfig) as caught:
        load_flow_file(path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].line == 1
    assert caught.value.problems[0].message.startswith("cannot read file: ")


def test_a_recursive_alias_is_a_problem() -> None:
    with pytest.raises(InvalidConfig) as caught:
        read_yaml("flow: x\nloop: &a [1, *a]\n", "recursive.yaml")
    assert [str(p) for p in caught.value.problems] == ["recursive.yaml:2: recursive YAML alias"]


@pytest.mark.parametrize("depth", [100, 5000])
def test_deep_nesting_is_a_problem(depth: int) -> None:
    with pytest.raises(InvalidConfig) as caught:
        read_yaml("flow: x\nsteps: " + "[" * depth + "]" * depth + "\n", "deep.yaml")
    assert len(caught.value.problems) == 1
    assert "nested" in caught.value.problems[0].message


TRANSFER_ONLY = """\
flow: transfer_only
steps:
  - id: xfer
    kind: transfer
    pool: night_desk
    on_fail: bye
  - id: bye
    kind: hangup
"""


def test_pools_are_checked_only_when_known() -> None:
    source = read_yaml(TRANSFER_ONLY, "t.yaml")
    flow = Flow.model_validate(source.data)
    assert check_flow(flow, source) == []
    assert check_flow(flow, source, known_pools=["night_desk"]) == []
    assert check_flow(flow, source, known_pools=[]) == [
        Problem(
            "t.yaml",
            5,
            "step 'xfer': field 'pool': unknown pool 'night_desk' (no pools are configured)",
        )
    ]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_the_json_schema_is_well_formed() -> None:
    schema = flow_json_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["flow", "steps"]
    definitions = schema["$defs"]
    for ref in _refs(schema):
        assert ref.startswith("#/$defs/")
        assert ref.removeprefix("#/$defs/") in definitions
    items = schema["properties"]["steps"]["items"]
    mapping = items["discriminator"]["mapping"]
    assert items["discriminator"]["propertyName"] == "kind"
    assert set(mapping) == set(STEP_MODELS)
    for kind, ref in mapping.items():
        step = definitions[ref.removeprefix("#/$defs/")]
        assert step["properties"]["kind"]["const"] == kind
        assert step["additionalProperties"] is False
        assert "id" in step["required"]


def test_the_json_schema_passes_the_metaschema_and_accepts_the_shipped_flows() -> None:
    schema = flow_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(REPO_FLOWS.glob("*.yaml")):
        # As an editor's YAML plug-in sees the file: plain YAML types, not our all-strings view.
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], f"{path.name}: {[e.message for e in errors]}"


CONSENT_ONLY_REFUSAL_REACHES = """
flow: consent_edges
steps:
  - id: disclosure
    kind: consent
    text: This call may be recorded.
    all_party:
      prompt: May we record this call? Press 1 for yes, 2 for no.
    on_refuse: no_recording
    next: bye
  - id: no_recording
    kind: say
    text: Understood. Nothing on this call will be recorded.
    next: bye
  - id: bye
    kind: hangup
"""


def test_consent_defaults_and_on_refuse_is_an_edge() -> None:
    flow = load_flow_text(CONSENT_ONLY_REFUSAL_REACHES, "consent_edges.yaml")
    consent = flow.step("disclosure")
    assert isinstance(consent, ConsentStep)
    # 'no_recording' is reached only through on_refuse: not reported as unreachable
    assert consent.on_refuse == "no_recording"
    assert consent.all_party.states == list(ALL_PARTY_CONSENT_STATES)
    assert consent.all_party.keypad == {"1": "yes", "2": "no"}
    assert (consent.all_party.reprompt, consent.all_party.retries) == (None, None)
    assert len(ALL_PARTY_CONSENT_STATES) == 14
    assert set(ALL_PARTY_CONSENT_STATES) <= US_STATES


def test_the_json_schema_describes_the_consent_step() -> None:
    definitions = flow_json_schema()["$defs"]
    step = definitions["ConsentStep"]
    assert step["required"] == ["id", "kind", "text", "all_party"]
    assert set(step["properties"]) == {"id", "kind", "next", "text", "all_party", "on_refuse"}
    asking = definitions["AllPartyConsent"]
    assert asking["required"] == ["prompt"]
    assert asking["properties"]["states"]["default"] == list(ALL_PARTY_CONSENT_STATES)
    assert asking["properties"]["states"]["items"]["enum"] == sorted(US_STATES)
    assert asking["properties"]["keypad"]["default"] == {"1": "yes", "2": "no"}
