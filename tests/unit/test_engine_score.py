"""The score step in the pure engine: the Score action it pauses on, the Scored event it applies,
and the mortgage flow's branches on intent and qualification. No model and no adapter: the tests
answer the Score action themselves, as :func:`ivr.turns.take_turn` would."""

from __future__ import annotations

import pytest

from ivr.deployment import load_setup
from ivr.engine import UnexpectedEvent, new_call, step
from ivr.engine.actions import Hangup, Route, Say, Score
from ivr.engine.events import CallContext, CallStarted, DigitsEntered, Scored, SpeechHeard
from ivr.engine.state import CallState
from ivr.flows import Flow, load_flow_text
from scoring.qualification import (
    DEFAULT_RULES,
    CallerWords,
    Prequal,
    Qualification,
    QualificationRules,
    Reason,
)
from tests.support.services import ROOT
from tests.unit.test_engine import GOAL, T0, Call, answer_all, started

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_setup(ROOT / "warmline.yaml").flows["mortgage"]


def at_the_score_step(flow: Flow, start: CallStarted | None = None, state: str = "texas") -> Call:
    call = Call(flow, start)
    call.send(DigitsEntered, "1")
    call.send(SpeechHeard, state)
    call.send(DigitsEntered, "2")
    call.send(SpeechHeard, GOAL, 0.82)
    return call


def result(label: str | None, score: int, qualified: bool) -> Qualification:
    return Qualification.model_validate(
        {
            "score": score,
            "qualified": qualified,
            "label": label,
            "probabilities": {label: 0.9} if label else {},
            "reasons": [{"points": score, "text": f"intent {label} 0.90"}],
        }
    )


def test_the_score_step_pauses_the_turn_on_a_score_action(flow: Flow) -> None:
    call = at_the_score_step(flow)
    (request,) = call.actions
    assert request == Score(
        step="qualify",
        words=CallerWords((GOAL,), 0.82),
        prequal=Prequal(
            loan_type="refinance",
            loan_type_served=True,
            state="TX",
            state_served=True,
            credit_band="good",
        ),
        rules=DEFAULT_RULES,
    )
    assert (call.state.step, call.state.turn) == ("qualify", 4)  # the goal's turn: no new one
    assert call.state.path[-2:] == ["goal", "qualify"]
    assert call.state.answers["goal"].source == "speech"


def test_scored_fills_the_slots_keeps_the_record_and_goes_on(flow: Flow) -> None:
    call = at_the_score_step(flow)
    scored = result("ready", 93, True)
    say, route = call.score(scored)
    assert isinstance(say, Say) and isinstance(route, Route)
    slots = {k: call.state.slots[k] for k in ("intent", "score", "qualified")}
    assert slots == {"intent": "ready", "score": "93", "qualified": "yes"}
    assert {call.state.answers[k].source for k in slots} == {"score"}
    assert call.state.qualification == scored
    assert (call.state.history[-4].step, call.state.history[-4].event) == ("qualify", "scored")
    assert call.state.history[-4].detail == "intent=ready score=93"
    assert (call.state.step, call.state.turn) == ("connect", 4)  # routing is not a turn either
    restored = CallState.model_validate_json(call.state.model_dump_json())
    assert restored.qualification == scored


@pytest.mark.parametrize(
    ("scored", "end", "outcome", "heard"),
    [
        (result("servicing", 0, False), "servicing", "not_a_lead", "Your loan servicer"),
        (result("not_interested", 0, False), "not_interested", "not_a_lead", "No problem"),
        (result("researching", 45, False), "callback_offer", None, "leave your name"),
        (result("shopping", 80, True), "connect", None, "connect you"),
        (result(None, 70, True), "connect", None, "connect you"),  # no model: answers decide
    ],
)
def test_the_flow_branches_on_intent_and_qualification(
    flow: Flow, scored: Qualification, end: str, outcome: str | None, heard: str
) -> None:
    call = at_the_score_step(flow)
    call.score(scored)
    assert call.state.path[-2:] == ["route", end]
    assert any(heard in text for text in call.said)
    if outcome:
        assert (call.state.status, call.state.outcome) == ("ended", outcome)
        assert isinstance(call.actions[-1], Hangup)


def test_servicing_that_is_not_served_is_still_closed_as_not_served(flow: Flow) -> None:
    call = at_the_score_step(flow, state="ohio")
    request = call.actions[-1]
    assert isinstance(request, Score) and request.prequal.state_served is False
    call.score()
    assert call.state.qualification is not None
    assert "state OH not served (−40)" in call.state.qualification.explained
    assert (call.state.path[-1], call.state.outcome) == ("not_served_state", "not_served")


def test_the_campaigns_rules_reach_the_score_action(flow: Flow) -> None:
    strict = QualificationRules(qualified_at=80)
    context = CallContext(**{**started().context.__dict__, "scoring": strict})
    call = at_the_score_step(flow, CallStarted(T0, context))
    request = call.actions[-1]
    assert isinstance(request, Score) and request.rules == strict
    call.score()  # 70 without a model: enough by default, not for this campaign
    assert (call.state.slots["score"], call.state.slots["qualified"]) == ("70", "no")
    assert call.state.path[-1] == "callback_offer"


def test_a_score_for_another_step_or_at_the_wrong_time_is_refused(flow: Flow) -> None:
    call = at_the_score_step(flow)
    with pytest.raises(UnexpectedEvent, match="score of 'elsewhere'"):
        step(flow, call.state, Scored(T0 + 99, "elsewhere", result("ready", 90, True)))
    asking = Call(flow)
    with pytest.raises(UnexpectedEvent, match="does not take Scored"):
        step(flow, asking.state, Scored(T0 + 1, "qualify", result("ready", 90, True)))


def test_keys_are_not_words_at_the_free_form_question(flow: Flow) -> None:
    call = Call(flow)
    call.send(DigitsEntered, "1")
    call.send(SpeechHeard, "texas")
    call.send(DigitsEntered, "2")
    call.send(DigitsEntered, "1")
    assert call.said[0] == "Sorry, I didn't understand that."
    assert call.state.step == "goal"
    call.send(SpeechHeard, "um, you know")
    assert call.state.step == "qualify"  # retries: 1, then on to scoring without words
    assert "goal" not in call.state.answers


def test_the_whole_mortgage_call_scores_from_the_answers_without_a_model(flow: Flow) -> None:
    call = Call(flow)
    answer_all(call, credit="4")  # poor credit
    assert call.state.qualification is not None
    assert call.state.qualification.explained == [
        "intent model not loaded (+70)",
        "credit band poor (−25)",
    ]
    assert call.state.path[-1] == "callback_offer"


WORDS_FLOW = """
flow: words
steps:
  - id: product
    kind: ask
    slot: product
    parser: loan_type
    prompt: Which loan?
    keypad: {"1": refinance}
    on_fail: bye
  - id: where
    kind: ask
    slot: where
    parser: us_state
    input: [keypad, voice]
    prompt: Which state?
    on_fail: bye
  - id: qualify
    kind: score
    text: [product, where]
  - id: route
    kind: branch
    cases:
      - when: {slot: score, gte: 60}
        next: bye
    default: bye
  - id: bye
    kind: hangup
"""


def test_texts_are_the_callers_words_and_prequal_is_found_by_parser() -> None:
    words_flow = load_flow_text(WORDS_FLOW, "words.yaml")
    context = CallContext(**{**started().context.__dict__, "voice": True})
    start = CallStarted(T0, context)
    state, _ = step(words_flow, new_call(words_flow, "CA9", start), start)
    state, _ = step(words_flow, state, SpeechHeard(T0 + 1, "a refi please", 0.7))
    state, actions = step(words_flow, state, SpeechHeard(T0 + 2, "Ohio", 0.4, "https://x.test/RE1"))
    (request,) = actions
    assert isinstance(request, Score)
    # speech and voice answers give what was said (the lowest confidence counts)
    assert request.words == CallerWords(("a refi please", "Ohio"), 0.4)
    assert request.prequal == Prequal(
        loan_type="refinance", loan_type_served=True, state="OH", state_served=False
    )
    state, actions = step(words_flow, state, Scored(T0 + 2, "qualify", result(None, 10, False)))
    assert state.path[-3:] == ["qualify", "route", "bye"]


def test_keypad_answers_give_no_words() -> None:
    words_flow = load_flow_text(WORDS_FLOW, "words.yaml")
    state, _ = step(words_flow, new_call(words_flow, "CA9", started()), started())
    state, _ = step(words_flow, state, DigitsEntered(T0 + 1, "1"))
    state, actions = step(words_flow, state, DigitsEntered(T0 + 2, "75201"))
    (request,) = actions
    assert isinstance(request, Score)
    assert request.words == CallerWords((), None)  # keys are never words


def test_reasons_read_as_people_write_them() -> None:
    assert [str(Reason(points=p, text="x")) for p in (91, 0, -20)] == [
        "x (+91)",
        "x (+0)",
        "x (−20)",
    ]
