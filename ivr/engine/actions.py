"""What the engine asks a transport to do. A turn's list ends with at most one waiting action."""

from __future__ import annotations

from dataclasses import dataclass


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


Action = Say | Play | Gather | Listen | Record | Transfer | Hangup
WAITING_ACTIONS = (Gather, Listen, Record, Transfer)
