"""The flow engine: ``step(flow, state, event) -> (state, actions)``, pure and deterministic.

One call to :func:`step` is one turn: it applies the event to the step the call is waiting on,
then runs non-waiting steps (say, play, set, branch, goto, a consent notice) until it reaches a
step that waits for the caller (ask, record, voicemail, transfer, a consent question) or ends the
call. The consent step's pure parts are in :mod:`ivr.engine.consent`. No I/O, no clock: the event
carries the time, and the returned actions are rendered by an adapter (TwiML, the terminal).

A ``score`` step pauses the turn on a :class:`~ivr.engine.actions.Score` action: the adapter
classifies and scores (the model is I/O) and answers with a ``Scored`` event at once, in the same
webhook (:func:`ivr.turns.take_turn`).
"""

from __future__ import annotations

from ivr.answers import get_parser
from ivr.answers.yes_no import YES
from ivr.engine import consent
from ivr.engine.actions import (
    Action,
    Gather,
    Hangup,
    Listen,
    Play,
    Record,
    Release,
    Say,
    Transfer,
)
from ivr.engine.events import (
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
from ivr.engine.score_request import score_request
from ivr.engine.state import Answer, Caller, CallState, HistoryEntry, TransferAttempt
from ivr.engine.transfer import (
    may_try_again,
    ring_seconds,
    round_attempts,
    route_action,
    whisper_text,
)
from ivr.flows.conditions import evaluate
from ivr.flows.schema import (
    SCORE_SLOTS,
    AskStep,
    BranchStep,
    ConsentStep,
    Flow,
    GotoStep,
    HangupStep,
    PlayStep,
    RecordStep,
    SayStep,
    ScoreStep,
    SetStep,
    Step,
    TransferStep,
    VoicemailStep,
    next_of,
)

MAX_STEPS_PER_TURN = 500
VOICEMAIL_SLOT = "voicemail"


class FlowRuntimeError(Exception):
    """The flow cannot go on (a loop without input); validation normally prevents it."""


class UnexpectedEvent(Exception):
    """The event does not fit the step the call is waiting on (a stale or duplicate webhook)."""


def new_call(flow: Flow, call_sid: str, started: CallStarted) -> CallState:
    """The state of a call that has just arrived, before its first turn."""
    context = started.context
    return CallState(
        call_sid=call_sid,
        flow=flow.flow,
        flow_version=flow.version,
        caller=Caller(
            number=context.caller,
            called=context.called,
            campaign=context.campaign,
            publisher=context.publisher,
            state=context.caller_state,
            campaign_lists={k: list(v) for k, v in context.campaign_lists.items()},
            voice=context.voice,
            scoring=context.scoring,
            repeat=context.repeat,
            attribution=context.attribution,
        ),
        started_at=started.at,
    )


def step(flow: Flow, state: CallState, event: Event) -> tuple[CallState, list[Action]]:
    """Apply ``event`` to ``state``; returns the new state and what the caller must hear next."""
    turn = _Turn(flow, _copy(state), event.at)
    turn.apply(event)
    return turn.state, turn.actions


def _copy(state: CallState) -> CallState:
    """A deep copy, so that ``step`` never changes the state it was given.

    Dumped and re-validated by pydantic-core: several times faster than ``copy.deepcopy`` of the
    models (``model_copy(deep=True)``), and this runs on every webhook.
    """
    return CallState.model_validate(state.model_dump())


class _Turn:
    def __init__(self, flow: Flow, state: CallState, at: float) -> None:
        self.flow = flow
        self.state = state
        self.at = at
        self.actions: list[Action] = []

    # -- events ---------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        if isinstance(event, CallerHungUp):
            self._caller_hung_up()
            return
        if self.state.status == "ended":
            raise UnexpectedEvent(f"call already ended; got {type(event).__name__}")
        if isinstance(event, CallStarted):
            if self.state.step is not None or self.state.history:
                raise UnexpectedEvent("call already started")
            self.run(self.flow.start_step)
            return
        if self.state.step is None:
            raise UnexpectedEvent(f"no step is waiting for {type(event).__name__}")
        current = self.flow.step(self.state.step)
        if isinstance(current, AskStep) and isinstance(
            event, DigitsEntered | SpeechHeard | NoInput | VoiceUnavailable
        ):
            self._answer(current, event)
        elif isinstance(current, ConsentStep) and isinstance(
            event, DigitsEntered | SpeechHeard | NoInput
        ):
            self._consent_answer(current, event)
        elif isinstance(current, RecordStep | VoicemailStep) and isinstance(
            event, RecordingFinished | NoInput
        ):
            self._recorded(current, event)
        elif isinstance(current, TransferStep) and isinstance(event, Routed):
            self._routed(current, event)
        elif isinstance(current, TransferStep) and isinstance(event, TransferEnded):
            self._transferred(current, event)
        elif isinstance(current, ScoreStep) and isinstance(event, Scored):
            self._scored(current, event)
        else:
            raise UnexpectedEvent(f"step '{current.id}' does not take {type(event).__name__}")

    def _answer(
        self, ask: AskStep, event: DigitsEntered | SpeechHeard | NoInput | VoiceUnavailable
    ) -> None:
        if isinstance(event, NoInput):
            self._retry(ask, "no_input", None, ask.no_input or self.flow.defaults.no_input)
            return
        if isinstance(event, VoiceUnavailable):
            self.log(ask.id, "voice_unavailable")
            self._to_keypad(ask)
            return
        value = self._parse(ask, event)
        heard = event.digits if isinstance(event, DigitsEntered) else event.text
        if value is None and isinstance(event, DigitsEntered) and self._listening(ask):
            # A key pressed while we listened for speech: the caller prefers the keypad, and
            # a longer entry (a ZIP code) needs a keypad prompt of its own.
            self.log(ask.id, "keypad_chosen", heard)
            self._to_keypad(ask)
            return
        if value is None:
            self._retry(ask, "no_match", heard, ask.no_match or self.flow.defaults.no_match)
            return
        voice = isinstance(event, SpeechHeard) and event.recording is not None
        self.state.answers[ask.slot] = Answer(
            value=value,
            source="keypad" if isinstance(event, DigitsEntered) else "voice" if voice else "speech",
            heard=heard,
            confidence=event.confidence if isinstance(event, SpeechHeard) else None,
            recording=event.recording if isinstance(event, SpeechHeard) else None,
            signals=dict(event.signals) if isinstance(event, SpeechHeard) else {},
            attempts=self.state.attempts + 1,
            at=self.at,
        )
        self.log(ask.id, "answer", f"{ask.slot}={value}")
        self.state.attempts = 0
        self.run(next_of(self.flow, ask))

    def _listening(self, ask: AskStep) -> bool:
        """Whether this ask is waiting on a spoken (Whisper) answer rather than a keypad one.

        Never once the caller refused recording: a voice ask then takes the keypad and the
        carrier's recogniser, which keeps no recording (:meth:`_ask`).
        """
        return (
            "voice" in ask.input
            and self.state.caller.voice
            and not self.state.keypad_only
            and self.state.recording_allowed
        )

    def _to_keypad(self, ask: AskStep) -> None:
        if self.state.keypad_only:
            self._retry(ask, "no_input", None, self.flow.defaults.keypad_fallback)
            return
        self.state.keypad_only = True
        self._ask(ask, lead=self.flow.defaults.keypad_fallback)

    def _parse(self, ask: AskStep, event: DigitsEntered | SpeechHeard) -> str | None:
        parser = get_parser(ask.parser)
        if isinstance(event, DigitsEntered):
            if "keypad" not in ask.input:
                return None
            return ask.keypad.get(event.digits) or parser.from_digits(event.digits)
        if "speech" not in ask.input and "voice" not in ask.input:
            return None
        value = parser.from_speech(event.text)
        if value is None and ask.keypad:
            # "Press or say one": a spoken key reaches the same answer as the key.
            spoken_key = get_parser("digits").from_speech(event.text)
            value = ask.keypad.get(spoken_key) if spoken_key else None
        return value

    def _retry(self, ask: AskStep, reason: str, heard: str | None, message: str) -> None:
        retries = ask.retries if ask.retries is not None else self.flow.defaults.retries
        if self._tries_left(ask.id, retries, reason, heard):
            self._ask(ask, lead=message)
        else:
            self.run(ask.on_fail)

    def _tries_left(self, step_id: str, retries: int, reason: str, heard: str | None) -> bool:
        """Count a failed try; False (and the count reset) once the re-prompts are used up."""
        self.state.attempts += 1
        self.log(step_id, reason, heard)
        if self.state.attempts <= retries:
            return True
        self.log(step_id, "retries_exhausted")
        self.state.attempts = 0
        return False

    def _consent_answer(
        self, step: ConsentStep, event: DigitsEntered | SpeechHeard | NoInput
    ) -> None:
        defaults = self.flow.defaults
        heard = None if isinstance(event, NoInput) else consent.heard(event)
        value = None if isinstance(event, NoInput) else consent.read_answer(step, event)
        if value is not None:
            self.state.attempts = 0
            self._consented(step, value == YES, heard)
            return
        reason, lead = (
            ("no_input", defaults.no_input) if heard is None else ("no_match", defaults.no_match)
        )
        if self._tries_left(step.id, consent.retries(self.flow, step), reason, heard):
            self._ask_consent(step, lead)
        else:
            self._consented(step, False, heard)  # no answer is no consent

    def _consented(self, step: ConsentStep, given: bool, heard: str | None) -> None:
        asked = self.state.consent or consent.question(step, self.state, self.at)
        self.state.consent = asked.model_copy(
            update={"given": given, "heard": heard, "at": self.at}
        )
        self.log(step.id, "consent_given" if given else "consent_refused", heard)
        self.run(consent.after(self.flow, step, given))

    def _recorded(
        self, step: RecordStep | VoicemailStep, event: RecordingFinished | NoInput
    ) -> None:
        slot = step.slot if isinstance(step, RecordStep) else VOICEMAIL_SLOT
        if isinstance(event, RecordingFinished) and event.duration_s > 0:
            self.state.answers[slot] = Answer(
                value=event.url, source="recording", at=self.at, heard=None
            )
            self.log(step.id, "recorded", f"{event.duration_s:g}s")
            if isinstance(step, VoicemailStep):
                self.state.outcome = "callback_requested"
        else:
            self.log(step.id, "no_recording")
        self.run(next_of(self.flow, step))

    def _routed(self, transfer: TransferStep, event: Routed) -> None:
        if event.step != transfer.id or self.state.open_transfer is not None:
            raise UnexpectedEvent(f"step '{transfer.id}' is not waiting for an officer")
        pick = event.decision.pick
        retrying = bool(round_attempts(self.state, transfer))
        if pick is None:
            self.log(transfer.id, "no_officer", "; ".join(event.decision.reasons) or None)
            self.state.transfer_started_at = None
            self.run(transfer.on_fail)
            return
        self.state.transfers.append(
            TransferAttempt(
                step=transfer.id,
                officer=pick.officer,
                number=pick.phone,
                claim=pick.claim,
                started_at=self.at,
                duplicate=pick.duplicate,
                bid=str(pick.bid) if pick.bid is not None else None,
            )
        )
        self.log(transfer.id, "dial", pick.officer + (" (repeat caller)" if pick.duplicate else ""))
        if retrying:  # said only when someone else will ring: never before the fallback
            self.actions.append(self.say(transfer.holding))
        if transfer.record and not self.state.recording_allowed:
            self.log(transfer.id, "recording_off", "no consent")
        dial = Transfer(
            officer=pick.officer,
            number=pick.phone,
            whisper=whisper_text(self.flow, self.state, transfer),
            timeout_s=ring_seconds(self.state, transfer, self.at),
            record=transfer.record and self.state.recording_allowed,
            claim=pick.claim,
        )
        self.wait(transfer.id, dial)

    def _transferred(self, transfer: TransferStep, event: TransferEnded) -> None:
        attempt = self.state.open_transfer
        if attempt is None:
            raise UnexpectedEvent(f"step '{transfer.id}' has no officer ringing")
        attempt.outcome = event.outcome
        attempt.ended_at = self.at
        attempt.duration_s = event.duration_s
        bridged = event.outcome == "bridged"
        self.actions.append(
            Release(attempt.claim, attempt.officer, self.state.caller.number, bridged)
        )
        detail = f"{attempt.officer} {event.duration_s:g}s"
        self.log(transfer.id, f"transfer_{event.outcome}", detail)
        if bridged:
            self.state.transfer_started_at = None
            self._end("transferred")
        elif event.caller_left:
            self.state.transfer_started_at = None
            self._caller_hung_up()
        elif may_try_again(self.state, transfer, self.at):
            self.actions.append(route_action(self.flow, self.state, transfer))
        else:
            self.log(transfer.id, "transfer_gave_up")
            self.state.transfer_started_at = None
            self.run(transfer.on_fail)

    def _scored(self, score: ScoreStep, event: Scored) -> None:
        if event.step != score.id:
            raise UnexpectedEvent(f"step '{score.id}' is waiting; got a score of '{event.step}'")
        result = event.qualification
        filled = (result.intent, str(result.score), "yes" if result.qualified else "no")
        for slot, value in zip(SCORE_SLOTS, filled, strict=True):
            self.state.answers[slot] = Answer(value=value, source="score", at=self.at)
        self.state.qualification = result
        self.log(score.id, "scored", f"intent={result.intent} score={result.score}")
        self.run(next_of(self.flow, score))

    def _caller_hung_up(self) -> None:
        if self.state.status == "ended":
            return
        self.log(self.state.step or "-", "caller_hung_up")
        attempt = self.state.open_transfer
        if attempt is not None:  # the officer's phone must stop ringing and its slot go back
            attempt.outcome = "canceled"
            attempt.ended_at = self.at
            self.actions.append(
                Release(attempt.claim, attempt.officer, self.state.caller.number, None)
            )
        self.state.status = "ended"
        self.state.ended_at = self.at
        self.state.outcome = self.state.outcome or "abandoned"
        self.state.step = None

    # -- running steps --------------------------------------------------------------------

    def run(self, step_id: str | None) -> None:
        """Run steps from ``step_id`` until one waits for the caller or the call ends."""
        self.state.step = None
        self.state.keypad_only = False
        for _ in range(MAX_STEPS_PER_TURN):
            if step_id is None:
                self._end(None)
                return
            current = self.flow.step(step_id)
            self.log(current.id, "enter")
            step_id = self._enter(current)
            if self.state.status == "ended" or self.state.step is not None:
                return
        raise FlowRuntimeError(
            f"flow '{self.flow.flow}' ran {MAX_STEPS_PER_TURN} steps without waiting for input"
        )

    def _enter(self, current: Step) -> str | None:
        """Perform one step and return where the flow goes next (ignored once it waits)."""
        defaults = self.flow.defaults
        if isinstance(current, SayStep):
            voice = current.voice or defaults.voice
            self.actions.append(Say(current.text, voice, current.language or defaults.language))
        elif isinstance(current, PlayStep):
            self.actions.append(Play(current.url, current.loop))
        elif isinstance(current, SetStep):
            for slot, value in current.values.items():
                self.state.answers[slot] = Answer(value=value, source="set", at=self.at)
        elif isinstance(current, GotoStep):
            return current.target
        elif isinstance(current, BranchStep):
            return self._branch(current)
        elif isinstance(current, AskStep):
            self._ask(current, lead=None)
            return None
        elif isinstance(current, ConsentStep):
            return self._disclose(current)
        elif isinstance(current, RecordStep | VoicemailStep):
            self.actions.append(self.say(current.prompt))
            self.wait(current.id, Record(current.max_seconds, current.silence_timeout, True))
            return None
        elif isinstance(current, TransferStep):
            if current.message:
                self.actions.append(self.say(current.message))
            # Not a caller turn yet: the adapter routes at once and answers with ``Routed``.
            self.state.step = current.id
            self.state.transfer_started_at = self.at
            self.actions.append(route_action(self.flow, self.state, current))
            return None
        elif isinstance(current, ScoreStep):
            # Not a caller turn (the turn number stays): the adapter answers at once.
            self.state.step = current.id
            self.actions.append(score_request(self.flow, self.state, current))
            return None
        elif isinstance(current, HangupStep):
            if current.text:
                self.actions.append(self.say(current.text))
            self._end(current.outcome)
            return None
        return next_of(self.flow, current)

    def _branch(self, branch: BranchStep) -> str | None:
        slots = self.state.slots
        lists = self.state.caller.campaign_lists
        for index, case in enumerate(branch.cases):
            if evaluate(case.when, slots, lists):
                self.log(branch.id, "branch", f"case {index + 1}")
                return case.next
        self.log(branch.id, "branch", "default")
        return branch.default

    def _disclose(self, step: ConsentStep) -> str | None:
        """The notice, and on at once; or, for an all-party state, the consent question."""
        if not consent.asks_consent(step, self.state):
            self.actions.append(self.say(step.text))
            self.state.consent = consent.notice(step, self.state, self.at)
            self.log(step.id, "consent_notice", self.state.consent.caller_state)
            return next_of(self.flow, step)
        self.state.consent = consent.question(step, self.state, self.at)
        self.log(step.id, "consent_asked", self.state.consent.caller_state)
        self._ask_consent(step, lead=None)
        return None

    def _ask_consent(self, step: ConsentStep, lead: str | None) -> None:
        prompts: list[Say | Play] = [self.say(lead)] if lead else []
        retrying = self.state.attempts > 0
        asking = step.all_party
        prompts.append(self.say(asking.reprompt if retrying and asking.reprompt else asking.prompt))
        self.wait(step.id, consent.consent_gather(self.flow, step, tuple(prompts)))

    def _ask(self, ask: AskStep, lead: str | None) -> None:
        prompts: list[Say | Play] = [self.say(lead)] if lead else []
        retrying = self.state.attempts > 0
        prompts.append(self.say(ask.reprompt if retrying and ask.reprompt else ask.prompt))
        if self._listening(ask):
            listen = Listen(
                prompt=tuple(prompts),
                keypad="keypad" in ask.input,
                max_seconds=ask.max_seconds,
                silence_timeout_s=ask.silence_timeout,
                hints=tuple(ask.hints),
            )
            self.wait(ask.id, listen)
            return
        max_digits = ask.max_digits
        if max_digits is None and ask.keypad:
            lengths = {len(key) for key in ask.keypad}
            max_digits = lengths.pop() if len(lengths) == 1 else None
        # A voice ask without recording: the carrier's recogniser keeps no recording.
        spoken = "voice" in ask.input and not self.state.recording_allowed
        gather = Gather(
            prompt=tuple(prompts),
            keypad="keypad" in ask.input,
            speech="speech" in ask.input or spoken,
            timeout_s=ask.timeout or self.flow.defaults.timeout,
            max_digits=max_digits,
            hints=tuple(ask.hints),
            language=self.flow.defaults.language,
        )
        self.wait(ask.id, gather)

    # -- helpers ----------------------------------------------------------------------------

    def say(self, text: str) -> Say:
        return Say(text, self.flow.defaults.voice, self.flow.defaults.language)

    def wait(self, step_id: str, action: Gather | Listen | Record | Transfer) -> None:
        self.state.step = step_id
        self.state.turn += 1
        self.actions.append(action)

    def _end(self, outcome: str | None) -> None:
        self.state.outcome = outcome or self.state.outcome or "completed"
        self.state.status = "ended"
        self.state.ended_at = self.at
        self.state.step = None
        self.state.turn += 1
        self.actions.append(Hangup())

    def log(self, step_id: str, event: str, detail: str | None = None) -> None:
        self.state.history.append(
            HistoryEntry(at=self.at, step=step_id, event=event, detail=detail)
        )
