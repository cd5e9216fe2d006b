"""Engine actions → TwiML, with twilio's ``VoiceResponse`` only (never string-built XML).

Every waiting verb is followed by a ``<Redirect>`` to the no-input URL: when a ``<Gather>`` times
out with nothing entered (or a ``<Record>`` is empty), Twilio runs the next verb instead of
calling ``action``, and the redirect turns that silence into a ``NoInput`` event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, VoiceResponse
from twilio.twiml.voice_response import Gather as TwiGather

from ivr.engine.actions import Action, Gather, Hangup, Listen, Play, Record, Say, Transfer

DIAL_TIME_LIMIT_S = 4 * 3600
"""Twilio's own default ``timeLimit``, stated: the officer slot's answered lease matches it."""
WHISPER_TIMEOUT_S = 10


@dataclass(frozen=True)
class TurnUrls:
    """Where Twilio reports the outcome of this turn's waiting verb."""

    gather: str
    no_input: str
    record: str
    dial: str
    recording_status: str
    voice_answer: str
    voice_wait: str
    whisper: str
    whisper_reply: str
    officer_status: str


def turn_urls(base: str, turn: int) -> TurnUrls:
    query = "?" + urlencode({"turn": turn})
    return TurnUrls(
        gather=f"{base}/twilio/gather{query}",
        no_input=f"{base}/twilio/no-input{query}",
        record=f"{base}/twilio/record{query}",
        dial=f"{base}/twilio/dial{query}",
        recording_status=f"{base}/twilio/recording-status",
        voice_answer=f"{base}/twilio/voice-answer{query}",
        voice_wait=f"{base}/twilio/voice-wait{query}",
        whisper=f"{base}/twilio/whisper{query}",
        whisper_reply=f"{base}/twilio/whisper-reply{query}",
        officer_status=f"{base}/twilio/officer-status",
    )


def render(actions: Sequence[Action], urls: TurnUrls) -> str:
    """The TwiML document for one engine turn."""
    response = VoiceResponse()
    for action in actions:
        if isinstance(action, Say):
            response.say(action.text, voice=action.voice, language=action.language)
        elif isinstance(action, Play):
            response.play(action.url, loop=action.loop)
        elif isinstance(action, Gather):
            response.append(_gather(action, urls))
            response.redirect(urls.no_input, method="POST")
        elif isinstance(action, Listen):
            for prompt in action.prompt:
                _prompt(response, prompt)
            response.record(
                action=urls.voice_answer,
                method="POST",
                max_length=action.max_seconds,
                timeout=action.silence_timeout_s,
                play_beep=False,
                finish_on_key="0123456789*#" if action.keypad else "",
                trim="trim-silence",
            )
            response.redirect(urls.no_input, method="POST")
        elif isinstance(action, Record):
            response.record(
                action=urls.record,
                method="POST",
                max_length=action.max_seconds,
                timeout=action.silence_timeout_s,
                play_beep=action.beep,
                finish_on_key="#",
                recording_status_callback=urls.recording_status,
                recording_status_callback_method="POST",
                recording_status_callback_event="completed",
            )
            response.redirect(urls.no_input, method="POST")
        elif isinstance(action, Transfer):
            response.append(_dial(action, urls))
        elif isinstance(action, Hangup):
            response.hangup()
    return str(response)


def still_listening(text: str, voice: str, wait_url: str) -> str:
    """A short filler while a spoken answer is transcribed, then back for the result."""
    response = VoiceResponse()
    response.say(text, voice=voice, language="en-US")
    response.redirect(wait_url, method="POST")
    return str(response)


def message(text: str, voice: str = "Polly.Joanna", then_dial: str | None = None) -> str:
    """A spoken message, then a hang-up (or a dial): for callers we cannot serve normally."""
    response = VoiceResponse()
    response.say(text, voice=voice, language="en-US")
    if then_dial:
        response.dial(then_dial, answer_on_bridge=True)
    response.hangup()
    return str(response)


def _gather(action: Gather, urls: TurnUrls) -> TwiGather:
    inputs = [name for name, on in (("dtmf", action.keypad), ("speech", action.speech)) if on]
    options: dict[str, str | int] = {}
    if action.max_digits is not None:
        options["num_digits"] = action.max_digits
    else:
        options["finish_on_key"] = "#"
    if action.speech:
        options["speech_timeout"] = "auto"
        if action.hints:
            options["hints"] = ", ".join(action.hints)
    gather = TwiGather(
        input=" ".join(inputs),
        action=urls.gather,
        method="POST",
        timeout=action.timeout_s,
        language=action.language,
        **options,
    )
    for prompt in action.prompt:
        _prompt(gather, prompt)
    return gather


def _prompt(parent: VoiceResponse | TwiGather, prompt: Say | Play) -> None:
    if isinstance(prompt, Say):
        parent.say(prompt.text, voice=prompt.voice, language=prompt.language)
    else:
        parent.play(prompt.url, loop=prompt.loop)


def whisper(text: str, voice: str, reply_url: str, timeout_s: int = WHISPER_TIMEOUT_S) -> str:
    """The officer's side before the bridge: the call's summary, and a key to accept it.

    Runs on the officer's leg while the caller hears ringing; the document ending without
    ``<Hangup>`` bridges the two, so silence or any other key hangs the officer's leg up.
    """
    response = VoiceResponse()
    gather = TwiGather(
        input="dtmf", num_digits=1, action=reply_url, method="POST", timeout=timeout_s
    )
    gather.say(text, voice=voice, language="en-US")
    response.append(gather)
    response.say("No key pressed. Passing the call on. Goodbye.", voice=voice, language="en-US")
    response.hangup()
    return str(response)


def whisper_reply(accepted: bool, voice: str) -> str:
    """Accepted: an empty-handed document, so Twilio bridges; declined: hang up the officer."""
    response = VoiceResponse()
    if accepted:
        response.say("Connecting you now.", voice=voice, language="en-US")
    else:
        response.hangup()
    return str(response)


def _dial(action: Transfer, urls: TurnUrls) -> Dial:
    recording: dict[str, str] = {}
    if action.record:
        recording = {
            "record": "record-from-answer-dual",
            "recording_status_callback": urls.recording_status,
            "recording_status_callback_event": "completed",
        }
    dial = Dial(
        action=urls.dial,
        method="POST",
        timeout=action.timeout_s,
        answer_on_bridge=True,
        time_limit=DIAL_TIME_LIMIT_S,
        **recording,
    )
    dial.number(
        action.number,
        url=urls.whisper,
        method="POST",
        status_callback=urls.officer_status + "?" + urlencode({"claim": action.claim}),
        status_callback_method="POST",
        status_callback_event="initiated ringing answered completed",
    )
    return dial
