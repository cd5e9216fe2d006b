"""What the engine asks a transport to do. A turn's list ends with at most one waiting action.

:class:`Score` is the one action the caller never hears: the adapter resolves it in-process
(:func:`ivr.turns.take_turn`) and feeds the engine a ``Scored`` event within the same webhook.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """Connect the caller to someone in ``pool``; the transport picks the number."""

    pool: str
    whisper: str | None
    timeout_s: int
    record: bool


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


Action = Say | Play | Gather | Listen | Record | Transfer | Hangup | Score
WAITING_ACTIONS = (Gather, Listen, Record, Transfer)
