"""The pure engine against the real mortgage flow: events in, actions and state out."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.deployment import load_setup
from ivr.engine import UnexpectedEvent, new_call, step
from ivr.engine.actions import (
    Action,
    Gather,
    Hangup,
    Listen,
    Record,
    Release,
    Route,
    Say,
    Score,
    Transfer,
)
from ivr.engine.events import (
    CallContext,
    CallerHungUp,
    CallStarted,
    DigitsEntered,
    Event,
    NoInput,
    RecordingFinished,
    Routed,
    Scored,
    SpeechHeard,
    TransferEnded,
    VoiceUnavailable,
)
from ivr.engine.state import CallState
from ivr.flows import Flow, load_flow_text
from ivr.routing.decision import Decision, Pick
from scoring.qualification import Qualification, qualify

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_setup(ROOT / "warmline.yaml").flows["mortgage"]


def started(states: tuple[str, ...] = ("TX", "FL")) -> CallStarted:
    return CallStarted(
        at=T0,
        context=CallContext(
            caller="+15125550123",
            called="+18005550100",
            campaign="sunbelt-refi",
            publisher="rate-compare",
            caller_state="TX",
            campaign_lists={"loan_types": ("refinance", "purchase"), "states": states},
        ),
    )


class Call:
    """Drives one call through the engine, keeping the latest state and actions."""

    def __init__(self, flow: Flow, start: CallStarted | None = None) -> None:
        self.flow = flow
        start = start or started()
        self.state, self.actions = step(flow, new_call(flow, "CA1", start), start)
        self.clock = T0

    def send(self, event_type: type, *args: object) -> list[Action]:
        self.clock += 7
        event: Event = event_type(self.clock, *args)
        self.state, self.actions = step(self.flow, self.state, event)
        return self.actions

    def route(self, officer: str | None = "ana-ruiz") -> list[Action]:
        """Answer the pending Route action with ``officer`` claimed (None: nobody)."""
        request = self.actions[-1]
        assert isinstance(request, Route)
        pick = Pick(officer, "+15125550111", f"claim-{officer}") if officer else None
        event = Routed(self.clock, request.step, Decision(pick, ("someone: closed",)))
        self.state, self.actions = step(self.flow, self.state, event)
        return self.actions

    def score(self, result: Qualification | None = None) -> list[Action]:
        """Answer the pending Score action as an adapter would, without a model by default."""
        request = self.actions[-1]
        assert isinstance(request, Score)
        if result is None:
            result = qualify(None, request.prequal, request.words, request.rules)
        event = Scored(self.clock, request.step, result)
        self.state, self.actions = step(self.flow, self.state, event)
        return self.actions

    @property
    def said(self) -> list[str]:
        texts = []
        for action in self.actions:
            if isinstance(action, Say):
                texts.append(action.text)
            if isinstance(action, Gather):
                texts.extend(p.text for p in action.prompt if isinstance(p, Say))
        return texts


def test_call_start_plays_disclosure_then_asks_loan_type(flow: Flow) -> None:
    call = Call(flow)
    first, gather = call.actions
    assert isinstance(first, Say) and "may be recorded" in first.text
    assert isinstance(gather, Gather)
    assert (gather.keypad, gather.speech, gather.max_digits, gather.timeout_s) == (True, True, 1, 6)
    assert "refinance" in gather.hints
    assert call.state.step == "loan_type"
    assert call.state.turn == 1
    assert call.state.path == ["disclosure", "loan_type"]


def test_keypad_and_speech_fill_the_same_slots(flow: Flow) -> None:
    call = Call(flow)
    call.send(DigitsEntered, "1")
    assert call.state.step == "property_state"
    call.send(SpeechHeard, "uh it's in texas", 0.91)
    assert call.state.step == "credit"
    call.send(SpeechHeard, "about seven twenty")
    assert call.state.slots == {"loan_type": "refinance", "state": "TX", "credit_band": "good"}
    state_answer = call.state.answers["state"]
    assert (state_answer.source, state_answer.heard, state_answer.confidence) == (
        "speech",
        "uh it's in texas",
        0.91,
    )
    assert call.state.answers["loan_type"].source == "keypad"
    goal = call.actions[-1]  # the free-form question: the carrier's recogniser, no keypad
    assert isinstance(goal, Gather) and (goal.keypad, goal.speech) == (False, True)


def test_spoken_menu_key_reaches_the_keypad_value(flow: Flow) -> None:
    call = Call(flow)
    call.send(SpeechHeard, "three")
    assert call.state.slots["loan_type"] == "purchase"


def test_zip_code_on_keypad_gives_the_state(flow: Flow) -> None:
    call = Call(flow)
    call.send(DigitsEntered, "3")
    call.send(DigitsEntered, "33101")
    assert call.state.slots["state"] == "FL"


def test_no_input_reprompts_then_gives_up_to_on_fail(flow: Flow) -> None:
    call = Call(flow)
    call.send(NoInput)
    assert call.said[0] == "Sorry, I didn't hear anything."
    assert call.said[1].startswith("Press 1 for refinance")  # the reprompt, not the prompt
    assert (call.state.step, call.state.attempts, call.state.turn) == ("loan_type", 1, 2)
    call.send(SpeechHeard, "banana bread")
    assert call.said[0] == "Sorry, I didn't understand that."
    assert call.state.attempts == 2
    call.send(NoInput)
    # retries: 2 re-prompts after the first attempt, then on_fail → operator_fallback → voicemail
    assert call.state.step == "callback_offer"
    assert call.said[0] == "Sorry we couldn't get that. Let me take a message instead."
    assert isinstance(call.actions[-1], Record)
    assert call.state.attempts == 0
    events = [(h.step, h.event) for h in call.state.history]
    assert ("loan_type", "retries_exhausted") in events
    assert events.count(("loan_type", "no_input")) == 2


GOAL = "I want to refinance and lower my rate"


def answer_all(
    call: Call,
    loan: str = "1",
    state: str = "texas",
    credit: str = "2",
    result: Qualification | None = None,
) -> None:
    call.send(DigitsEntered, loan)
    call.send(SpeechHeard, state)
    call.send(DigitsEntered, credit)
    call.send(SpeechHeard, GOAL, 0.9)
    call.score(result)


def test_qualified_caller_is_transferred(flow: Flow) -> None:
    call = Call(flow)
    answer_all(call)
    say, route = call.actions
    assert isinstance(say, Say) and "connect you" in say.text
    assert isinstance(route, Route) and route.request.pool == "loan_officers"
    (transfer,) = call.route()
    assert transfer == Transfer(
        officer="ana-ruiz",
        number="+15125550111",
        whisper="New mortgage lead. Refinance, Texas, good credit, score 70. Press 1 to take "
        "the call, or hang up to pass.",
        timeout_s=25,
        record=True,
        claim="claim-ana-ruiz",
    )
    assert call.state.slots["goal"] == GOAL
    assert (call.state.slots["intent"], call.state.slots["score"]) == ("unknown", "70")
    call.send(TransferEnded, "bridged", 312.0)
    assert call.actions == [Release("claim-ana-ruiz", "ana-ruiz", "+15125550123", True), Hangup()]
    assert (call.state.status, call.state.outcome) == ("ended", "transferred")
    assert call.state.path == [
        "disclosure",
        "loan_type",
        "property_state",
        "credit",
        "goal",
        "qualify",
        "route",
        "connect",
    ]


def test_nobody_to_take_the_call_rolls_to_callback(flow: Flow) -> None:
    call = Call(flow)
    answer_all(call)
    call.route(None)
    assert call.state.step == "callback_offer"
    assert ("connect", "no_officer", "someone: closed") in [
        (h.step, h.event, h.detail) for h in call.state.history
    ]
    call.send(RecordingFinished, "https://example.test/RE2", 12.0)
    assert isinstance(call.actions[-1], Hangup)
    assert call.state.outcome == "callback_requested"
    assert call.state.answers["voicemail"].value == "https://example.test/RE2"


@pytest.mark.parametrize(
    ("loan", "state", "credit", "end_step", "outcome"),
    [
        ("5", "texas", "1", "not_served_loan", "not_served"),  # reverse: campaign does not buy it
        ("1", "ohio", "1", "not_served_state", "not_served"),
        ("3", "florida", "4", "callback_offer", None),  # poor credit scores 45: a call-back
    ],
)
def test_campaign_footprint_decides_the_branch(
    flow: Flow, loan: str, state: str, credit: str, end_step: str, outcome: str | None
) -> None:
    call = Call(flow)
    answer_all(call, loan, state, credit)
    assert call.state.path[-1] == end_step
    if outcome:
        assert (call.state.status, call.state.outcome) == ("ended", outcome)
        assert isinstance(call.actions[-1], Hangup)


def test_silence_at_the_goal_question_is_still_scored(flow: Flow) -> None:
    call = Call(flow)
    call.send(DigitsEntered, "1")
    call.send(SpeechHeard, "TX")
    call.send(DigitsEntered, "1")
    call.send(NoInput)
    assert call.state.step == "goal"  # one re-prompt (retries: 1)
    (request,) = call.send(NoInput)
    assert isinstance(request, Score) and request.words.texts == ()
    call.score()
    assert "goal" not in call.state.answers
    assert call.state.qualification is not None
    assert call.state.qualification.explained == [
        "intent unknown: no words to classify (+70)",
        "credit band excellent (+5)",
        "no answer in words (−20)",
    ]
    assert (call.state.slots["score"], call.state.slots["qualified"]) == ("55", "no")
    assert call.state.step == "callback_offer"


def test_caller_hang_up_ends_the_call_once(flow: Flow) -> None:
    call = Call(flow)
    call.send(DigitsEntered, "1")
    call.send(CallerHungUp)
    assert (call.state.status, call.state.outcome, call.state.step) == ("ended", "abandoned", None)
    ended_at = call.state.ended_at
    call.send(CallerHungUp)
    assert call.state.ended_at == ended_at
    with pytest.raises(UnexpectedEvent):
        call.send(DigitsEntered, "1")


def test_event_that_does_not_fit_the_step_is_refused(flow: Flow) -> None:
    call = Call(flow)
    with pytest.raises(UnexpectedEvent):
        call.send(TransferEnded, "bridged")
    with pytest.raises(UnexpectedEvent):
        step(flow, call.state, started())


def test_engine_is_deterministic_and_state_round_trips(flow: Flow) -> None:
    first, second = Call(flow), Call(flow)
    for call in (first, second):
        answer_all(call)
    assert first.state.model_dump_json() == second.state.model_dump_json()
    restored = CallState.model_validate_json(first.state.model_dump_json())
    assert restored == first.state
    assert [h.at for h in first.state.history][:2] == [T0, T0]
    assert first.state.history[-1].at == T0 + 7 * 4  # the score comes in the goal's turn


def test_step_does_not_mutate_its_input(flow: Flow) -> None:
    call = Call(flow)
    before = call.state.model_dump_json()
    step(flow, call.state, DigitsEntered(T0 + 1, "1"))
    assert call.state.model_dump_json() == before


def test_set_goto_and_nested_conditions() -> None:
    flow = load_flow_text(
        """
flow: tiny
steps:
  - id: ask_ok
    kind: ask
    slot: ok
    parser: yes_no
    prompt: Is that right?
    keypad: {"1": "yes", "2": "no"}
    on_fail: bye
  - id: mark
    kind: set
    values: {tier: gold}
  - id: jump
    kind: goto
    target: decide
  - id: unused_say
    kind: say
    text: never heard
    next: bye
  - id: decide
    kind: branch
    cases:
      - when: {all: [{slot: ok, equals: "yes"}, {not: {slot: tier, not_in: [gold]}}]}
        next: bye
    default: unused_say
  - id: bye
    kind: hangup
    text: Bye.
    outcome: done
""",
        "tiny.yaml",
    )
    state, _ = step(flow, new_call(flow, "CA2", started()), started())
    state, actions = step(flow, state, SpeechHeard(T0 + 1, "yeah that's right"))
    assert state.slots == {"ok": "yes", "tier": "gold"}
    assert state.path == ["ask_ok", "mark", "jump", "decide", "bye"]
    assert actions == [Say("Bye.", "Polly.Joanna", "en-US"), Hangup()]
    assert state.outcome == "done"


VOICE_FLOW = """
flow: voice
steps:
  - id: where
    kind: ask
    slot: state
    parser: us_state
    input: [keypad, voice]
    prompt: Which state?
    hints: [Texas]
    on_fail: bye
  - id: bye
    kind: hangup
"""


def voice_call(voice: bool = True) -> Call:
    flow = load_flow_text(VOICE_FLOW, "voice.yaml")
    context = started().context
    start = CallStarted(T0, CallContext(**{**context.__dict__, "voice": voice}))
    return Call(flow, start)


def test_voice_ask_listens_and_keeps_transcript_recording_and_signals() -> None:
    call = voice_call()
    (listen,) = call.actions
    assert listen == Listen(
        prompt=(Say("Which state?", "Polly.Joanna", "en-US"),),
        keypad=True,
        max_seconds=8,
        silence_timeout_s=1,
        hints=("Texas",),
    )
    call.send(SpeechHeard, "It's in Texas.", 0.93, "https://x.test/RE1", {"no_speech_prob": 0.01})
    answer = call.state.answers["state"]
    assert (answer.value, answer.source, answer.recording) == ("TX", "voice", "https://x.test/RE1")
    assert answer.signals == {"no_speech_prob": 0.01}


def test_voice_ask_falls_back_to_the_keypad() -> None:
    call = voice_call()
    call.send(VoiceUnavailable)
    lead, gather = call.said[0], call.actions[-1]
    assert lead == "Sorry, I couldn't make that out. Please use your keypad."
    assert isinstance(gather, Gather) and (gather.keypad, gather.speech) == (True, False)
    assert (call.state.keypad_only, call.state.attempts) == (True, 0)
    call.send(DigitsEntered, "75201")
    assert call.state.slots["state"] == "TX" and call.state.keypad_only is False


def test_a_key_while_listening_moves_the_question_to_the_keypad() -> None:
    call = voice_call()
    call.send(DigitsEntered, "7")
    assert isinstance(call.actions[-1], Gather)
    assert call.state.history[-1].event == "keypad_chosen"
    call.send(DigitsEntered, "7")  # now on the keypad: one digit is not a ZIP code
    assert call.said[0] == "Sorry, I didn't understand that."


def test_without_voice_on_the_call_a_voice_ask_uses_the_keypad_from_the_start() -> None:
    call = voice_call(voice=False)
    (gather,) = call.actions
    assert isinstance(gather, Gather) and (gather.keypad, gather.speech) == (True, False)
