"""Cross-reference checks on what flows say about answers: parsers, keypad maps, conditions, pools.

A slot's possible values come from whatever fills it: an ask with a closed parser gives that
parser's values, a ``set`` step gives the values it writes, a ``score`` step gives the intent
labels, the scores 0–100 and yes/no, and an ask with an open parser (``digits``, ``free_text``)
or a ``record`` step (a recording's URL) can give anything, which turns the value checks off for
that slot. Whether a slot is filled *before* the step that reads it is
:mod:`ivr.flows.slot_order`'s job. Run by :func:`ivr.flows.checks.check_flow`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from ivr.answers import PARSERS, suggest_value
from ivr.answers.free_text import PARSER as FREE_TEXT
from ivr.answers.us_states import PARSER as US_STATE
from ivr.answers.us_states import US_STATES
from ivr.answers.yes_no import PARSER as YES_NO_PARSER
from ivr.answers.yes_no import YES_NO
from ivr.flows.conditions import AllOf, AnyOf, CampaignRef, Condition, NotOf, SlotTest
from ivr.flows.schema import (
    SCORE_SLOTS,
    AskStep,
    BranchStep,
    ConsentStep,
    Flow,
    RecordStep,
    ScoreStep,
    SetStep,
    Step,
    TransferStep,
)
from ivr.yaml_source import Location
from scoring.intent.labels import LABELS
from scoring.qualification import UNKNOWN_INTENT

if TYPE_CHECKING:
    from ivr.flows.checks import Reporter

Values = frozenset[str] | None
"""The values a slot or parser can hold; ``None`` when it is open (any text)."""

_NUMERIC = ("gte", "gt", "lte", "lt")
_LITERAL = ("equals", "not_equals")
_LISTED = ("in", "not_in")
_MAX_LISTED = 12
_SCORE_VALUES: tuple[Values, ...] = (
    frozenset({*LABELS, UNKNOWN_INTENT}),
    frozenset(str(points) for points in range(101)),
    YES_NO,
)


def check_slots(flow: Flow, report: Reporter, known_pools: frozenset[str] | None) -> None:
    """Report unknown parsers and pools, impossible keypad entries and impossible conditions."""
    domains = slot_domains(flow)
    asked = {step.slot for step in flow.steps if isinstance(step, AskStep)}
    for index, step in enumerate(flow.steps):
        if isinstance(step, AskStep):
            _check_ask(index, step, report)
        elif isinstance(step, ConsentStep):
            _check_consent(index, step, report)
        elif isinstance(step, ScoreStep):
            for k, slot in enumerate(step.text):
                if slot not in asked:
                    hint = report.did_you_mean(slot, asked)
                    message = f"slot '{slot}' is never filled by an ask step{hint}"
                    report.step(index, ("text", k), message)
        elif isinstance(step, BranchStep):
            for k, case in enumerate(step.cases):
                for location, test in leaf_tests(case.when, ("cases", k, "when")):
                    _check_test(index, location, test, domains, report)
        elif isinstance(step, TransferStep) and known_pools is not None:
            _check_pool(index, step, known_pools, report)


def parser_values(name: str) -> Values:
    parser = PARSERS.get(name)
    return None if parser is None else parser.values


def slot_domains(flow: Flow) -> dict[str, Values]:
    """Every slot some step fills, with the values it can hold."""
    domains: dict[str, Values] = {}

    def fill(slot: str, values: Values) -> None:
        if slot in domains:
            known = domains[slot]
            values = None if known is None or values is None else known | values
        domains[slot] = values

    for step in flow.steps:
        for slot, values in step_fills(step).items():
            fill(slot, values)
    return domains


def step_fills(step: Step) -> dict[str, Values]:
    """The slots one step fills, each with the values it can put there."""
    if isinstance(step, AskStep):
        return {step.slot: parser_values(step.parser)}
    if isinstance(step, RecordStep):
        return {step.slot: None}
    if isinstance(step, SetStep):
        return {slot: frozenset({value}) for slot, value in step.values.items()}
    if isinstance(step, ScoreStep):
        return dict(zip(SCORE_SLOTS, _SCORE_VALUES, strict=True))
    return {}


def leaf_tests(condition: Condition, location: Location) -> Iterator[tuple[Location, SlotTest]]:
    """Each slot test in ``condition`` with its location in the data (``all[1]``, ``not``…)."""
    if isinstance(condition, AllOf):
        for k, part in enumerate(condition.all):
            yield from leaf_tests(part, (*location, "all", k))
    elif isinstance(condition, AnyOf):
        for k, part in enumerate(condition.any):
            yield from leaf_tests(part, (*location, "any", k))
    elif isinstance(condition, NotOf):
        yield from leaf_tests(condition.not_, (*location, "not"))
    else:
        yield location, condition


def _check_ask(index: int, step: AskStep, report: Reporter) -> None:
    if step.parser not in PARSERS:
        known = ", ".join(sorted(PARSERS))
        report.step(index, ("parser",), f"unknown parser '{step.parser}' (known parsers: {known})")
    if step.parser == FREE_TEXT.name and step.input != ["speech"]:
        message = (
            f"parser '{FREE_TEXT.name}' reads the caller's own words: set 'input: [speech]' "
            "(keys are not words, and voice falls back to the keypad)"
        )
        report.step(index, ("input",) if "input" in step.model_fields_set else (), message)
    _check_keypad(index, ("keypad",), step.keypad, step.parser, step.max_digits, report)


def _check_consent(index: int, step: ConsentStep, report: Reporter) -> None:
    """Caller states are USPS codes; the keypad answers yes or no, and every key can be typed."""
    for position, code in enumerate(step.all_party.states):
        if code not in US_STATES:
            guess = suggest_value(US_STATE.name, code)
            hint = f" (did you mean '{guess}'?)" if guess else ""
            report.step(index, ("all_party", "states", position), f"unknown state '{code}'{hint}")
    keypad = step.all_party.keypad
    _check_keypad(index, ("all_party", "keypad"), keypad, YES_NO_PARSER.name, None, report)


def _check_keypad(
    index: int,
    field: Location,
    keypad: Mapping[str, str],
    parser: str,
    max_digits: int | None,
    report: Reporter,
) -> None:
    values = parser_values(parser)
    if values is not None:
        for key, value in keypad.items():
            if value not in values:
                message = f"'{value}' is not a value of parser '{parser}'"
                report.step(index, (*field, key), message + _hint(value, values, report))
    for key in keypad:
        if max_digits is not None and len(key) > max_digits:
            message = f"key '{key}' is longer than max_digits ({max_digits})"
            report.step(index, (*field, key), f"{message} and can never be entered")
        elif max_digits is None:
            # Without max_digits, input ends as soon as the digits typed match a key.
            shorter = sorted(k for k in keypad if k != key and key.startswith(k))
            if shorter:
                message = f"key '{key}' can never be entered: without max_digits, input stops"
                report.step(index, (*field, key), f"{message} at key '{shorter[0]}'")


def _check_pool(index: int, step: TransferStep, pools: frozenset[str], report: Reporter) -> None:
    if step.pool in pools:
        return
    listed = (
        f" (known pools: {', '.join(sorted(pools))})" if pools else " (no pools are configured)"
    )
    hint = report.did_you_mean(step.pool, pools) or listed
    report.step(index, ("pool",), f"unknown pool '{step.pool}'{hint}")


def _check_test(
    index: int,
    location: Location,
    test: SlotTest,
    domains: Mapping[str, Values],
    report: Reporter,
) -> None:
    if test.slot not in domains:
        hint = report.did_you_mean(test.slot, domains)
        message = f"slot '{test.slot}' is never filled by an ask, record, set or score step{hint}"
        report.step(index, (*location, "slot"), message)
        return
    values = domains[test.slot]
    if values is None:
        return
    operator = test.operator
    operand = test.operand(operator)
    if operator in _LITERAL:
        literals = [((*location, operator), str(operand))]
    elif operator in _LISTED and not isinstance(operand, CampaignRef):
        literals = [((*location, operator, j), str(item)) for j, item in enumerate(operand)]
    else:
        literals = []
    for field, literal in literals:
        if literal not in values:
            message = f"'{literal}' is never a value of slot '{test.slot}'"
            report.step(index, field, message + _hint(literal, values, report))
    if operator in _NUMERIC and not all(_is_number(v) for v in values):
        message = f"'{operator}' compares numbers, but slot '{test.slot}' never holds one"
        report.step(index, (*location, operator), message + _listing(values))


def _hint(word: str, values: frozenset[str], report: Reporter) -> str:
    return report.did_you_mean(word, values) or _listing(values)


def _listing(values: frozenset[str]) -> str:
    if len(values) > _MAX_LISTED:
        return ""
    return f" (values: {', '.join(sorted(values))})"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
