"""Scripted calls and scenarios: the caller's turns and, optionally, what must happen.

A script is YAML read with the project's safe loader (so keypad digits such as ``012`` stay
strings); numbers and booleans the carrier needs are converted here, once.

    name: Refinance by keypad, Texas by voice
    call: {to: "+18005550100", from: "+15125550123"}
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
      transfer_to: "+15125550101"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ivr.problems import InvalidConfig, Problem
from ivr.yaml_source import read_yaml_file

_NUMBERS = {"confidence", "duration", "ring", "seconds"}
_FLAGS = {"silence", "hangup", "caller_hangs_up"}
_EXPECT_KEYS = {"path", "answers", "outcome", "said", "transfer_to"}


@dataclass(frozen=True)
class Expectation:
    path: list[str] | None = None
    answers: dict[str, str] | None = None
    outcome: str | None = None
    said: list[str] = field(default_factory=list)
    transfer_to: str | None = None


@dataclass(frozen=True)
class Script:
    path: str
    name: str
    to_number: str | None
    from_number: str | None
    turns: list[dict[str, Any]]
    expect: Expectation | None


def load_script(path: str | Path) -> Script:
    """Read a script file; raises :class:`InvalidConfig` with ``path:line`` problems."""
    source = read_yaml_file(str(path))
    data = source.data
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        raise InvalidConfig([Problem(source.path, 1, "a script needs a 'turns' list")])
    call = data.get("call") or {}
    expect = data.get("expect")
    unknown = set(expect or {}) - _EXPECT_KEYS
    if unknown:
        raise InvalidConfig(
            [
                source.problem(
                    ("expect", sorted(unknown)[0]), f"unknown expectation {sorted(unknown)}"
                )
            ]
        )
    return Script(
        path=source.path,
        name=str(data.get("name") or Path(path).stem),
        to_number=call.get("to"),
        from_number=call.get("from"),
        turns=[_typed(turn) for turn in data["turns"]],
        expect=Expectation(**expect) if isinstance(expect, dict) else None,
    )


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
    return failures
