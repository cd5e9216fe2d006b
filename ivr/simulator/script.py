"""Scripted calls and scenarios: the caller's turns and, optionally, what must happen.

A script is YAML read with the project's safe loader (so keypad digits such as ``012`` stay
strings); numbers and booleans the carrier needs are converted here, once.

    name: Refinance by keypad, Texas by voice
    call: {to: "+18005550100", from: "+15125550123", from_state: CA}   # default TX; ~: none
    turns:
      - digits: "1"
      - speech: it's in texas
      - record: {seconds: 4}
      - transfer: accepted
    expect:
      path: [disclosure, loan_type, …]
      answers: {loan_type: refinance, state: TX}
      outcome: transferred
      said: ["may be recorded"]          # substrings of what the caller heard
      transfer_to: "+15125550111"         # the last officer dialled
      transfers: [ana-ruiz declined, ben-okafor bridged]   # each officer tried, and how
      consent: refused                    # given, refused, notice, unanswered (see below)
      transfer_recorded: false            # whether the last transfer was recorded

``consent`` is what the call's consent step left: ``notice`` (told, not asked: a one-party or
unknown state), ``given``, ``refused`` (a no, or no answer after the retries) or ``unanswered``
(asked, and the caller hung up on the question).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ivr.problems import InvalidConfig, Problem
from ivr.simulator.caller import parse_turn
from ivr.yaml_source import Source, read_yaml_file

_NUMBERS = {"confidence", "duration", "ring", "seconds"}
_FLAGS = {"silence", "hangup", "caller_hangs_up"}
_CALL_KEYS = {"to", "from", "from_state"}
DEFAULT_FROM_STATE = "TX"
"""The ``FromState`` a scripted call reports when its script names none (the fake carrier's)."""
CONSENT_OUTCOMES = ("notice", "given", "refused", "unanswered")


@dataclass(frozen=True)
class Expectation:
    path: list[str] | None = None
    answers: dict[str, str] | None = None
    outcome: str | None = None
    said: list[str] = field(default_factory=list)
    transfer_to: str | None = None
    transfers: list[str] | None = None
    consent: str | None = None
    transfer_recorded: bool | None = None


@dataclass(frozen=True)
class Script:
    path: str
    name: str
    to_number: str | None
    from_number: str | None
    turns: list[dict[str, Any]]
    expect: Expectation | None
    from_state: str = DEFAULT_FROM_STATE
    """The caller's state as the carrier reports it (``FromState``); empty: not reported."""


def load_script(path: str | Path) -> Script:
    """Read a script file; raises :class:`InvalidConfig` with every ``path:line`` problem.

    Turns are checked here, as the carrier would read them, so a typo is reported with its line
    before the call is placed rather than halfway through it.
    """
    source = read_yaml_file(str(path))
    data = source.data
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        raise InvalidConfig([Problem(source.path, 1, "a script needs a 'turns' list")])
    problems: list[Problem] = []
    unknown = sorted(set(data) - _SCRIPT_KEYS)
    problems += [source.problem((key,), f"unknown field '{key}'") for key in unknown]
    call = data.get("call") or {}
    if not isinstance(call, dict) or not set(call) <= _CALL_KEYS:
        message = "call: a mapping with 'to' and 'from' numbers, and optionally 'from_state'"
        problems.append(source.problem(("call",), message))
        call = {}
    from_state = call.get("from_state", DEFAULT_FROM_STATE) or ""  # empty: not reported
    if not isinstance(from_state, str) or not (from_state == "" or from_state.isalpha()):
        message = "call: from_state is the caller's state as Twilio reports it, e.g. CA"
        problems.append(source.problem(("call", "from_state"), message))
    turns = [_typed(turn) for turn in data["turns"]]
    for index, turn in enumerate(turns):
        try:
            if not isinstance(turn, dict):
                raise ValueError(f"turn {index} {turn!r}: each turn is a mapping, e.g. digits: '1'")
            parse_turn(index, turn)
        except ValueError as error:
            problems.append(source.problem(("turns", index), str(error)))
    expect = data.get("expect")
    if expect is not None:
        problems += _expectation_problems(source, expect)
    if problems:
        raise InvalidConfig(problems)
    return Script(
        path=source.path,
        name=str(data.get("name") or Path(path).stem),
        to_number=call.get("to"),
        from_number=call.get("from"),
        turns=turns,
        expect=Expectation(**_typed_expectation(expect)) if isinstance(expect, dict) else None,
        from_state=from_state,
    )


def _typed_expectation(expect: dict[str, Any]) -> dict[str, Any]:
    """Flags arrive as text (the safe loader keeps every scalar a string)."""
    flag = expect.get("transfer_recorded")
    if isinstance(flag, str):
        return expect | {"transfer_recorded": flag.lower() == "true"}
    return expect


def _expectation_problems(source: Source, expect: object) -> list[Problem]:
    if not isinstance(expect, dict):
        return [source.problem(("expect",), f"expect: a mapping of {sorted(_EXPECT_SHAPES)}")]
    problems = []
    for key, value in expect.items():
        shape = _EXPECT_SHAPES.get(key)
        if shape is None:
            message = f"expect: unknown expectation '{key}' (known: {sorted(_EXPECT_SHAPES)})"
            problems.append(source.problem(("expect", key), message))
        elif not shape[0](value):
            problems.append(source.problem(("expect", key), f"expect: {key} must be {shape[1]}"))
    return problems


def _text_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _text_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(item, str) for item in value.values())


_SCRIPT_KEYS = {"name", "call", "turns", "expect"}
_EXPECT_SHAPES: dict[str, tuple[Callable[[object], bool], str]] = {
    "path": (_text_list, "a list of step ids"),
    "answers": (_text_map, "a mapping of slot to value"),
    "outcome": (lambda value: isinstance(value, str), "text"),
    "said": (_text_list, "a list of texts the caller hears"),
    "transfer_to": (lambda value: isinstance(value, str), "a phone number"),
    "transfers": (_text_list, "a list of 'officer outcome' entries"),
    "consent": (lambda value: value in CONSENT_OUTCOMES, f"one of {', '.join(CONSENT_OUTCOMES)}"),
    "transfer_recorded": (
        lambda value: isinstance(value, str) and value.lower() in ("true", "false"),
        "true or false",
    ),
}


def _typed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _convert(key, _typed(item)) for key, item in value.items()}
    return value


def _convert(key: str, value: Any) -> Any:
    if isinstance(value, str) and key in _NUMBERS:
        try:
            return float(value)
        except ValueError:
            return value  # the carrier's script parser reports it with the turn
    if isinstance(value, str) and key in _FLAGS | {"record"}:
        return {"true": True, "false": False}.get(value.lower(), value)
    return value


class Outcome(Protocol):
    """What a finished call shows; :class:`ivr.simulator.session.CallSummary` has this shape."""

    path: list[str]
    answers: dict[str, str]
    outcome: str | None
    said: list[str]
    transfer_to: str | None
    transfers: list[str]
    consent: str | None
    transfer_recorded: bool | None


def check(expect: Expectation, call: Outcome) -> list[str]:
    """What differs from the expectation, one line each; empty when the call went as expected.

    An expected answer of ``"*"`` means "answered, any value" (e.g. a recording's URL).
    """
    failures = []
    if expect.path is not None and call.path != expect.path:
        failures.append(f"path: expected {expect.path}, got {call.path}")
    if expect.answers is not None:
        got = {k: ("*" if expect.answers.get(k) == "*" else v) for k, v in call.answers.items()}
        if got != expect.answers:
            failures.append(f"answers: expected {expect.answers}, got {call.answers}")
    if expect.outcome is not None and call.outcome != expect.outcome:
        failures.append(f"outcome: expected {expect.outcome!r}, got {call.outcome!r}")
    heard = " | ".join(call.said)
    failures += [f"never heard {text!r}" for text in expect.said if text not in heard]
    if expect.transfer_to is not None and call.transfer_to != expect.transfer_to:
        failures.append(f"transfer: expected {expect.transfer_to!r}, got {call.transfer_to!r}")
    if expect.transfers is not None and call.transfers != expect.transfers:
        failures.append(f"transfers: expected {expect.transfers}, got {call.transfers}")
    if expect.consent is not None and call.consent != expect.consent:
        failures.append(f"consent: expected {expect.consent!r}, got {call.consent!r}")
    recorded = expect.transfer_recorded
    if recorded is not None and call.transfer_recorded != recorded:
        message = f"transfer_recorded: expected {recorded}, got {call.transfer_recorded}"
        failures.append(message)
    return failures
