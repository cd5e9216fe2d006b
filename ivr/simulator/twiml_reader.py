"""Parse a TwiML <Response> into verb objects with Twilio's documented defaults.

Only the carrier reads TwiML; the server builds it with the twilio SDK. The parser is strict about
structure (unknown verbs, bad nesting, non-numeric numbers raise `TwimlError`, which the carrier
turns into Twilio's error 12100) so that an app bug shows up in a test instead of being guessed
around. Verbs Twilio has but the simulator does not model (<Connect>, <Start>, <Pay>, ...) parse
to `Unsupported` and are skipped with a warning.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

# ElementTree's expat does not fetch external entities, and expat >= 2.4.1 caps entity expansion.


class TwimlError(ValueError):
    """The document is not TwiML the simulator can run (Twilio error 12100 territory)."""


@dataclass(frozen=True, slots=True)
class Say:
    text: str
    voice: str | None = None
    language: str | None = None
    loop: int = 1


@dataclass(frozen=True, slots=True)
class Play:
    url: str
    loop: int = 1
    digits: str | None = None


@dataclass(frozen=True, slots=True)
class Pause:
    length: int = 1


Prompt = Say | Play | Pause


@dataclass(frozen=True, slots=True)
class Gather:
    action: str | None = None  # None: the current document
    method: str = "POST"
    timeout: int = 5
    finish_on_key: str = "#"
    num_digits: int | None = None
    input: frozenset[str] = frozenset({"dtmf"})
    speech_timeout: str | None = None
    language: str = "en-US"
    hints: str | None = None
    action_on_empty_result: bool = False
    prompts: tuple[Prompt, ...] = ()

    @property
    def accepts_dtmf(self) -> bool:
        return "dtmf" in self.input

    @property
    def accepts_speech(self) -> bool:
        return "speech" in self.input


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Record:
    action: str | None = None  # None: the current document
    method: str = "POST"
    timeout: int = 5
    finish_on_key: str = "1234567890*#"
    max_length: int = 3600
    play_beep: bool = True
    trim: str = "trim-silence"
    recording_status_callback: str | None = None
    recording_status_callback_method: str = "POST"
    recording_status_callback_events: frozenset[str] = frozenset({"completed"})
    transcribe: bool = False


@dataclass(frozen=True, slots=True)
class DialTarget:
    """A <Number> (or other noun) inside <Dial>, or the bare number text of the <Dial>."""

    address: str
    noun: str = "Number"
    url: str | None = None
    method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset({"completed"})
    send_digits: str | None = None


@dataclass(frozen=True, slots=True)
class Dial:
    targets: tuple[DialTarget, ...]
    action: str | None = None  # None: continue with the next verb after the dial
    method: str = "POST"
    timeout: int = 30
    caller_id: str | None = None
    answer_on_bridge: bool = False
    record: str = "do-not-record"
    hangup_on_star: bool = False
    time_limit: int = 14400


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str = "rejected"


@dataclass(frozen=True, slots=True)
class Unsupported:
    name: str


Verb = Say | Play | Pause | Gather | Redirect | Record | Dial | Hangup | Reject | Unsupported

_UNMODELLED = frozenset(
    {
        "Connect",
        "Start",
        "Stop",
        "Enqueue",
        "Leave",
        "Pay",
        "Prompt",
        "Refer",
        "Sms",
        "Message",
        "Echo",
    }
)
_DIAL_NOUNS = frozenset({"Number", "Client", "Sip", "Conference", "Queue", "Application", "Sim"})
_EVENT_SPLIT = re.compile(r"[\s,]+")


def parse_twiml(body: str | bytes) -> tuple[Verb, ...]:
    """Parse a TwiML document into its top-level verbs, in order."""
    try:
        root = ET.fromstring(body)  # noqa: S314 - see the module note on expat
    except ET.ParseError as exc:
        raise TwimlError(f"not well-formed XML: {exc}") from exc
    if _tag(root) != "Response":
        raise TwimlError(f"root element is <{_tag(root)}>, expected <Response>")
    return tuple(_verb(el) for el in root)


def _tag(el: ET.Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else str(tag)


def _text(el: ET.Element) -> str:
    return " ".join("".join(el.itertext()).split())


def _int(el: ET.Element, name: str, default: int) -> int:
    raw = el.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise TwimlError(f"<{_tag(el)} {name}={raw!r}>: not an integer") from None


def _bool(el: ET.Element, name: str, default: bool) -> bool:
    raw = el.get(name)
    if raw is None:
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise TwimlError(f"<{_tag(el)} {name}={raw!r}>: expected true or false")


def _method(el: ET.Element, name: str = "method") -> str:
    raw = (el.get(name) or "POST").upper()
    if raw not in ("GET", "POST"):
        raise TwimlError(f"<{_tag(el)} {name}={raw!r}>: expected GET or POST")
    return raw


def _events(el: ET.Element, name: str, default: str) -> frozenset[str]:
    raw = el.get(name) or default
    return frozenset(part for part in _EVENT_SPLIT.split(raw) if part)


def _prompt(el: ET.Element) -> Prompt:
    tag = _tag(el)
    if tag == "Say":
        return Say(_text(el), el.get("voice"), el.get("language"), _int(el, "loop", 1))
    if tag == "Play":
        return Play(_text(el), _int(el, "loop", 1), el.get("digits"))
    if tag == "Pause":
        return Pause(_int(el, "length", 1))
    raise TwimlError(f"<{tag}> cannot be nested in <Gather>")


def _verb(el: ET.Element) -> Verb:
    tag = _tag(el)
    if tag in ("Say", "Play", "Pause"):
        return _prompt(el)
    if tag == "Gather":
        num_digits = _int(el, "numDigits", 0)
        return Gather(
            action=el.get("action") or None,
            method=_method(el),
            timeout=_int(el, "timeout", 5),
            finish_on_key=el.get("finishOnKey", "#"),
            num_digits=num_digits if num_digits > 0 else None,
            input=_events(el, "input", "dtmf"),
            speech_timeout=el.get("speechTimeout"),
            language=el.get("language", "en-US"),
            hints=el.get("hints"),
            action_on_empty_result=_bool(el, "actionOnEmptyResult", False),
            prompts=tuple(_prompt(child) for child in el),
        )
    if tag == "Redirect":
        url = _text(el)
        if not url:
            raise TwimlError("<Redirect> without a URL")
        return Redirect(url, _method(el))
    if tag == "Record":
        return Record(
            action=el.get("action") or None,
            method=_method(el),
            timeout=_int(el, "timeout", 5),
            finish_on_key=el.get("finishOnKey", "1234567890*#"),
            max_length=_int(el, "maxLength", 3600),
            play_beep=_bool(el, "playBeep", True),
            trim=el.get("trim", "trim-silence"),
            recording_status_callback=el.get("recordingStatusCallback") or None,
            recording_status_callback_method=_method(el, "recordingStatusCallbackMethod"),
            recording_status_callback_events=_events(
                el, "recordingStatusCallbackEvent", "completed"
            ),
            transcribe=_bool(el, "transcribe", False),
        )
    if tag == "Dial":
        return _dial(el)
    if tag == "Hangup":
        return Hangup()
    if tag == "Reject":
        return Reject(el.get("reason", "rejected"))
    if tag in _UNMODELLED:
        return Unsupported(tag)
    raise TwimlError(f"unknown verb <{tag}>")


def _dial(el: ET.Element) -> Dial:
    targets: list[DialTarget] = []
    for child in el:
        noun = _tag(child)
        if noun not in _DIAL_NOUNS:
            raise TwimlError(f"<{noun}> cannot be nested in <Dial>")
        targets.append(
            DialTarget(
                address=_text(child),
                noun=noun,
                url=child.get("url") or None,
                method=_method(child),
                status_callback=child.get("statusCallback") or None,
                status_callback_method=_method(child, "statusCallbackMethod"),
                status_callback_events=_events(child, "statusCallbackEvent", "completed"),
                send_digits=child.get("sendDigits"),
            )
        )
    bare = (el.text or "").strip()
    if bare:
        targets.insert(0, DialTarget(address=bare))
    if not targets:
        raise TwimlError("<Dial> with nothing to dial")
    return Dial(
        targets=tuple(targets),
        action=el.get("action") or None,
        method=_method(el),
        timeout=_int(el, "timeout", 30),
        caller_id=el.get("callerId") or None,
        answer_on_bridge=_bool(el, "answerOnBridge", False),
        record=el.get("record", "do-not-record"),
        hangup_on_star=_bool(el, "hangupOnStar", False),
        time_limit=_int(el, "timeLimit", 14400),
    )
