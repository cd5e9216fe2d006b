"""The consent step's pure parts: who is asked, the question, how the answer is read, the record.

Entering a ``consent`` step, a caller whose state (Twilio's ``FromState``) is in the step's
all-party list hears the consent question: a gather on keypad and speech whose answer is the
step's keypad map (1 yes, 2 no by default) or the ``yes_no`` parser's reading of the words.
A yes goes on with recording allowed; a no, or no usable answer after the retries (re-prompted
as an ask is), switches recording off for the rest of the call
(:attr:`~ivr.engine.state.CallState.recording_allowed`) and goes to ``on_refuse``. Everyone
else, and a caller whose state is unknown, hears the notice and the flow goes on at once. Each
case leaves a :class:`~ivr.engine.state.ConsentRecord` on the call.
"""

from __future__ import annotations

from ivr.answers import get_parser
from ivr.answers.yes_no import PARSER as YES_NO
from ivr.engine.actions import Gather, Prompt
from ivr.engine.events import DigitsEntered, SpeechHeard
from ivr.engine.state import CallState, ConsentRecord
from ivr.flows.schema import ConsentStep, Flow, next_of

HINTS = ("yes", "no", "I agree", "I don't agree")
"""Words the carrier's recogniser should expect for the consent question."""


def caller_state(state: CallState) -> str | None:
    """The caller's state as a USPS code (``FromState`` as reported, upper-cased), or None."""
    code = (state.caller.state or "").strip().upper()
    return code or None


def asks_consent(step: ConsentStep, state: CallState) -> bool:
    """Whether this caller's state requires every party's consent before recording."""
    code = caller_state(state)
    return code is not None and code in step.all_party.states


def notice(step: ConsentStep, state: CallState, at: float) -> ConsentRecord:
    """The record of a one-party notice (or an unknown state): told, not asked."""
    return ConsentRecord(
        step=step.id,
        caller_state=caller_state(state),
        all_party=False,
        disclosure=step.text,
        asked=False,
        given=None,
        at=at,
    )


def question(step: ConsentStep, state: CallState, at: float) -> ConsentRecord:
    """The record while the consent question waits: asked, no answer yet (nothing recorded)."""
    return ConsentRecord(
        step=step.id,
        caller_state=caller_state(state),
        all_party=True,
        disclosure=step.all_party.prompt,
        asked=True,
        given=None,
        at=at,
    )


def consent_gather(flow: Flow, step: ConsentStep, prompt: tuple[Prompt, ...]) -> Gather:
    """The consent question: keypad and speech, ending at once when a key of the map is typed."""
    keypad = step.all_party.keypad
    lengths = {len(key) for key in keypad}
    return Gather(
        prompt=prompt,
        keypad=True,
        speech=True,
        timeout_s=step.all_party.timeout or flow.defaults.timeout,
        max_digits=lengths.pop() if len(lengths) == 1 else None,
        hints=HINTS,
        language=flow.defaults.language,
    )


def read_answer(step: ConsentStep, event: DigitsEntered | SpeechHeard) -> str | None:
    """``yes``, ``no`` or None (no match): the keypad map, else the words, else a spoken key."""
    keypad = step.all_party.keypad
    if isinstance(event, DigitsEntered):
        return keypad.get(event.digits)
    value = YES_NO.from_speech(event.text)
    if value is None:
        spoken_key = get_parser("digits").from_speech(event.text)
        value = keypad.get(spoken_key) if spoken_key else None
    return value


def heard(event: DigitsEntered | SpeechHeard) -> str:
    """What the caller pressed or said, as the consent record keeps it."""
    return event.digits if isinstance(event, DigitsEntered) else event.text


def retries(flow: Flow, step: ConsentStep) -> int:
    chosen = step.all_party.retries
    return chosen if chosen is not None else flow.defaults.retries


def after(flow: Flow, step: ConsentStep, given: bool) -> str | None:
    """Where the flow goes once the caller answered: ``next``, or ``on_refuse`` after a no."""
    if not given and step.on_refuse is not None:
        return step.on_refuse
    return next_of(flow, step)
