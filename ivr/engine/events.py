"""What can happen on a call, as the engine sees it — transport-agnostic and timestamped.

Adapters (Twilio, the terminal simulator) turn their inputs into these. Time is always carried by
the event (``at``, seconds since the epoch), so the engine never reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ivr.engine.state import VisitAttribution
from ivr.routing.decision import Decision
from scoring.qualification import Qualification, QualificationRules

TransferOutcome = Literal["bridged", "declined", "no_answer", "busy", "failed", "canceled"]


@dataclass(frozen=True)
class CallContext:
    """Facts about the call known when it arrives: who called, which number, which campaign."""

    caller: str
    called: str
    campaign: str
    publisher: str
    caller_state: str | None = None
    campaign_lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    voice: bool = False
    """Spoken answers can be transcribed on this call (a Whisper model is loaded)."""
    scoring: QualificationRules | None = None
    """The campaign's scoring rules; None: the defaults."""
    repeat: bool = False
    """The caller called this campaign (or any, where configured) inside its duplicate window."""
    attribution: VisitAttribution | None = None
    """The web visit the called number was on lease to when the call arrived."""


@dataclass(frozen=True)
class CallStarted:
    at: float
    context: CallContext


@dataclass(frozen=True)
class DigitsEntered:
    at: float
    digits: str


@dataclass(frozen=True)
class SpeechHeard:
    """Recognised speech: the carrier's (``recording`` None) or Whisper's, from a recording."""

    at: float
    text: str
    confidence: float | None = None
    recording: str | None = None
    signals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class VoiceUnavailable:
    """A spoken answer could not be transcribed in time: ask the question on the keypad."""

    at: float


@dataclass(frozen=True)
class NoInput:
    """The caller said and pressed nothing before the step's timeout."""

    at: float


@dataclass(frozen=True)
class RecordingFinished:
    at: float
    url: str
    duration_s: float


@dataclass(frozen=True)
class TransferEnded:
    at: float
    outcome: TransferOutcome
    duration_s: float = 0.0
    caller_left: bool = False
    """The caller hung up during the attempt: no next officer, the call is over."""


@dataclass(frozen=True)
class Routed:
    """The answer to a ``Route`` action: the officer claimed, or nobody and why."""

    at: float
    step: str
    decision: Decision


@dataclass(frozen=True)
class CallerHungUp:
    at: float


@dataclass(frozen=True)
class Scored:
    """The answer to a ``Score`` action: the intent, the score, and the reasons for it."""

    at: float
    step: str
    qualification: Qualification


Event = (
    CallStarted
    | DigitsEntered
    | SpeechHeard
    | NoInput
    | VoiceUnavailable
    | RecordingFinished
    | TransferEnded
    | CallerHungUp
    | Scored
    | Routed
)
