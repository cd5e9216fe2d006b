"""What a simulated call produced: requests made, prompts heard, inputs given, how it ended.

These records are plain data so tests, the terminal simulator and the load benchmark can all read
them without knowing how the carrier works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Leg = Literal["caller", "officer"]
HeardKind = Literal["say", "play", "pause", "beep", "carrier"]
EndReason = Literal[
    "app-hangup",  # <Hangup/>
    "end-of-document",  # the TwiML ran out of verbs
    "caller-hangup",  # the caller hung up at a prompt, while recording or during the transfer
    "rejected",  # <Reject/> before the call was answered
    "application-error",  # a fetch failed (5xx, timeout, bad TwiML) and no fallback rescued it
    "request-limit",  # the per-call request cap stopped a looping app
]


@dataclass(frozen=True, slots=True)
class CallGeo:
    """Caller-ID lookup data Twilio sends as From*/To* (and Caller*/Called*) parameters."""

    from_city: str = "AUSTIN"
    from_state: str = "TX"
    from_zip: str = "78701"
    from_country: str = "US"
    to_city: str = ""
    to_state: str = ""
    to_zip: str = ""
    to_country: str = "US"


@dataclass(frozen=True, slots=True)
class Heard:
    """One thing played on a leg: a <Say> text, a <Play> URL, a <Pause>, the record beep."""

    kind: HeardKind
    text: str | None = None
    url: str | None = None
    voice: str | None = None
    language: str | None = None
    loop: int = 1
    seconds: float = 0.0
    leg: Leg = "caller"

    def describe(self) -> str:
        if self.kind in ("say", "carrier"):
            return self.text or ""
        if self.kind == "play":
            return f"<play {self.url}>"
        if self.kind == "pause":
            return f"<pause {self.seconds:g}s>"
        return "<beep>"


@dataclass(slots=True)
class RequestRecord:
    """One HTTP request the carrier made, as the app saw it and as the carrier got the answer."""

    kind: str  # voice, gather-action, redirect, record-action, dial-action, whisper, fallback, ...
    url: str  # the public URL that was signed (without a connection-override fragment)
    sent_to: str  # where the bytes actually went (a backend when load-balancing)
    method: str
    params: dict[str, str]
    call_sid: str
    signature: str
    idempotency_token: str
    status: int | None = None  # None: no HTTP answer (timeout, connection error)
    elapsed_s: float = 0.0
    body: str = ""
    error: str | None = None  # the transport failure, if any

    @property
    def path(self) -> str:
        rest = self.url.split("://", 1)[-1]
        slash = rest.find("/")
        return "/" if slash < 0 else rest[slash:].split("?", 1)[0]


@dataclass(frozen=True, slots=True)
class InputRecord:
    """An answer the caller (or the dialled officer) gave at a prompt."""

    prompt: Literal["gather", "record", "dial"]
    leg: Leg
    value: object  # the Digits/Speech/Silence/HangUp/RecordInput/DialOutcome object


@dataclass(frozen=True, slots=True)
class RecordingRecord:
    recording_sid: str
    url: str  # RecordingUrl as sent (no extension)
    duration_s: int
    digits: str | None  # the key that ended it, "hangup", or None (silence timeout)


@dataclass(frozen=True, slots=True)
class DialRecord:
    """One <Dial>: what the dialled party did and what the carrier reported for it."""

    number: str
    dial_call_sid: str
    dial_call_status: str  # completed, busy, no-answer, failed, canceled
    bridged: bool
    duration_s: int | None  # DialCallDuration when sent
    whisper_ended_by: EndReason | None  # how the <Number url> document ended, if it ran
    recorded: bool = False  # the <Dial record> asked for the bridged call to be recorded


@dataclass(slots=True)
class CallRecord:
    """Everything that happened on one simulated call."""

    call_sid: str
    from_number: str
    to_number: str
    requests: list[RequestRecord] = field(default_factory=list)
    heard: list[Heard] = field(default_factory=list)
    inputs: list[InputRecord] = field(default_factory=list)
    recordings: list[RecordingRecord] = field(default_factory=list)
    dials: list[DialRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ended_by: EndReason | None = None
    error_code: int | None = None  # Twilio error code of the application error, if any
    call_status: str = "completed"  # final CallStatus of the inbound leg
    duration_s: int = 0  # CallDuration

    @property
    def said(self) -> list[str]:
        """Texts spoken to the caller, in order."""
        return [h.text or "" for h in self.heard if h.kind == "say" and h.leg == "caller"]

    @property
    def transfer(self) -> DialRecord | None:
        """The last <Dial> of the call, if any."""
        return self.dials[-1] if self.dials else None

    def requests_to(self, path: str) -> list[RequestRecord]:
        """Requests whose URL path is `path`, in the order they completed."""
        return [r for r in self.requests if r.path == path]

    def requests_of(self, kind: str) -> list[RequestRecord]:
        return [r for r in self.requests if r.kind == kind]
