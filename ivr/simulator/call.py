"""One simulated call: fetches TwiML for a leg and runs its verbs in order, as Twilio does.

Simulated time: the call's clock starts at `config.clock()` and advances by what the line carries
rather than by real time: a <Say> at 2.5 words a second, <Pause> lengths, the Gather timeout when
the caller stays silent (about a second for an answer), recording lengths, ringing and the
transfer's talk time. CallDuration, Timestamp and the dial durations come from it, so they are
deterministic in tests and realistic in a benchmark.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from typing import Literal

from ivr.simulator.caller import Caller, Digits, HangUp, RecordInput, ScriptError, Silence, Speech
from ivr.simulator.config import CarrierConfig
from ivr.simulator.legs import SIP_CODES, CallEnded, Fetch, LegState, Step, collect_digits, rfc2822
from ivr.simulator.media import MediaServer, wav_duration, wav_file_duration
from ivr.simulator.model import CallGeo, CallRecord, EndReason, Heard, InputRecord, RecordingRecord
from ivr.simulator.transfer import run_dial
from ivr.simulator.twiml_reader import (
    Dial,
    Gather,
    Hangup,
    Pause,
    Play,
    Prompt,
    Record,
    Redirect,
    Reject,
    Say,
    TwimlError,
    Unsupported,
    Verb,
    parse_twiml,
)
from ivr.simulator.webhooks import CallbackDispatcher, Outgoing, Reply, Transport, resolve

APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
ERR_DOCUMENT_PARSE = 12100
ERR_CONTENT_TYPE = 12300
WORDS_PER_SECOND = 2.5
_TWIML_TYPES = frozenset({"text/xml", "application/xml", "text/html"})


class NotTwimlError(TwimlError):
    """The answer's Content-Type is not one Twilio runs as TwiML (error 12300)."""


class Call:
    def __init__(
        self,
        *,
        config: CarrierConfig,
        transport: Transport,
        media: MediaServer,
        rng: random.Random,
        caller: Caller,
        from_number: str,
        to_number: str,
        geo: CallGeo,
    ) -> None:
        self.config = config
        self.transport = transport
        self.media = media
        self.rng = rng
        self.caller = caller
        self._started = config.clock()
        self._offset = 0.0
        self._answered_at: float | None = None
        self._reject_status = "completed"
        self._parent_seq = 0
        self._twiml_requests = 0
        self.leg = LegState(self.new_sid("CA"), from_number, to_number, geo)
        self.record = CallRecord(self.leg.call_sid, from_number, to_number)
        self.dispatcher = CallbackDispatcher(
            transport,
            self.record.requests,
            duplicate=config.duplicate_status_callbacks,
            shuffle=config.shuffle_status_callbacks,
            rng=rng,
            duplicate_rate=config.duplicate_rate,
        )

    # -- helpers shared with the transfer module ------------------------------------------------

    def new_sid(self, prefix: str) -> str:
        return f"{prefix}{self.rng.getrandbits(128):032x}"

    def new_token(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def now(self) -> float:
        return self.config.clock() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += max(0.0, seconds)

    def hear(self, leg: LegState, heard: Heard) -> None:
        leg.heard.append(heard)
        self.record.heard.append(heard)

    def note_input(
        self, prompt: Literal["gather", "record", "dial"], leg: LegState, value: object
    ) -> None:
        self.record.inputs.append(InputRecord(prompt, leg.leg, value))
        leg.heard.clear()

    def callback(
        self, kind: str, url: str, method: str, params: dict[str, str], *, status: bool
    ) -> None:
        """Queue an asynchronous callback (status callbacks honour duplicate/shuffle)."""
        out = Outgoing(kind, url, method, params, params["CallSid"], self.new_token())
        scrambled = kind == "recording-status-callback" and self.config.scramble_recording_callbacks
        self.dispatcher.submit(out, status_callback=status or scrambled)

    # -- the call ---------------------------------------------------------------------------------

    async def run(self) -> CallRecord:
        try:
            self._parent_event("ringing", "ringing")
            cfg = self.config
            first = Fetch(cfg.voice_url, cfg.voice_method, {}, "voice")
            end = await self.run_leg(self.leg, self.caller, first)
            self._finish(end)
            await self.dispatcher.drain()
        except BaseException as exc:
            self.dispatcher.cancel()
            if isinstance(exc, ScriptError):
                exc.add_note(f"call {self.record.call_sid}: {len(self.record.requests)} requests")
                exc.record = self.record
            raise
        return self.record

    def _finish(self, end: EndReason) -> None:
        answered = self._answered_at is not None
        status = "completed" if answered else self._reject_status
        duration = 0
        if self._answered_at is not None:
            duration = int(self.now() - self._answered_at + 0.5)
        self.record.ended_by = end
        self.record.call_status = status
        self.record.duration_s = duration
        extra = {"CallDuration": str(duration), "SipResponseCode": str(SIP_CODES.get(status, 200))}
        if status == "completed":
            extra["Duration"] = str(max(1, math.ceil(duration / 60)))
        self._parent_event("completed", status, extra)

    def _parent_event(
        self, event: str, call_status: str, extra: dict[str, str] | None = None
    ) -> None:
        cfg = self.config
        if cfg.status_callback_url is None or event not in cfg.status_callback_events:
            return
        params = self.leg.params(cfg.account_sid) | {
            "CallStatus": call_status,
            "Timestamp": rfc2822(self.now()),
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(self._parent_seq),
        }
        self._parent_seq += 1
        url = resolve(cfg.voice_url, cfg.status_callback_url)
        self.callback(
            "status-callback", url, cfg.status_callback_method, params | (extra or {}), status=True
        )

    def _answer(self, leg: LegState) -> None:
        if leg is self.leg and self._answered_at is None:
            self._answered_at = self.now()
            leg.status = "in-progress"
            self._parent_event("answered", "in-progress")

    async def run_leg(self, leg: LegState, actor: Caller, request: Fetch) -> EndReason:
        """Fetch and run documents on `leg` until it ends; returns how it ended."""
        try:
            while True:
                if request.then_end is not None:
                    await self._request(leg, request)
                    return request.then_end
                verbs, document_url = await self._fetch(leg, request)
                step: Step = None
                for verb in verbs:
                    step = await self._verb(leg, actor, verb, document_url)
                    if step is not None:
                        break
                if step is None:
                    return "end-of-document"
                if not isinstance(step, Fetch):
                    return step
                request = step
        except CallEnded as ended:
            return ended.reason

    async def _request(self, leg: LegState, request: Fetch) -> Reply:
        if self._twiml_requests >= self.config.max_requests_per_call:
            self.record.warnings.append(
                f"stopped after {self._twiml_requests} TwiML requests (max_requests_per_call)"
            )
            raise CallEnded("request-limit")
        self._twiml_requests += 1
        base = leg.params(self.config.account_sid)
        out = Outgoing(
            request.kind,
            request.url,
            request.method,
            base | request.extra,
            leg.call_sid,
            self.new_token(),
            base,
        )
        return await self.transport.send(
            out, self.record.requests, leg.cookies, follow_redirects=True
        )

    async def _fetch(self, leg: LegState, request: Fetch) -> tuple[tuple[Verb, ...], str]:
        reply = await self._request(leg, request)
        code = reply.error_code
        verbs: tuple[Verb, ...] = ()
        if code is None:
            try:
                verbs = self._interpret(reply)
            except TwimlError as exc:
                code = ERR_CONTENT_TYPE if isinstance(exc, NotTwimlError) else ERR_DOCUMENT_PARSE
                self.record.warnings.append(f"{reply.url}: {exc}")
        if code is None:
            return verbs, reply.url
        cfg = self.config
        if (
            leg is self.leg
            and cfg.fallback_url is not None
            and request.kind != "fallback"
            and (request.kind == "voice" or cfg.fallback_on_action_errors)
        ):
            extra = request.extra | {"ErrorCode": str(code), "ErrorUrl": reply.url}
            fallback = Fetch(
                resolve(cfg.voice_url, cfg.fallback_url), cfg.fallback_method, extra, "fallback"
            )
            return await self._fetch(leg, fallback)
        self._answer(leg)
        self.hear(leg, Heard("carrier", text=APPLICATION_ERROR, leg=leg.leg))
        if leg is self.leg:
            self.record.error_code = code
        else:
            self.record.warnings.append(f"application error {code} on the {leg.leg} leg")
        raise CallEnded("application-error", code)

    @staticmethod
    def _interpret(reply: Reply) -> tuple[Verb, ...]:
        content_type = reply.content_type
        if content_type.startswith("audio/"):
            return (Play(reply.url),)  # played, then the call hangs up
        if content_type in _TWIML_TYPES:
            return parse_twiml(reply.body)
        if content_type == "text/plain":
            try:
                return parse_twiml(reply.body)
            except TwimlError:
                return (Say(reply.body.decode("utf-8", "replace").strip()),)
        raise NotTwimlError(f"Content-Type {content_type!r} is not TwiML")

    # -- verbs ------------------------------------------------------------------------------------

    def _play(self, leg: LegState, prompt: Prompt) -> None:
        if isinstance(prompt, Say):
            loops = max(1, prompt.loop)
            heard = Heard(
                "say", prompt.text, None, prompt.voice, prompt.language, loops, leg=leg.leg
            )
            self.advance(len(prompt.text.split()) / WORDS_PER_SECOND * loops)
        elif isinstance(prompt, Play):
            heard = Heard("play", url=prompt.url, loop=max(1, prompt.loop), leg=leg.leg)
        else:
            heard = Heard("pause", seconds=prompt.length, leg=leg.leg)
            self.advance(prompt.length)
        self.hear(leg, heard)

    async def _verb(self, leg: LegState, actor: Caller, verb: Verb, document_url: str) -> Step:
        if isinstance(verb, Reject):
            if leg is self.leg and self._answered_at is None:
                self._reject_status = "busy" if verb.reason == "busy" else "no-answer"
            return "rejected"
        if isinstance(verb, Unsupported):
            self.record.warnings.append(f"<{verb.name}> is not simulated; skipped")
            return None
        self._answer(leg)
        if isinstance(verb, Say | Play | Pause):
            self._play(leg, verb)
            return None
        if isinstance(verb, Gather):
            return await self._gather(leg, actor, verb, document_url)
        if isinstance(verb, Redirect):
            return Fetch(resolve(document_url, verb.url), verb.method, {}, "redirect")
        if isinstance(verb, Hangup):
            return "app-hangup"
        if leg is not self.leg:
            self.record.warnings.append(f"<{type(verb).__name__}> is not allowed in a whisper")
            return None
        if isinstance(verb, Record):
            return await self._record(leg, actor, verb, document_url)
        assert isinstance(verb, Dial)
        return await run_dial(self, leg, verb, document_url)

    async def _gather(self, leg: LegState, actor: Caller, verb: Gather, document_url: str) -> Step:
        for prompt in verb.prompts:
            self._play(leg, prompt)
        answer = await actor.gather(list(leg.heard), verb)
        self.note_input("gather", leg, answer)
        if isinstance(answer, HangUp):
            return "caller-hangup"
        extra: dict[str, str] | None = None
        if isinstance(answer, Digits) and verb.accepts_dtmf:
            digits, finished_on = collect_digits(answer.keys, verb)
            if digits:
                extra = {"Digits": digits, "FinishedOnKey": finished_on}
                self.advance(1.0)
        elif isinstance(answer, Speech) and verb.accepts_speech and answer.text:
            extra = {"SpeechResult": answer.text}
            if answer.confidence is not None:
                extra["Confidence"] = str(answer.confidence)
            self.advance(1.0 + len(answer.text.split()) / WORDS_PER_SECOND)
        if extra is None:  # no input: Twilio makes no request and falls through
            self.advance(verb.timeout)
            if not verb.action_on_empty_result:
                return None
            extra = {}
        action = resolve(document_url, verb.action or document_url)
        return Fetch(action, verb.method, extra, "gather-action")

    async def _record(self, leg: LegState, actor: Caller, verb: Record, document_url: str) -> Step:
        if verb.play_beep:
            self.hear(leg, Heard("beep", leg=leg.leg))
        answer = await actor.record(list(leg.heard), verb)
        self.note_input("record", leg, answer)
        if isinstance(answer, HangUp):
            answer = RecordInput(None, 0.0, "hangup")
        elif isinstance(answer, Silence):
            answer = RecordInput(None, 0.0, None)
        duration = answer.duration_s
        if duration is None:
            if isinstance(answer.audio, bytes):
                duration = wav_duration(answer.audio)
            elif answer.audio is not None:
                duration = await asyncio.to_thread(wav_file_duration, answer.audio)
            else:
                duration = 0.0
        duration = min(duration, float(verb.max_length))
        seconds = int(duration + 0.5)
        hung_up = answer.finished_on_key == "hangup"
        if hung_up:
            leg.status = "completed"  # the action still goes out, for a call that has ended
        self.advance(duration + (verb.timeout if answer.finished_on_key is None else 0))
        if seconds == 0 and self.config.silent_recording_skips_action:
            return "caller-hangup" if hung_up else None
        sid = self.new_sid("RE")
        url = self.media.add(sid, answer.audio, duration)
        self.record.recordings.append(RecordingRecord(sid, url, seconds, answer.finished_on_key))
        self._recording_callbacks(leg, verb, document_url, sid, url, seconds)
        extra = {"RecordingUrl": url, "RecordingDuration": str(seconds)}
        if answer.finished_on_key is not None:
            extra["Digits"] = answer.finished_on_key
        action = resolve(document_url, verb.action or document_url)
        return Fetch(
            action, verb.method, extra, "record-action", "caller-hangup" if hung_up else None
        )

    def _recording_callbacks(
        self, leg: LegState, verb: Record, document_url: str, sid: str, url: str, seconds: int
    ) -> None:
        if verb.recording_status_callback is None:
            return
        target = resolve(document_url, verb.recording_status_callback)
        events = verb.recording_status_callback_events
        statuses = ["in-progress"] if "in-progress" in events else []
        if seconds == 0 and "absent" in events:
            statuses.append("absent")
        elif "completed" in events:
            statuses.append("completed")
        for status in statuses:
            params = {
                "AccountSid": self.config.account_sid,
                "CallSid": leg.call_sid,
                "RecordingSid": sid,
                "RecordingUrl": url,
                "RecordingStatus": status,
                "RecordingChannels": "1",
                "RecordingSource": "RecordVerb",
            }
            if status != "in-progress":
                params["RecordingDuration"] = str(seconds)
            method = verb.recording_status_callback_method
            self.callback("recording-status-callback", target, method, params, status=False)
