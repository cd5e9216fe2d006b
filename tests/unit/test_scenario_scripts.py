"""Scenario files: the caller's state, and the consent and transfer-recording expectations."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.problems import InvalidConfig
from ivr.simulator.script import DEFAULT_FROM_STATE, Expectation, check, load_script
from ivr.simulator.session import CallSummary

pytestmark = pytest.mark.unit

SCENARIOS = Path(__file__).resolve().parents[2] / "tests" / "scenarios"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "script.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def summary(consent: str | None, recorded: bool | None) -> CallSummary:
    return CallSummary([], {}, None, [], None, consent=consent, transfer_recorded=recorded)


def test_a_script_names_the_callers_state_and_the_consent_it_expects() -> None:
    script = load_script(SCENARIOS / "california_refuses_recording.yaml")
    assert script.from_state == "CA"
    assert script.expect is not None
    assert (script.expect.consent, script.expect.transfer_recorded) == ("refused", False)


def test_consent_and_transfer_recording_are_checked() -> None:
    expect = Expectation(consent="refused", transfer_recorded=False)
    assert check(expect, summary("refused", False)) == []
    assert check(expect, summary("given", True)) == [
        "consent: expected 'refused', got 'given'",
        "transfer_recorded: expected False, got True",
    ]
    assert check(Expectation(), summary("given", True)) == []


def test_without_from_state_the_caller_is_in_texas_and_empty_means_unknown(
    tmp_path: Path,
) -> None:
    assert load_script(SCENARIOS / "caller_hangs_up_early.yaml").from_state == DEFAULT_FROM_STATE
    unknown = write(tmp_path, 'call: {to: "+18005550100", from_state: ~}\nturns: []\n')
    assert load_script(unknown).from_state == ""


def test_bad_call_and_expectation_fields_are_reported_with_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'call: {to: "+18005550100", from_state: "C4"}\n'
        "turns: []\n"
        "expect:\n"
        "  consent: maybe\n"
        "  transfer_recorded: sometimes\n",
    )
    with pytest.raises(InvalidConfig) as caught:
        load_script(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:1: call: from_state is the caller's state as Twilio reports it, e.g. CA",
        f"{path}:4: expect: consent must be one of notice, given, refused, unanswered",
        f"{path}:5: expect: transfer_recorded must be true or false",
    ]
