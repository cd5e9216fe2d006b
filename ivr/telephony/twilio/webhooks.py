"""Twilio's voice webhooks, turned into engine events; the engine's actions answered as TwiML.

Routes (all POST, all signature-checked by :mod:`ivr.telephony.twilio.signature`):
``/twilio/voice`` (a call arrives), ``/twilio/gather``, ``/twilio/no-input``, ``/twilio/record``,
``/twilio/dial`` (the outcome of a turn's waiting verb, with ``?turn=N``), ``/twilio/status`` and
``/twilio/recording-status`` (asynchronous callbacks, answered with an empty 200).

The officer's leg of a warm transfer has its own: ``/twilio/whisper`` (the summary and "press
1", run on the officer's phone while the caller hears ringing), ``/twilio/whisper-reply`` (the
key) and ``/twilio/officer-status`` (the leg's progress, which extends or frees its slot).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from redis.exceptions import RedisError

from ivr.compliance.blocklist import Blocklist
from ivr.compliance.repeats import RepeatCallers
from ivr.deployment import Setup, TrackingNumber
from ivr.dni.pool import NumberPool
from ivr.engine import UnexpectedEvent, new_call
from ivr.engine.actions import Action, Hangup
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
    VoiceUnavailable,
)
from ivr.engine.state import CallState, TransferAttempt, VisitAttribution
from ivr.engine.transfer import ACCEPT_KEY, whisper_text
from ivr.flows.schema import AskStep, TransferStep
from ivr.logs import fields
from ivr.metrics import ServerMetrics
from ivr.qualifier import Qualifier
from ivr.records.journal import IDEMPOTENCY_HEADER, CallbackSource, RecordJournal
from ivr.routing.router import Router
from ivr.telephony.call_store import CallStore, StoredCall
from ivr.telephony.recording_events import RecordingEvents
from ivr.telephony.twilio.twiml import (
    message,
    render,
    still_listening,
    turn_urls,
    whisper,
    whisper_reply,
)
from ivr.telephony.voice_answers import VoiceAnswers
from ivr.turns import take_turn

log = logging.getLogger(__name__)

Form = MultiDictProxy[str | Any]
Clock = Callable[[], float]

UNKNOWN_NUMBER = (
    "Thank you for calling. This number is not in service at the moment. Please check the "
    "number in the advertisement and try again. Goodbye."
)
TECHNICAL_TROUBLE = (
    "We're sorry, we are having technical difficulties. Please call back in a few minutes."
)
TECHNICAL_TROUBLE_TRANSFER = (
    "We're sorry, we are having technical difficulties. Please hold while we connect you."
)
REFUSED = "We're sorry, we are unable to take your call. Goodbye."
STILL_LISTENING = "One moment."
FILLER_VOICE = "Polly.Joanna"
ENDED_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
MAX_WRITE_ATTEMPTS = 8
RENDERED_TURNS_KEPT = 1024


class TwilioWebhooks:
    """The webhook handlers, bound to one deployment, one call store and a clock."""

    def __init__(
        self,
        setup: Setup,
        store: CallStore,
        recordings: RecordingEvents,
        public_base: str,
        clock: Clock,
        voice_wait_s: float = 2.5,
        voice_budget_s: float = 6.0,
    ) -> None:
        self.setup = setup
        self.store = store
        self.recordings = recordings
        self.public_base = public_base
        self.clock = clock
        self.voice: VoiceAnswers | None = None
        """Set at start-up when a Whisper model is loaded; None: voice asks use the keypad."""
        self.qualifier = Qualifier(None)
        """Replaced at start-up by one with the intent model, when it is there."""
        self.router: Router | None = None
        """Set by the application; None: transfers find nobody and take the flow's fallback."""
        self.blocklist = Blocklist.empty()
        self.repeats: RepeatCallers | None = None
        self.journal: RecordJournal | None = None
        """Set by the application: carrier callbacks are journaled for the call records."""
        self.metrics: ServerMetrics | None = None
        """Set by the application: calls are counted by outcome when their end is stored."""
        self.numbers: NumberPool | None = None
        """Set by the application: calls to web pool numbers are attributed to their visit."""
        self.voice_wait_s = voice_wait_s
        self.voice_budget_s = voice_budget_s
        # Every call of a flow goes through the same turns (the same prompts at the same turn
        # numbers), and actions are immutable values: render each distinct turn's TwiML once.
        self._rendered = lru_cache(maxsize=RENDERED_TURNS_KEPT)(self._render_turn)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/twilio/voice", self.incoming),
            web.post("/twilio/gather", self.gathered),
            web.post("/twilio/no-input", self.no_input),
            web.post("/twilio/record", self.recorded),
            web.post("/twilio/dial", self.dialled),
            web.post("/twilio/voice-answer", self.voice_answered),
            web.post("/twilio/voice-wait", self.voice_waited),
            web.post("/twilio/status", self.call_status),
            web.post("/twilio/recording-status", self.recording_status),
            web.post("/twilio/whisper", self.officer_answered),
            web.post("/twilio/whisper-reply", self.officer_replied),
            web.post("/twilio/officer-status", self.officer_status),
        ]

    # -- a call arrives ---------------------------------------------------------------------

    async def incoming(self, request: web.Request) -> web.Response:
        form = await request.post()
        call_sid = _required(form, "CallSid")
        called = str(form.get("To", ""))
        number = self.setup.number(called)
        if number is None:
            log.info("call to unknown number", extra=fields(call_sid=call_sid, called=called))
            await self._turned_away(call_sid, "unknown_number")
            return _twiml(message(UNKNOWN_NUMBER))
        campaign = self.setup.campaign(number.campaign)
        flow = self.setup.flows[campaign.flow]
        caller = str(form.get("From", ""))
        if caller in self.blocklist:
            log.info("call refused: blocklist", extra=fields(call_sid=call_sid, caller=caller))
            await self._turned_away(call_sid, "refused")
            return _twiml(message(REFUSED))
        caller_state = str(form.get("FromState", "")) or None
        try:
            repeat = await self._repeat(caller, campaign.id)
            context = self.setup.call_context(
                number,
                caller,
                caller_state,
                voice=self.voice is not None,
                repeat=repeat,
                attribution=await self._visit(number),
            )
            started = CallStarted(at=self.clock(), context=context)
            state, actions = await take_turn(
                flow, new_call(flow, call_sid, started), started, self.qualifier, self.router
            )
            twiml = self._render(actions, state.turn)
            if not await self.store.create(state, twiml):  # a retried first webhook
                await self._give_back(state.transfers, state.caller.number)
                existing = await self.store.get(call_sid)
                return _twiml(existing.twiml if existing else twiml)
            if state.status == "ended":  # a flow that ends on its first turn
                self._ended(state.outcome)
        except RedisError:
            log.exception("call state unavailable", extra=fields(call_sid=call_sid))
            return _twiml(self._trouble(called))
        log.info(
            "call started",
            extra=fields(call_sid=call_sid, caller=started.context.caller, campaign=campaign.id),
        )
        return _twiml(twiml)

    async def _visit(self, number: TrackingNumber) -> VisitAttribution | None:
        """The web visit a pool number is on lease to now; None: the campaign alone."""
        if not number.web_pool or self.numbers is None:
            return None
        return await self.numbers.visit(number.campaign, number.number, self.clock())

    # -- the outcome of a turn --------------------------------------------------------------

    async def gathered(self, request: web.Request) -> web.Response:
        return await self._turn(request, _gather_event)

    async def no_input(self, request: web.Request) -> web.Response:
        return await self._turn(request, lambda form, at: NoInput(at))

    async def recorded(self, request: web.Request) -> web.Response:
        return await self._turn(request, _record_event)

    async def dialled(self, request: web.Request) -> web.Response:
        return await self._turn(request, _dial_event)

    async def _turn(
        self, request: web.Request, make_event: Callable[[Form, float], Event]
    ) -> web.Response:
        form = await request.post()
        call_sid = _required(form, "CallSid")
        return await self._apply(
            form, call_sid, _turn_number(request), make_event(form, self.clock())
        )

    async def _apply(
        self, form: Form, call_sid: str, turn: int | None, event: Event
    ) -> web.Response:
        try:
            twiml = await self._advance(call_sid, event, turn)
        except RedisError:
            log.exception("call state unavailable", extra=fields(call_sid=call_sid))
            return _twiml(self._trouble(str(form.get("To", ""))))
        if twiml is None:
            log.warning("webhook for unknown call", extra=fields(call_sid=call_sid))
            return _twiml(self._trouble(str(form.get("To", ""))))
        return _twiml(twiml)

    # -- spoken (voice) answers -------------------------------------------------------------

    async def voice_answered(self, request: web.Request) -> web.Response:
        """A short ``<Record>`` ended: a key, silence, a hang-up, or speech to transcribe."""
        form = await request.post()
        call_sid = _required(form, "CallSid")
        turn = _turn_number(request)
        at = self.clock()
        event = _listen_event(form, at)
        if event is not None or self.voice is None or turn is None:
            return await self._apply(form, call_sid, turn, event or VoiceUnavailable(at))
        try:
            stored = await self.store.get(call_sid)
            if stored is not None and stored.state.turn == turn:
                prompt = self._whisper_prompt(stored.state)
                await self.voice.start(call_sid, turn, str(form["RecordingUrl"]), prompt)
        except RedisError:
            log.exception("call state unavailable", extra=fields(call_sid=call_sid))
            return _twiml(self._trouble(str(form.get("To", ""))))
        return await self._voice_result(form, call_sid, turn, at + self.voice_budget_s)

    async def voice_waited(self, request: web.Request) -> web.Response:
        form = await request.post()
        call_sid = _required(form, "CallSid")
        turn = _turn_number(request)
        try:
            deadline = float(request.query["deadline"])
        except (KeyError, ValueError):
            raise web.HTTPBadRequest(text="Invalid deadline.\n") from None
        if turn is None or self.voice is None:
            return await self._apply(form, call_sid, turn, VoiceUnavailable(self.clock()))
        return await self._voice_result(form, call_sid, turn, deadline)

    async def _voice_result(
        self, form: Form, call_sid: str, turn: int, deadline: float
    ) -> web.Response:
        """Wait for the transcript; come back for it while the budget lasts, then the keypad."""
        assert self.voice is not None
        wait = min(self.voice_wait_s, deadline - self.clock())
        try:
            result = await self.voice.result(call_sid, turn, wait)
        except RedisError:
            log.exception("call state unavailable", extra=fields(call_sid=call_sid))
            return _twiml(self._trouble(str(form.get("To", ""))))
        at = self.clock()
        event: Event
        if result is None and at < deadline:
            wait_url = turn_urls(self.public_base, turn).voice_wait + f"&deadline={deadline:.3f}"
            return _twiml(still_listening(STILL_LISTENING, FILLER_VOICE, wait_url))
        if result is None or result.failed:
            event = VoiceUnavailable(at)
        elif not result.text:
            event = NoInput(at)
        else:
            event = SpeechHeard(
                at, result.text, result.confidence, result.recording, result.signals
            )
        return await self._apply(form, call_sid, turn, event)

    def _whisper_prompt(self, state: CallState) -> str | None:
        """The ask's hints steer Whisper toward the words it expects (None: the domain prompt)."""
        flow = self.setup.flows.get(state.flow)
        current = flow.step(state.step) if flow and state.step else None
        if isinstance(current, AskStep) and current.hints:
            return ", ".join(current.hints) + "."
        return None

    async def _advance(self, call_sid: str, event: Event, turn: int | None) -> str | None:
        """Apply ``event`` with compare-and-set; a stale or repeated turn gets the last answer."""
        stored: StoredCall | None = None
        for _ in range(MAX_WRITE_ATTEMPTS):
            stored = await self.store.get(call_sid)
            if stored is None:
                return None
            if turn is not None and turn != stored.state.turn:
                return stored.twiml
            flow = self.setup.flows.get(stored.state.flow)
            if flow is None:
                return None
            try:
                state, actions = await take_turn(
                    flow, stored.state, event, self.qualifier, self.router
                )
            except UnexpectedEvent:
                return stored.twiml
            if not actions and state.status == "ended":
                actions = [Hangup()]  # what any late webhook of this call will be answered
            twiml = self._render(actions, state.turn)
            if state == stored.state and twiml == stored.twiml:
                # Nothing happened (a repeated status callback of an ended call): writing would
                # only bump the version and journal a duplicate revision of the same state.
                return twiml
            if await self.store.replace(stored, state, twiml):
                self._log_progress(stored.state, state)
                return twiml
            unused = state.transfers[len(stored.state.transfers) :]
            await self._give_back(unused, state.caller.number)
        log.warning("call state contended; answering last turn", extra=fields(call_sid=call_sid))
        return stored.twiml if stored else None

    # -- the officer's leg of a warm transfer ------------------------------------------------

    async def officer_answered(self, request: web.Request) -> web.Response:
        """The officer picked up: brief them while the caller hears ringing."""
        form = await request.post()
        parent = _required(form, "ParentCallSid")
        found = await self._transferring(parent, _turn_number(request))
        if found is None:  # the caller left, or this leg is stale: never bridge into nothing
            return _twiml(whisper_reply(False, FILLER_VOICE))
        state, step = found
        flow = self.setup.flows[state.flow]
        attempt = state.open_transfer
        assert attempt is not None
        if self.router is not None:
            try:
                await self.router.answered(attempt.claim)
            except RedisError:  # the slot keeps its first lease; the officer still hears the call
                log.exception("routing state unavailable", extra=fields(call_sid=parent))
        reply_url = turn_urls(self.public_base, state.turn).whisper_reply
        return _twiml(whisper(whisper_text(flow, state, step), flow.defaults.voice, reply_url))

    async def officer_replied(self, request: web.Request) -> web.Response:
        """The officer's key: 1 takes the call (the legs bridge), anything else passes."""
        form = await request.post()
        parent = _required(form, "ParentCallSid")
        found = await self._transferring(parent, _turn_number(request))
        accepted = found is not None and str(form.get("Digits", "")) == ACCEPT_KEY
        log.info("officer replied", extra=fields(call_sid=parent, accepted=accepted))
        if found is not None and accepted:
            await self._journal_acceptance(request, form, found[0])
        return _twiml(whisper_reply(accepted, FILLER_VOICE))

    async def _journal_acceptance(self, request: web.Request, form: Form, state: CallState) -> None:
        """Record that the officer took the call, as it happens: the carrier reports the bridge
        only when the officer's leg ends, and a buyer's CRM wants the transfer now. Never holds
        up the bridge: a journal that cannot be reached is logged and the call goes on."""
        attempt = state.open_transfer
        if self.journal is None or attempt is None:
            return
        params = {**form, "Officer": attempt.officer, "Attempt": len(state.transfers) - 1}
        try:
            await self.journal.callback(
                "officer-reply", params, request.headers.get(IDEMPOTENCY_HEADER)
            )
        except RedisError:
            log.exception("records journal unavailable", extra=fields(source="officer-reply"))

    async def officer_status(self, request: web.Request) -> web.Response:
        """The officer leg's progress: answered keeps its slot for the bridge, an end frees it."""
        form = await request.post()
        _required(form, "CallSid")
        claim = request.query.get("claim", "")
        status = str(form.get("CallStatus", ""))
        await self._journal("officer-status", request, form)
        if self.router is not None and claim:
            try:
                if status == "in-progress":
                    await self.router.answered(claim)
                elif status in ENDED_STATUSES:
                    await self.router.leg_ended(claim)
            except RedisError:
                log.exception("routing state unavailable", extra=fields(claim=claim))
                raise web.HTTPServiceUnavailable(text="Routing state unavailable.\n") from None
        return web.Response(status=200)

    async def _transferring(
        self, parent_sid: str, turn: int | None
    ) -> tuple[CallState, TransferStep] | None:
        """The parent call and its transfer step, if this turn's officer is still being tried."""
        try:
            stored = await self.store.get(parent_sid)
        except RedisError:
            log.exception("call state unavailable", extra=fields(call_sid=parent_sid))
            return None
        if stored is None or stored.state.status != "active" or stored.state.turn != turn:
            return None
        state = stored.state
        flow = self.setup.flows.get(state.flow)
        step = flow.step(state.step) if flow and state.step else None
        if not isinstance(step, TransferStep) or state.open_transfer is None:
            return None
        return state, step

    async def _give_back(self, unused: Sequence[TransferAttempt], caller: str) -> None:
        """A turn whose state was not written claimed officers nobody will dial: free them."""
        if self.router is None:
            return
        for attempt in unused:
            await self.router.settle(attempt.claim, attempt.officer, caller, False)

    async def _repeat(self, caller: str, campaign_id: str) -> bool:
        policy = self.setup.campaign(campaign_id).duplicates
        if self.repeats is None:
            return False
        return await self.repeats.arrived(
            caller, campaign_id, policy.window_h, policy.across_campaigns
        )

    # -- asynchronous callbacks -------------------------------------------------------------

    async def call_status(self, request: web.Request) -> web.Response:
        form = await request.post()
        call_sid = _required(form, "CallSid")
        status = str(form.get("CallStatus", ""))
        await self._journal("status", request, form)
        if status in ENDED_STATUSES:
            try:
                await self._advance(call_sid, CallerHungUp(self.clock()), None)
            except RedisError:
                log.exception("call state unavailable", extra=fields(call_sid=call_sid))
                raise web.HTTPServiceUnavailable(text="Call state unavailable.\n") from None
        return web.Response(status=200)

    async def recording_status(self, request: web.Request) -> web.Response:
        form = await request.post()
        call_sid = _required(form, "CallSid")
        recording_sid = _required(form, "RecordingSid")
        await self._journal("recording-status", request, form)
        if form.get("RecordingStatus") == "completed":
            keys = (
                "RecordingUrl",
                "RecordingDuration",
                "RecordingChannels",
                "RecordingSource",
                "RecordingStartTime",
                "RecordingTrack",
            )
            entry = {"CallSid": call_sid, "RecordingSid": recording_sid}
            entry.update({key: str(form[key]) for key in keys if key in form})
            await self.recordings.enqueue(recording_sid, entry)
        return web.Response(status=200)

    async def _journal(self, source: CallbackSource, request: web.Request, form: Form) -> None:
        """Keep the callback for the call's record before it is answered (503 if we cannot)."""
        if self.journal is None:
            return
        try:
            await self.journal.callback(source, form, request.headers.get(IDEMPOTENCY_HEADER))
        except RedisError:
            log.exception("records journal unavailable", extra=fields(source=source))
            raise web.HTTPServiceUnavailable(text="Records unavailable.\n") from None

    # -- helpers ----------------------------------------------------------------------------

    def _render(self, actions: Sequence[Action], turn: int) -> str:
        """The TwiML for an engine turn's actions (from the cache when this turn was seen)."""
        return self._rendered(tuple(actions), turn)

    def _render_turn(self, actions: tuple[Action, ...], turn: int) -> str:
        return render(actions, turn_urls(self.public_base, turn))

    def _trouble(self, called: str) -> str:
        """A defined place for the caller when the call cannot continue normally."""
        number = self.setup.number(called)
        fallback = self.setup.campaign(number.campaign).fallback_number if number else None
        if fallback:
            return message(TECHNICAL_TROUBLE_TRANSFER, then_dial=fallback)
        return message(TECHNICAL_TROUBLE)

    def _log_progress(self, before: CallState, after: CallState) -> None:
        scored = after.qualification
        if scored is not None and scored != before.qualification:
            log.info(
                "call scored",
                extra=fields(
                    call_sid=after.call_sid,
                    intent=scored.intent,
                    score=scored.score,
                    qualified=scored.qualified,
                ),
            )
        if after.status == "ended" and before.status != "ended":
            log.info("call ended", extra=fields(call_sid=after.call_sid, outcome=after.outcome))
            self._ended(after.outcome)

    async def _turned_away(self, call_sid: str, outcome: str) -> None:
        """Count a call answered at its door once, however often Twilio retries that webhook;
        with Redis unreachable it is counted (twice, at worst, rather than never)."""
        try:
            first = await self.store.first_answer(call_sid)
        except RedisError:
            first = True
        if first:
            self._ended(outcome)

    def _ended(self, outcome: str | None) -> None:
        """Count a call's end once: callers only pass a stored transition (compare-and-set won)
        or a first webhook answered without any state."""
        if self.metrics is not None:
            self.metrics.call_ended(outcome)


def _twiml(body: str) -> web.Response:
    return web.Response(text=body, content_type="application/xml")


def _required(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    if not value or not isinstance(value, str):
        raise web.HTTPBadRequest(text=f"Missing form parameter {name}.\n")
    return value


def _turn_number(request: web.Request) -> int | None:
    raw = request.query.get("turn")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise web.HTTPBadRequest(text="Invalid turn.\n") from None


def _gather_event(form: Form, at: float) -> Event:
    digits = str(form.get("Digits", "")).strip()
    speech = str(form.get("SpeechResult", "")).strip()
    if digits:
        return DigitsEntered(at, digits)
    if speech:
        return SpeechHeard(at, speech, _float(form.get("Confidence")))
    return NoInput(at)


def _listen_event(form: Form, at: float) -> Event | None:
    """What a voice ask's recording means without transcribing it; None: speech to transcribe."""
    digits = str(form.get("Digits", ""))
    if digits == "hangup":
        return CallerHungUp(at)
    if digits:
        return DigitsEntered(at, digits)
    duration = _float(form.get("RecordingDuration")) or 0.0
    if not form.get("RecordingUrl") or duration <= 0:
        return NoInput(at)
    return None


def _record_event(form: Form, at: float) -> Event:
    url = str(form.get("RecordingUrl", ""))
    duration = _float(form.get("RecordingDuration")) or 0.0
    if url and duration > 0:
        # Also when Digits=hangup: a message left before hanging up is still a message.
        return RecordingFinished(at, url, duration)
    return CallerHungUp(at) if form.get("Digits") == "hangup" else NoInput(at)


_DIAL_OUTCOMES: dict[str, TransferOutcome] = {
    "busy": "busy",
    "no-answer": "no_answer",
    "failed": "failed",
    "canceled": "canceled",
}


def _dial_event(form: Form, at: float) -> Event:
    status = str(form.get("DialCallStatus", ""))
    duration = _float(form.get("DialCallDuration")) or 0.0
    # The action carries the parent's status: "completed" here means the caller has gone.
    caller_left = str(form.get("CallStatus", "")) in ENDED_STATUSES
    if status in ("completed", "answered"):
        bridged = str(form.get("DialBridged", "")).lower() == "true"
        # completed + DialBridged=false: the officer answered but declined (or a screen failed).
        outcome: TransferOutcome = "bridged" if bridged else "declined"
        return TransferEnded(at, outcome, duration, caller_left)
    return TransferEnded(at, _DIAL_OUTCOMES.get(status, "failed"), duration, caller_left)


def _float(value: object) -> float | None:
    """A number Twilio sent, or None: NaN and infinity are refused too (pydantic stores them as
    null, and a call state with null for a duration no longer loads)."""
    try:
        number = float(str(value)) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
