"""The person on the line: the protocol the carrier asks for input, and a scripted implementation.

The carrier never decides what the caller does. At each <Gather>, <Record> and <Dial> it calls the
`Caller` with what was heard since the last answer and the verb as parsed (the "spec"). Scripts,
tests and an interactive terminal each implement the same three methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ivr.simulator.model import CallRecord, Heard
from ivr.simulator.twiml_reader import Dial, Gather, Record

GatherSpec = Gather
RecordSpec = Record
DialSpec = Dial


@dataclass(frozen=True, slots=True)
class Digits:
    """Keys pressed, e.g. "1" or "1234#" (the carrier applies finishOnKey and numDigits)."""

    keys: str


@dataclass(frozen=True, slots=True)
class Speech:
    text: str
    confidence: float | None = 0.9  # None: Twilio left Confidence out


@dataclass(frozen=True, slots=True)
class Silence:
    """No input until the prompt timed out."""


@dataclass(frozen=True, slots=True)
class HangUp:
    """The caller hangs up at this prompt."""


@dataclass(frozen=True, slots=True)
class RecordInput:
    """A recording the caller made.

    audio: WAV bytes, a path to a WAV file, or None for `duration_s` seconds of silence.
    duration_s: None means "the length of the WAV".
    finished_on_key: the key that ended it, "hangup" when the caller hung up after speaking, or
    None when it ended on the silence timeout.
    """

    audio: bytes | Path | None = None
    duration_s: float | None = None
    finished_on_key: str | None = None


DialStatus = Literal["completed", "busy", "no-answer", "failed", "canceled"]


@dataclass(frozen=True, slots=True)
class DialOutcome:
    """What the dialled party does.

    answered: the party picked up (status must then be "completed").
    accept_digit: the key the officer presses at the whisper <Gather>; None means no key.
    duration_s: the child leg's length from answer to hang-up (DialCallDuration).
    caller_hangs_up: after the bridge the caller hangs up (the dial action is still posted,
    its TwiML is ignored); otherwise the officer ends the bridge and the caller stays.
    number: which target answered when several ring (default: the first).
    """

    status: DialStatus
    answered: bool = False
    accept_digit: str | None = None
    duration_s: float = 0.0
    ring_s: float = 5.0
    caller_hangs_up: bool = False
    number: str | None = None


GatherInput = Digits | Speech | Silence | HangUp
RecordAnswer = RecordInput | Silence | HangUp
DialAnswer = DialOutcome | HangUp


class Caller(Protocol):
    async def gather(self, heard: list[Heard], spec: GatherSpec) -> GatherInput: ...

    async def record(self, heard: list[Heard], spec: RecordSpec) -> RecordAnswer: ...

    async def dial(self, heard: list[Heard], spec: DialSpec) -> DialAnswer: ...


class ScriptError(AssertionError):
    """The app asked for input the script does not give (or the script ran out).

    `record` is the call so far, set by the carrier when the error leaves `place_call`.
    """

    record: CallRecord | None = None


_TRANSFERS: dict[str, tuple[DialStatus, bool, str | None, float]] = {
    # outcome -> (status, answered, accept digit, default duration)
    "accepted": ("completed", True, "1", 120.0),
    "declined": ("completed", True, None, 8.0),
    "voicemail": ("completed", True, None, 30.0),
    "no-answer": ("no-answer", False, None, 0.0),
    "busy": ("busy", False, None, 0.0),
    "failed": ("failed", False, None, 0.0),
}
_TURN_KEYS = {
    "digits": set(),
    "speech": {"confidence"},
    "silence": set(),
    "hangup": set(),
    "record": set(),
    "transfer": {"duration", "digit", "ring", "caller_hangs_up", "number"},
}
_RECORD_KEYS = {"seconds", "audio", "key", "hangup"}
_KEYPAD = set("0123456789*#")


def parse_turn(index: int, turn: Mapping[str, object]) -> GatherInput | RecordAnswer | DialAnswer:
    """Read one scripted turn into the input it gives; ValueError says which turn is wrong."""
    where = f"turn {index} {dict(turn)!r}"
    kinds = [k for k in turn if k in _TURN_KEYS]
    if len(kinds) != 1:
        raise ValueError(f"{where}: needs exactly one of {sorted(_TURN_KEYS)}")
    kind = kinds[0]
    extra = set(turn) - {kind} - _TURN_KEYS[kind]
    if extra:
        raise ValueError(f"{where}: unknown key(s) {sorted(extra)} for a {kind!r} turn")
    value = turn[kind]
    if kind == "digits":
        if not isinstance(value, str) or not value or not set(value) <= _KEYPAD:
            raise ValueError(f"{where}: digits must be a non-empty string of 0-9 * #")
        return Digits(value)
    if kind == "speech":
        confidence = turn.get("confidence", 0.9)
        if not isinstance(value, str) or not isinstance(confidence, int | float | None):
            raise ValueError(f"{where}: speech must be text, confidence a number")
        return Speech(value, None if confidence is None else float(confidence))
    if kind in ("silence", "hangup"):
        if value is not True:
            raise ValueError(f"{where}: {kind} must be true")
        return Silence() if kind == "silence" else HangUp()
    if kind == "record":
        return _parse_record(where, value)
    return _parse_transfer(where, turn)


def _parse_record(where: str, value: object) -> RecordInput:
    if not isinstance(value, Mapping) or not set(value) <= _RECORD_KEYS:
        raise ValueError(f"{where}: record takes a mapping of {sorted(_RECORD_KEYS)}")
    seconds, audio, key = value.get("seconds"), value.get("audio"), value.get("key")
    if seconds is not None and not isinstance(seconds, int | float):
        raise ValueError(f"{where}: record seconds must be a number")
    if audio is None and seconds is None:
        raise ValueError(f"{where}: record needs seconds, audio or both")
    if audio is not None and not isinstance(audio, bytes | str | Path):
        raise ValueError(f"{where}: record audio must be WAV bytes or a path")
    if key is not None and (not isinstance(key, str) or len(key) != 1):
        raise ValueError(f"{where}: record key must be one keypad character")
    finished: str | None = "hangup" if value.get("hangup") else key
    path_or_bytes = Path(audio) if isinstance(audio, str) else audio
    return RecordInput(path_or_bytes, None if seconds is None else float(seconds), finished)


def _parse_transfer(where: str, turn: Mapping[str, object]) -> DialOutcome:
    outcome = turn["transfer"]
    if not isinstance(outcome, str) or outcome not in _TRANSFERS:
        raise ValueError(f"{where}: transfer must be one of {sorted(_TRANSFERS)}")
    status, answered, digit, duration = _TRANSFERS[outcome]
    raw_digit = turn.get("digit", digit)
    raw_duration = turn.get("duration", duration)
    raw_ring = turn.get("ring", 5.0)
    number = turn.get("number")
    if not isinstance(raw_duration, int | float) or not isinstance(raw_ring, int | float):
        raise ValueError(f"{where}: duration and ring must be numbers")
    if raw_digit is not None and not isinstance(raw_digit, str):
        raise ValueError(f"{where}: digit must be a string")
    if number is not None and not isinstance(number, str):
        raise ValueError(f"{where}: number must be a string")
    return DialOutcome(
        status=status,
        answered=answered,
        accept_digit=raw_digit,
        duration_s=float(raw_duration),
        ring_s=float(raw_ring),
        caller_hangs_up=bool(turn.get("caller_hangs_up", False)),
        number=number,
    )


def _describe_heard(heard: list[Heard]) -> str:
    said = [h.describe() for h in heard if h.kind in ("say", "play", "carrier")]
    return " | ".join(said[-3:]) or "(nothing)"


class ScriptedCaller:
    """Plays a list of turns, one per prompt, and fails loudly when the app and script disagree.

    Turns: {"digits": "1"}, {"speech": "texas", "confidence": 0.9}, {"silence": True},
    {"record": {"seconds": 4, "audio": "path.wav", "key": "#"}}, {"hangup": True},
    {"transfer": "accepted" | "declined" | "voicemail" | "no-answer" | "busy" | "failed",
     "duration": 95, "digit": "1", "ring": 5, "caller_hangs_up": False}.
    """

    def __init__(self, turns: Sequence[Mapping[str, object]]) -> None:
        self._turns = [parse_turn(i, turn) for i, turn in enumerate(turns)]
        self._raw = [dict(turn) for turn in turns]
        self._next = 0

    @property
    def remaining(self) -> int:
        return len(self._turns) - self._next

    def _take(self, asked: str, heard: list[Heard]) -> tuple[int, object]:
        if self._next >= len(self._turns):
            raise ScriptError(
                f"script ran out of turns: the app asked for {asked} "
                f"after the caller heard: {_describe_heard(heard)}"
            )
        index = self._next
        self._next += 1
        return index, self._turns[index]

    def _mismatch(self, index: int, asked: str, heard: list[Heard]) -> ScriptError:
        return ScriptError(
            f"turn {index} {self._raw[index]!r} does not answer {asked}; "
            f"the caller heard: {_describe_heard(heard)}"
        )

    async def gather(self, heard: list[Heard], spec: GatherSpec) -> GatherInput:
        asked = f"<Gather input={' '.join(sorted(spec.input))!r}>"
        index, turn = self._take(asked, heard)
        ok = (
            isinstance(turn, Silence | HangUp)
            or (isinstance(turn, Digits) and spec.accepts_dtmf)
            or (isinstance(turn, Speech) and spec.accepts_speech)
        )
        if not ok or not isinstance(turn, Digits | Speech | Silence | HangUp):
            raise self._mismatch(index, asked, heard)
        return turn

    async def record(self, heard: list[Heard], spec: RecordSpec) -> RecordAnswer:
        index, turn = self._take("<Record>", heard)
        if not isinstance(turn, RecordInput | Silence | HangUp):
            raise self._mismatch(index, "<Record>", heard)
        key = turn.finished_on_key if isinstance(turn, RecordInput) else None
        if key not in (None, "hangup") and key not in spec.finish_on_key:
            raise ScriptError(
                f"turn {index} {self._raw[index]!r}: key {key!r} does not end this <Record> "
                f"(finishOnKey={spec.finish_on_key!r})"
            )
        return turn

    async def dial(self, heard: list[Heard], spec: DialSpec) -> DialAnswer:
        asked = f"<Dial> to {', '.join(t.address for t in spec.targets)}"
        index, turn = self._take(asked, heard)
        if not isinstance(turn, DialOutcome | HangUp):
            raise self._mismatch(index, asked, heard)
        return turn
