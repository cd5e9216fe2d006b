"""The consent step in the pure engine: a notice for one-party states, a question for all-party.

A small flow (consent, a voice ask, a transfer, a voicemail) shows what a refusal changes: the
transfer is dialled without recording and the voice ask takes the carrier's recogniser instead
of a recording, while the caller may still leave a message.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.deployment import load_setup
from ivr.engine import UnexpectedEvent, new_call, step
from ivr.engine.actions import Action, Gather, Listen, Record, Route, Say, Transfer
from ivr.engine.events import (
    CallContext,
    CallerHungUp,
    CallStarted,
    DigitsEntered,
    Event,
    NoInput,
    Routed,
    SpeechHeard,
    VoiceUnavailable,
)
from ivr.engine.state import CallState, ConsentRecord
from ivr.flows import Flow, load_flow_text
from ivr.routing.decision import Decision, Pick
from ivr.telephony.twilio.twiml import render, turn_urls

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0
NOTICE = "This call may be recorded."
PROMPT = "May we record this call? Press 1 or say yes. Press 2 or say no."
REPROMPT = "Press 1 to agree to recording, or 2 to go on without it."
VOICE = ("Polly.Joanna", "en-US")


def consent_flow(on_refuse: str | None = None) -> Flow:
    refuse = f"    on_refuse: {on_refuse}\n" if on_refuse else ""
    return load_flow_text(
        f"""
flow: consent_only
version: "7"
steps:
  - id: disclosure
    kind: consent
    text: {NOTICE}
    all_party:
      prompt: {PROMPT}
      reprompt: {REPROMPT}
      retries: 1
{refuse}  - id: property_state
    kind: ask
    slot: state
    parser: us_state
    input: [keypad, voice]
    prompt: Which state is the property in?
    hints: [Texas]
    on_fail: message
  - id: connect
    kind: transfer
    pool: loan_officers
    on_fail: message
  - id: message
    kind: voicemail
    prompt: Please leave a message.
    next: bye
  - id: bye
    kind: hangup
""",
        "consent_only.yaml",
    )


class Call:
    """One call through the engine; ``send`` applies an event a few seconds later."""

    def __init__(self, flow: Flow, caller_state: str | None, voice: bool = True) -> None:
        self.flow = flow
        self.clock = T0
        context = CallContext(
            caller="+13105550123",
            called="+18005550100",
            campaign="sunbelt-refi",
            publisher="rate-compare",
            caller_state=caller_state,
            voice=voice,
        )
        start = CallStarted(T0, context)
        self.state, self.actions = step(flow, new_call(flow, "CA1", start), start)

    def send(self, event_type: type, *args: object) -> list[Action]:
        self.clock += 5
        event: Event = event_type(self.clock, *args)
        self.state, self.actions = step(self.flow, self.state, event)
        return self.actions

    def route(self, officer: str = "ana-ruiz") -> list[Action]:
        request = self.actions[-1]
        assert isinstance(request, Route)
        pick = Pick(officer, "+15125550111", f"claim-{officer}")
        event = Routed(self.clock, request.step, Decision(pick, ()))
        self.state, self.actions = step(self.flow, self.state, event)
        return self.actions

    @property
    def events(self) -> list[tuple[str, str, str | None]]:
        return [(h.step, h.event, h.detail) for h in self.state.history]


def say(text: str) -> Say:
    return Say(text, *VOICE)


def question(*prompts: str) -> Gather:
    return Gather(
        prompt=tuple(say(text) for text in prompts),
        keypad=True,
        speech=True,
        timeout_s=5,
        max_digits=1,
        hints=("yes", "no", "I agree", "I don't agree"),
        language="en-US",
    )


# -- who is asked --------------------------------------------------------------------------


@pytest.mark.parametrize("caller_state", ["TX", "NY", "ON"])
def test_a_one_party_state_hears_the_notice_and_goes_on(caller_state: str) -> None:
    call = Call(consent_flow(), caller_state)
    notice, listen = call.actions
    assert notice == say(NOTICE)
    assert isinstance(listen, Listen)  # voice asks record as before
    assert call.state.consent == ConsentRecord(
        step="disclosure",
        caller_state=caller_state,
        all_party=False,
        disclosure=NOTICE,
        asked=False,
        given=None,
        heard=None,
        at=T0,
    )
    assert call.state.recording_allowed is True
    assert call.events[:3] == [
        ("disclosure", "enter", None),
        ("disclosure", "consent_notice", caller_state),
        ("property_state", "enter", None),
    ]


def test_an_unknown_state_hears_the_notice() -> None:
    call = Call(consent_flow(), None)
    assert call.actions[0] == say(NOTICE)
    consent = call.state.consent
    assert consent is not None
    assert (consent.caller_state, consent.all_party, consent.asked, consent.given) == (
        None,
        False,
        False,
        None,
    )
    assert call.state.recording_allowed is True


@pytest.mark.parametrize("reported", ["CA", "ca", " CA "])
def test_an_all_party_state_is_asked_before_anything_else(reported: str) -> None:
    call = Call(consent_flow(), reported)
    assert call.actions == [question(PROMPT)]
    assert (call.state.step, call.state.turn) == ("disclosure", 1)
    assert call.state.consent == ConsentRecord(
        step="disclosure",
        caller_state="CA",
        all_party=True,
        disclosure=PROMPT,
        asked=True,
        given=None,
        at=T0,
    )
    assert call.state.recording_allowed is False  # nothing is recorded while it waits
    assert call.events == [("disclosure", "enter", None), ("disclosure", "consent_asked", "CA")]


def test_a_flow_can_name_its_own_states() -> None:
    flow = load_flow_text(
        f"""
flow: own_list
steps:
  - id: disclosure
    kind: consent
    text: {NOTICE}
    all_party:
      states: [TX]
      prompt: May we record? Press 9 to agree, 0 to go on without it.
      keypad: {{9: "yes", 0: "no"}}
  - id: bye
    kind: hangup
""",
        "own_list.yaml",
    )
    assert Call(flow, "CA").actions[0] == say(NOTICE)  # CA is not in this flow's list
    texan = Call(flow, "TX")
    assert isinstance(texan.actions[0], Gather)
    texan.send(DigitsEntered, "9")
    assert texan.state.consent is not None and texan.state.consent.given is True


# -- the answer ----------------------------------------------------------------------------


def test_yes_by_key_gives_consent_and_voice_asks_still_listen() -> None:
    call = Call(consent_flow(), "CA")
    call.send(DigitsEntered, "1")
    assert call.state.consent is not None
    assert (call.state.consent.given, call.state.consent.heard) == (True, "1")
    assert call.state.consent.at == T0 + 5
    assert call.state.recording_allowed is True
    assert call.state.step == "property_state"
    assert isinstance(call.actions[-1], Listen)
    assert ("disclosure", "consent_given", "1") in call.events
    assert "disclosure" not in call.state.answers  # consent is no slot


@pytest.mark.parametrize("words", ["yes", "Yes, I agree.", "sure, go ahead", "one"])
def test_yes_by_speech_gives_consent(words: str) -> None:
    call = Call(consent_flow(), "CA")
    call.send(SpeechHeard, words, 0.9)
    assert call.state.consent is not None
    assert (call.state.consent.given, call.state.consent.heard) == (True, words)
    assert call.state.step == "property_state"


@pytest.mark.parametrize(("event", "heard"), [(DigitsEntered, "2"), (SpeechHeard, "no thanks")])
def test_no_refuses_and_switches_recording_off(event: type, heard: str) -> None:
    call = Call(consent_flow(), "CA")
    call.send(event, heard)
    assert call.state.consent is not None
    assert (call.state.consent.asked, call.state.consent.given) == (True, False)
    assert call.state.consent.heard == heard
    assert call.state.recording_allowed is False
    assert call.state.step == "property_state"  # no on_refuse: the next step
    assert ("disclosure", "consent_refused", heard) in call.events


def test_no_match_reprompts_with_the_reprompt() -> None:
    call = Call(consent_flow(), "MA")
    call.send(SpeechHeard, "maybe")
    assert call.actions == [question("Sorry, I didn't understand that.", REPROMPT)]
    assert call.state.consent is not None and call.state.consent.given is None
    call.send(DigitsEntered, "1")
    assert call.state.consent.given is True
    assert call.state.attempts == 0


def test_no_answer_after_the_retries_is_a_refusal() -> None:
    call = Call(consent_flow(), "FL")
    call.send(NoInput)
    assert call.actions == [question("Sorry, I didn't hear anything.", REPROMPT)]
    call.send(NoInput)  # retries: 1, so this was the last try
    assert call.state.consent is not None
    assert (call.state.consent.given, call.state.consent.heard) == (False, None)
    assert call.state.recording_allowed is False
    assert call.state.step == "property_state"
    assert call.events[2:6] == [
        ("disclosure", "no_input", None),
        ("disclosure", "no_input", None),
        ("disclosure", "retries_exhausted", None),
        ("disclosure", "consent_refused", None),
    ]


def test_on_refuse_routes_a_refusal_and_a_yes_goes_on() -> None:
    flow = consent_flow(on_refuse="message")
    refused = Call(flow, "CA")
    refused.send(DigitsEntered, "2")
    assert refused.state.step == "message"
    assert refused.actions == [say("Please leave a message."), Record(120, 5, True)]
    agreed = Call(flow, "CA")
    agreed.send(DigitsEntered, "1")
    assert agreed.state.step == "property_state"


def test_hanging_up_on_the_question_leaves_it_unanswered() -> None:
    call = Call(consent_flow(), "CA")
    call.send(CallerHungUp)
    assert call.state.status == "ended"
    consent = call.state.consent
    assert consent is not None
    assert (consent.asked, consent.given, consent.heard) == (True, None, None)


def test_the_question_takes_no_voice_events() -> None:
    call = Call(consent_flow(), "CA")
    with pytest.raises(UnexpectedEvent):
        call.send(VoiceUnavailable)


# -- what a refusal changes ----------------------------------------------------------------


def test_after_a_refusal_a_voice_ask_uses_keypad_and_carrier_speech() -> None:
    call = Call(consent_flow(), "CA")
    call.send(DigitsEntered, "2")
    gather = call.actions[-1]
    assert isinstance(gather, Gather)
    assert (gather.keypad, gather.speech, gather.hints) == (True, True, ("Texas",))
    call.send(SpeechHeard, "it's in Texas", 0.8)
    answer = call.state.answers["state"]
    assert (answer.value, answer.source, answer.recording) == ("TX", "speech", None)


def _transfer_after(answer: str) -> tuple[Call, Transfer]:
    call = Call(consent_flow(), "CA")
    call.send(DigitsEntered, answer)
    call.send(DigitsEntered, "75201")
    assert call.state.step == "connect"
    dial = call.route()[-1]
    assert isinstance(dial, Transfer)
    return call, dial


def test_a_transfer_is_not_recorded_after_a_refusal() -> None:
    call, dial = _transfer_after("2")
    assert dial.record is False
    assert ("connect", "recording_off", "no consent") in call.events


def test_a_transfer_is_recorded_after_a_yes() -> None:
    call, dial = _transfer_after("1")
    assert dial.record is True
    assert all(event != "recording_off" for _, event, _ in call.events)


def test_a_message_may_still_be_left_after_a_refusal() -> None:
    call = Call(consent_flow(), "CA")
    call.send(DigitsEntered, "2")
    call.send(NoInput)
    call.send(NoInput)
    call.send(NoInput)  # the state question gives up: on to the message
    assert call.state.step == "message"
    assert isinstance(call.actions[-1], Record)


def test_recording_allowed_reads_the_consent_record() -> None:
    state = Call(consent_flow(), "TX").state
    assert state.recording_allowed is True
    base = state.consent
    assert base is not None
    asked = base.model_copy(update={"asked": True, "all_party": True})
    for given, allowed in [(None, False), (True, True), (False, False)]:
        state.consent = asked.model_copy(update={"given": given})
        assert state.recording_allowed is allowed
    state.consent = None
    assert state.recording_allowed is True


def test_the_consent_record_round_trips_with_the_state() -> None:
    call = Call(consent_flow(), "CA")
    call.send(SpeechHeard, "no")
    again = CallState.model_validate_json(call.state.model_dump_json())
    assert again == call.state
    assert again.consent is not None and again.flow_version == "7"


# -- the sample flow and its TwiML ---------------------------------------------------------


def test_the_mortgage_flow_asks_a_california_caller_and_goes_on_after_no() -> None:
    flow = load_setup(ROOT / "warmline.yaml").flows["mortgage"]
    call = Call(flow, "CA")
    (gather,) = call.actions
    assert isinstance(gather, Gather)
    prompt = gather.prompt[0]
    assert isinstance(prompt, Say)
    assert "To agree to being recorded, press 1 or say yes" in prompt.text
    assert (gather.keypad, gather.speech, gather.max_digits, gather.timeout_s) == (True, True, 1, 6)
    call.send(DigitsEntered, "2")
    assert call.state.step == "loan_type"
    assert call.state.path == ["disclosure", "loan_type"]
    assert call.state.slots == {}


def test_the_consent_question_renders_as_a_gather_answered_on_the_gather_route() -> None:
    call = Call(consent_flow(), "CA")
    twiml = render(call.actions, turn_urls("https://ivr.example.test", call.state.turn))
    gather, redirect = list(ET.fromstring(twiml))
    assert gather.tag == "Gather"
    assert gather.attrib["action"] == "https://ivr.example.test/twilio/gather?turn=1"
    assert gather.attrib["input"] == "dtmf speech"
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["hints"] == "yes, no, I agree, I don't agree"
    assert [el.text for el in gather.iter("Say")] == [PROMPT]
    assert redirect.text == "https://ivr.example.test/twilio/no-input?turn=1"
