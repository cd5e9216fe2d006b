"""What the engine asks a transport to do. A turn's list ends with at most one waiting action.

:class:`Score`, :class:`Route` and :class:`Release` are never heard by the caller: the adapter
resolves them in-process (:func:`ivr.turns.take_turn`). A score and a route are answered with an
event within the same webhook (``Scored``, ``Routed``); a release is done and forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.routing.decision import RouteRequest
from scoring.qualification import CallerWords, Prequal, QualificationRules


@dataclass(frozen=True)
class Say:
    text: str
    voice: str
    language: str


@dataclass(frozen=True)
class Play:
    url: str
    loop: int = 1


Prompt = Say | Play


@dataclass(frozen=True)
class Gather:
    """Ask for keypad and/or speech input while playing ``prompt``."""

    prompt: tuple[Prompt, ...]
    keypad: bool
    speech: bool
    timeout_s: int
    max_digits: int | None
    hints: tuple[str, ...]
    language: str


@dataclass(frozen=True)
class Listen:
    """Record a short spoken answer for transcription; any key ends it and is the answer."""

    prompt: tuple[Prompt, ...]
    keypad: bool
    max_seconds: int
    silence_timeout_s: int
    hints: tuple[str, ...]


@dataclass(frozen=True)
class Record:
    max_seconds: int
    silence_timeout_s: int
    beep: bool


@dataclass(frozen=True)
class Transfer:
    """Dial the officer routing picked; they hear ``whisper`` and accept with a key.

    ``claim`` names the slot held for this attempt, so the officer leg's callbacks can free it.
    """

    officer: str
    number: str
    whisper: str
    timeout_s: int
    record: bool
    claim: str


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Score:
    """Classify the caller's words and qualify the call: everything the scorer needs, no state."""

    step: str
    words: CallerWords
    prequal: Prequal
    rules: QualificationRules


@dataclass(frozen=True)
class Route:
    """Pick and claim an officer for the transfer ``step``; answered with a ``Routed`` event."""

    step: str
    request: RouteRequest


@dataclass(frozen=True)
class Release:
    """An officer's leg is over: free its slot; settle its counts when ``connected`` is known.

    None: the caller hung up before the dial reported its outcome; the slot is freed now and
    the counts stay (a cap is never exceeded by a guess).
    """

    claim: str
    officer: str
    caller: str
    connected: bool | None


Action = Say | Play | Gather | Listen | Record | Transfer | Hangup | Score | Route | Release
WAITING_ACTIONS = (Gather, Listen, Record, Transfer)
