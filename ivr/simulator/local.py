"""The terminal adapter: the flow engine driven in-process, with no server and no Twilio.

It is the second adapter over the same engine as the Twilio webhooks: engine actions become what
the caller hears and the prompt specs the :class:`~ivr.simulator.caller.Caller` answers; the
caller's answers become engine events. Scripts and the interactive terminal work unchanged in
both modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ivr.deployment import Setup
from ivr.engine import new_call
from ivr.engine.actions import Gather, Hangup, Listen, Play, Record, Say, Transfer
from ivr.engine.events import (
    CallerHungUp,
    CallStarted,
    DigitsEntered,
    Event,
    NoInput,
    RecordingFinished,
    SpeechHeard,
    TransferEnded,
    TransferOutcome,
)
from ivr.engine.state import CallState
from ivr.engine.transfer import ACCEPT_KEY
from ivr.qualifier import Qualifier
from ivr.simulator import twiml_reader as spec
from ivr.simulator.caller import (
    Caller,
    DialOutcome,
    Digits,
    HangUp,
    RecordInput,
    Silence,
    Speech,
)
from ivr.simulator.media import wav_duration, wav_file_duration
from ivr.simulator.model import Heard
from ivr.turns import Routing, take_turn

MAX_TURNS = 200
TYPED_RECORDING = "local://typed"


class UnknownNumber(LookupError):
    """The dialled number is not a tracking number of the deployment."""


@dataclass
class LocalCall:
    """What happened on an in-process call."""

    state: CallState
    heard: list[Heard] = field(default_factory=list)
    transfer_to: str | None = None
    transfer_recorded: bool | None = None
    """Whether the last transfer asked for the bridged call to be recorded; None: no transfer."""

    @property
    def said(self) -> list[str]:
        return [h.text or "" for h in self.heard if h.kind == "say"]


async def call_locally(
    setup: Setup,
    caller: Caller,
    to_number: str,
    from_number: str,
    clock: Callable[[], float],
    on_heard: Callable[[Heard], None] | None = None,
    qualifier: Qualifier | None = None,
    router: Routing | None = None,
    caller_state: str | None = None,
) -> LocalCall:
    """Place a call through the engine in-process; returns the final state and what was heard.

    Score steps use ``qualifier`` (default: none loaded, so scores come from the answers alone);
    transfers use ``router`` (default: none, so they take the flow's fallback).
    ``caller_state`` is what Twilio would send as ``FromState`` (None: not reported).
    """
    qualifier = qualifier or Qualifier(None)
    number = setup.number(to_number)
    if number is None:
        raise UnknownNumber(f"{to_number} is not a tracking number in {setup.path}")
    flow = setup.flows[setup.campaign(number.campaign).flow]
    # Voice asks listen to typed words: the terminal stands in for the recording and Whisper.
    context = setup.call_context(number, from_number, caller_state or None, voice=True)
    started = CallStarted(clock(), context)
    state, actions = await take_turn(
        flow, new_call(flow, "CA" + "0" * 32, started), started, qualifier, router
    )
    result = LocalCall(state)
    for _ in range(MAX_TURNS):
        pending: list[Heard] = []
        waiting: Gather | Listen | Record | Transfer | Hangup | None = None
        for action in actions:
            if isinstance(action, Say | Play):
                pending.append(_heard(action))
            elif isinstance(action, Gather | Listen):
                pending.extend(_heard(p) for p in action.prompt)
                waiting = action
            elif isinstance(action, Record | Transfer | Hangup):
                waiting = action
        for heard in pending:
            result.heard.append(heard)
            if on_heard:
                on_heard(heard)
        if waiting is None or isinstance(waiting, Hangup):
            break
        if isinstance(waiting, Transfer):
            result.transfer_to = waiting.number
            result.transfer_recorded = waiting.record
        event = await _ask(caller, pending, waiting, clock)
        state, actions = await take_turn(flow, state, event, qualifier, router)
        result.state = state
        if isinstance(event, CallerHungUp):
            break
    return result


async def _ask(
    caller: Caller,
    heard: list[Heard],
    waiting: Gather | Listen | Record | Transfer,
    clock: Callable[[], float],
) -> Event:
    if isinstance(waiting, Listen):
        answer = await caller.gather(heard, _listen_spec(waiting))
        if isinstance(answer, Digits):
            return DigitsEntered(clock(), answer.keys[:1])  # any key ends the recording
        if isinstance(answer, Speech):
            return SpeechHeard(clock(), answer.text, answer.confidence, TYPED_RECORDING)
        return NoInput(clock()) if isinstance(answer, Silence) else CallerHungUp(clock())
    if isinstance(waiting, Gather):
        answer = await caller.gather(heard, _gather_spec(waiting))
        if isinstance(answer, Digits):
            return DigitsEntered(clock(), _keys_as_twilio_sends_them(answer.keys, waiting))
        if isinstance(answer, Speech):
            return SpeechHeard(clock(), answer.text, answer.confidence)
        return NoInput(clock()) if isinstance(answer, Silence) else CallerHungUp(clock())
    if isinstance(waiting, Record):
        recorded = await caller.record(
            heard, spec.Record(timeout=waiting.silence_timeout_s, max_length=waiting.max_seconds)
        )
        if isinstance(recorded, RecordInput) and _record_seconds(recorded) > 0:
            return RecordingFinished(clock(), "local://recording", _record_seconds(recorded))
        hung_up = isinstance(recorded, HangUp) or (
            isinstance(recorded, RecordInput) and recorded.finished_on_key == "hangup"
        )
        return CallerHungUp(clock()) if hung_up else NoInput(clock())
    dial = spec.Dial(
        targets=(spec.DialTarget(waiting.number),),
        timeout=waiting.timeout_s,
        answer_on_bridge=True,
    )
    outcome = await caller.dial(heard, dial)
    if isinstance(outcome, HangUp):
        return CallerHungUp(clock())
    return TransferEnded(clock(), _transfer_outcome(outcome), outcome.duration_s)


def _keys_as_twilio_sends_them(keys: str, gather: Gather) -> str:
    """Twilio stops at ``numDigits`` keys, or at ``#`` (not sent) when there is no limit."""
    if gather.max_digits is not None:
        return keys[: gather.max_digits]
    return keys.split("#", 1)[0]


def _heard(action: Say | Play) -> Heard:
    if isinstance(action, Say):
        return Heard("say", text=action.text, voice=action.voice, language=action.language)
    return Heard("play", url=action.url, loop=action.loop)


def _gather_spec(gather: Gather) -> spec.Gather:
    inputs = {name for name, on in (("dtmf", gather.keypad), ("speech", gather.speech)) if on}
    return spec.Gather(
        timeout=gather.timeout_s,
        num_digits=gather.max_digits,
        input=frozenset(inputs),
        language=gather.language,
        hints=", ".join(gather.hints) or None,
        prompts=tuple(
            spec.Say(p.text, p.voice, p.language) if isinstance(p, Say) else spec.Play(p.url)
            for p in gather.prompt
        ),
    )


def _listen_spec(listen: Listen) -> spec.Gather:
    """A voice ask, as a prompt that takes a key or words (typed words stand in for speech)."""
    return spec.Gather(
        timeout=listen.silence_timeout_s,
        num_digits=1,
        input=frozenset({"dtmf", "speech"} if listen.keypad else {"speech"}),
        hints=", ".join(listen.hints) or None,
        prompts=tuple(
            spec.Say(p.text, p.voice, p.language) if isinstance(p, Say) else spec.Play(p.url)
            for p in listen.prompt
        ),
    )


def _record_seconds(recorded: RecordInput) -> float:
    if recorded.duration_s is not None:
        return recorded.duration_s
    if isinstance(recorded.audio, bytes):
        return wav_duration(recorded.audio)
    if recorded.audio is not None:
        return wav_file_duration(recorded.audio)
    return 0.0


def _transfer_outcome(outcome: DialOutcome) -> TransferOutcome:
    """An answered officer bridges only by pressing the accept key at the whisper, as on Twilio."""
    if outcome.status == "completed":
        if not outcome.answered:
            return "failed"
        return "bridged" if outcome.accept_digit == ACCEPT_KEY else "declined"
    mapping: dict[str, TransferOutcome] = {"no-answer": "no_answer", "busy": "busy"}
    return mapping.get(outcome.status, "failed" if outcome.status == "failed" else "canceled")
