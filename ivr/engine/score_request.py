"""What a ``score`` step asks the scorer: the caller's words and prequal answers, from the state.

Pure, like the rest of the engine. The prequal answers are found by the parser that filled them
(whatever a flow names its slots, the ask with parser ``loan_type`` holds the loan type), and
"served" is checked against the campaign's lists, so the scorer needs neither flow nor state.
"""

from __future__ import annotations

from ivr.engine.actions import Score
from ivr.engine.state import Answer, CallState
from ivr.flows.schema import AskStep, Flow, ScoreStep
from scoring.qualification import DEFAULT_RULES, CallerWords, Prequal


def score_request(flow: Flow, state: CallState, step: ScoreStep) -> Score:
    texts: list[str] = []
    confidences: list[float] = []
    for slot in step.text:
        answer = state.answers.get(slot)
        words = _words(answer)
        if answer is None or not words:
            continue
        texts.append(words)
        if answer.confidence is not None:
            confidences.append(answer.confidence)
    lists = state.caller.campaign_lists
    loan_type = answer_of(flow, state, "loan_type")
    us_state = answer_of(flow, state, "us_state")
    prequal = Prequal(
        loan_type=loan_type,
        loan_type_served=_served(loan_type, lists.get("loan_types")),
        state=us_state,
        state_served=_served(us_state, lists.get("states")),
        credit_band=answer_of(flow, state, "credit_band"),
    )
    return Score(
        step=step.id,
        words=CallerWords(tuple(texts), min(confidences) if confidences else None),
        prequal=prequal,
        rules=state.caller.scoring or DEFAULT_RULES,
    )


def _words(answer: Answer | None) -> str | None:
    """The caller's own words behind an answer: never keypad digits or a recording's URL."""
    if answer is None or answer.source not in ("speech", "voice"):
        return None
    return (answer.heard or answer.value).strip() or None


def answer_of(flow: Flow, state: CallState, parser: str) -> str | None:
    """The value of the first answered ask that uses ``parser`` (whatever its slot's name)."""
    for step in flow.steps:
        if isinstance(step, AskStep) and step.parser == parser and step.slot in state.answers:
            return state.answers[step.slot].value
    return None


def _served(value: str | None, listed: list[str] | None) -> bool | None:
    if value is None or not listed:
        return None
    return value in listed
