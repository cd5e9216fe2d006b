"""The fake carrier against a tiny TwiML app over real HTTP.

The app is built in the test with the twilio SDK's VoiceResponse. It checks every request's
X-Twilio-Signature with RequestValidator against its *public* URL (a 403 otherwise) and records
what arrived, so each test asserts on the wire format an app really sees.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import re
import socket
import struct
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeAlias

import aiohttp
import pytest
from aiohttp import web
from multidict import MultiDict
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from ivr.simulator.caller import ScriptedCaller, ScriptError
from ivr.simulator.carrier import Carrier, CarrierConfig
from ivr.simulator.media import MediaServer
from ivr.simulator.model import CallGeo, CallRecord
from ivr.simulator.webhooks import signing_url

pytestmark = pytest.mark.e2e

ACCOUNT = "AC" + "a1" * 16
TOKEN = "fake-carrier-auth-token"
PUBLIC = "https://ivr.example.test"
CALLER = "+15125550123"
TRACKING = "+18005550199"
OFFICER = "+15125550101"
START = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 +0000
SID = re.compile(r"^CA[0-9a-f]{32}$")

Result: TypeAlias = VoiceResponse | web.Response
Route: TypeAlias = Callable[[dict[str, str]], Result | Awaitable[Result]]


@dataclass
class Received:
    path: str
    method: str
    params: dict[str, str]
    headers: dict[str, str]
    port: int
    valid: bool


@dataclass
class TwimlApp:
    """A TwiML app that validates signatures against its public URL and records requests."""

    routes: dict[str, Route]
    public_base: str | None = None  # None: its own address
    received: list[Received] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form = await request.post() if request.method == "POST" else MultiDict[str]()
        base = self.public_base or f"{request.scheme}://{request.host}"
        url = base + request.path_qs
        signature = request.headers.get("X-Twilio-Signature", "")
        valid = bool(RequestValidator(TOKEN).validate(url, form, signature))
        params = {k: str(v) for k, v in request.query.items()} | {
            k: str(v) for k, v in form.items()
        }
        port = request.transport.get_extra_info("sockname")[1] if request.transport else 0
        self.received.append(
            Received(request.path, request.method, params, dict(request.headers), port, valid)
        )
        if not valid:
            return web.Response(status=403, text="bad signature")
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=200)  # status callbacks and the like
        result = route(params)
        if not isinstance(result, VoiceResponse | web.Response):
            result = await result
        if isinstance(result, web.Response):
            return result
        return web.Response(text=str(result), content_type="text/xml")

    def to(self, path: str) -> list[dict[str, str]]:
        return [r.params for r in self.received if r.path == path]

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.received]


@asynccontextmanager
async def serve(app: TwimlApp, sites: int = 1) -> AsyncIterator[list[str]]:
    web_app = web.Application()
    web_app.router.add_route("*", "/{tail:.*}", app.handle)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    for _ in range(sites):
        await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield [f"http://{host}:{port}" for host, port, *_ in runner.addresses]
    finally:
        await runner.cleanup()


def settings(base: str, **overrides: Any) -> CarrierConfig:
    config = CarrierConfig(
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        voice_url=f"{base}/voice",
        status_callback_url=f"{base}/status",
        clock=lambda: START,
        seed=7,
    )
    return replace(config, **overrides)


async def call(
    config: CarrierConfig, turns: list[dict[str, Any]], carrier: Carrier | None = None
) -> CallRecord:
    caller = ScriptedCaller(turns)
    if carrier is not None:
        record = await carrier.place_call(caller, from_number=CALLER, to_number=TRACKING)
    else:
        async with Carrier(config) as own:
            record = await own.place_call(caller, from_number=CALLER, to_number=TRACKING)
    assert caller.remaining == 0
    return record


def twiml(build: Callable[[VoiceResponse], object]) -> Route:
    def route(params: dict[str, str]) -> VoiceResponse:
        response = VoiceResponse()
        build(response)
        return response

    return route


def hangup(params: dict[str, str]) -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def tone_wav(seconds: float) -> bytes:
    frames = int(seconds * 8000)
    samples = (int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buffer.getvalue()


# -- signatures (reference §f) -----------------------------------------------------------------

P1 = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
P2 = P1 | {"Caller": "+14158675310", "From": "+14158675310"}


@pytest.mark.parametrize(
    ("url", "params", "signature"),
    [
        ("https://mycompany.com/myapp.php?foo=1&bar=2", P1, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        ("https://mycompany.com:443/myapp.php?foo=1&bar=2", P1, "kvajT1Ptam85bY51eRf/AJRuM3w="),
        ("http://mycompany.com:80/myapp.php?foo=1&bar=2", P1, "0ZXoZLH/DfblKGATFgpif+LLRf4="),
        ("http://mycompany.com:1234/myapp.php?foo=1&bar=2", P1, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        ("https://example.com/myapp.php?foo=1&bar=2", P2, "L/OH5YylLD5NRKLltdqwSvS0BnU="),
    ],
)
def test_reference_signature_vectors(url: str, params: dict[str, str], signature: str) -> None:
    assert RequestValidator("12345").compute_signature(url, params) == signature


def test_reference_vectors_for_json_body_and_multivalued_params() -> None:
    validator = RequestValidator("12345")
    body_url = (
        "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    )
    assert validator.compute_signature(body_url, {}) == "a9nBmqA0ju/hNViExpshrM61xv4="
    pairs = [("Sid", "CA123"), ("SidAccount", "AC123")]
    multi = MultiDict([*pairs, ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")])
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert validator.compute_signature(url, multi) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_signed_url_drops_userinfo_fragment_and_https_port_but_keeps_http_port() -> None:
    validator = RequestValidator("12345")
    https = signing_url("https://user:pw@mycompany.com:443/myapp.php?foo=1&bar=2#rc=2&rp=ct")
    assert https == "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert validator.compute_signature(https, P1) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    http = signing_url("http://user:pw@mycompany.com:1234/myapp.php?foo=1&bar=2#ct=1000")
    assert http == "http://mycompany.com:1234/myapp.php?foo=1&bar=2"
    assert validator.compute_signature(http, P1) == "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="


# -- the first request and the final status callback --------------------------------------------


async def test_first_request_carries_the_full_standard_parameter_set() -> None:
    def welcome(r: VoiceResponse) -> None:
        r.say("Welcome to Warmline.", voice="Polly.Joanna", language="en-US")
        r.pause(length=7)
        r.hangup()

    app = TwimlApp({"/voice": twiml(welcome)})
    async with serve(app) as (base,):
        geo = CallGeo("DALLAS", "TX", "75201", "US", "", "", "", "US")
        async with Carrier(settings(base)) as carrier:
            record = await carrier.place_call(
                ScriptedCaller([]), from_number=CALLER, to_number=TRACKING, geo=geo
            )

    assert [r.path for r in app.received] == ["/voice", "/status"]
    assert all(r.valid for r in app.received)
    first = app.received[0]
    assert first.method == "POST"
    assert first.params == {
        "CallSid": record.call_sid,
        "AccountSid": ACCOUNT,
        "From": CALLER,
        "To": TRACKING,
        "CallStatus": "ringing",
        "ApiVersion": "2010-04-01",
        "Direction": "inbound",
        "Caller": CALLER,
        "Called": TRACKING,
        "FromCity": "DALLAS",
        "FromState": "TX",
        "FromZip": "75201",
        "FromCountry": "US",
        "CallerCity": "DALLAS",
        "CallerState": "TX",
        "CallerZip": "75201",
        "CallerCountry": "US",
        "ToCity": "",
        "ToState": "",
        "ToZip": "",
        "ToCountry": "US",
        "CalledCity": "",
        "CalledState": "",
        "CalledZip": "",
        "CalledCountry": "US",
    }
    assert SID.match(record.call_sid)
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert first.headers["X-Home-Region"] == "us1"
    assert first.headers["User-Agent"] == "TwilioProxy/1.1"
    assert len(first.headers["I-Twilio-Idempotency-Token"]) == 36
    tokens = {r.headers["I-Twilio-Idempotency-Token"] for r in app.received}
    assert len(tokens) == 2

    assert record.said == ["Welcome to Warmline."]
    assert (record.heard[0].voice, record.heard[0].language) == ("Polly.Joanna", "en-US")
    assert record.heard[1].kind == "pause"
    assert record.heard[1].seconds == 7
    assert record.ended_by == "app-hangup"

    # 3 words at 2.5 words/s + 7 s of pause = 8.2 s of simulated time
    status = app.to("/status")[0]
    assert {k: status[k] for k in ("CallSid", "CallStatus", "Direction", "From", "To")} == {
        "CallSid": record.call_sid,
        "CallStatus": "completed",
        "Direction": "inbound",
        "From": CALLER,
        "To": TRACKING,
    }
    assert status["CallDuration"] == "8"
    assert status["Duration"] == "1"
    assert status["Timestamp"] == "Tue, 14 Nov 2023 22:13:28 +0000"
    assert status["CallbackSource"] == "call-progress-events"
    assert status["SequenceNumber"] == "0"
    assert status["SipResponseCode"] == "200"
    assert (record.call_status, record.duration_s) == ("completed", 8)


async def test_get_voice_method_signs_the_query_string() -> None:
    app = TwimlApp({"/voice": hangup})
    async with serve(app) as (base,):
        await call(settings(base, voice_method="GET", status_callback_url=None), [])
    (only,) = app.received
    assert (only.method, only.valid) == ("GET", True)
    assert only.params["CallStatus"] == "ringing"
    assert only.params["AccountSid"] == ACCOUNT


# -- <Gather> -------------------------------------------------------------------------------------


async def test_gather_digits_speech_and_no_input_fall_through() -> None:
    def voice(r: VoiceResponse) -> None:
        g = r.gather(input="dtmf speech", action="/ivr/loan-type", num_digits=1, timeout=3)
        g.say("Press 1 for purchase or 2 for refinance.")
        r.redirect("/voice/retry")

    def retry(r: VoiceResponse) -> None:
        g = r.gather(input="dtmf", action="loan-amount", finish_on_key="#")  # relative
        g.say("Enter the loan amount, then press pound.")

    def amount(r: VoiceResponse) -> None:
        r.gather(input="speech", action="/ivr/state").say("Which state is the property in?")

    def state(r: VoiceResponse) -> None:
        r.gather(num_digits=1, action="/ivr/confirm").say("Press 1 to confirm.")

    app = TwimlApp(
        {
            "/voice": twiml(voice),
            "/voice/retry": twiml(retry),
            "/voice/loan-amount": twiml(amount),
            "/ivr/state": twiml(state),
            "/ivr/confirm": hangup,
        }
    )
    turns: list[dict[str, Any]] = [
        {"silence": True},
        {"digits": "250000#"},
        {"speech": "texas", "confidence": 0.87},
        {"digits": "12"},
    ]
    async with serve(app) as (base,):
        record = await call(settings(base, status_callback_url=None), turns)

    assert app.paths == [
        "/voice",
        "/voice/retry",
        "/voice/loan-amount",
        "/ivr/state",
        "/ivr/confirm",
    ]
    assert all(r.valid for r in app.received)
    retry_params = app.to("/voice/retry")[0]
    assert retry_params["CallStatus"] == "in-progress"
    assert "Digits" not in retry_params and "SpeechResult" not in retry_params
    amount_params = app.to("/voice/loan-amount")[0]
    assert (amount_params["Digits"], amount_params["FinishedOnKey"]) == ("250000", "#")
    state_params = app.to("/ivr/state")[0]
    assert (state_params["SpeechResult"], state_params["Confidence"]) == ("texas", "0.87")
    assert "Digits" not in state_params
    confirm = app.to("/ivr/confirm")[0]
    assert (confirm["Digits"], confirm["FinishedOnKey"]) == ("1", "")  # numDigits=1 cut "12"
    assert {p["CallSid"] for p in app.to("/ivr/confirm") + app.to("/voice")} == {record.call_sid}
    assert record.said[0] == "Press 1 for purchase or 2 for refinance."
    assert record.ended_by == "app-hangup"


async def test_action_on_empty_result_posts_without_input_and_hangup_posts_nothing() -> None:
    def voice(r: VoiceResponse) -> None:
        r.gather(action="gather-done", action_on_empty_result=True, timeout=2).say("Your ZIP?")
        r.say("This is never heard.")

    def done(r: VoiceResponse) -> None:
        r.gather(action="/never", num_digits=5).say("Please enter your ZIP code.")

    app = TwimlApp({"/voice": twiml(voice), "/gather-done": twiml(done)})
    async with serve(app) as (base,):
        record = await call(settings(base), [{"silence": True}, {"hangup": True}])

    assert app.paths == ["/voice", "/gather-done", "/status"]
    empty = app.to("/gather-done")[0]
    assert not {"Digits", "SpeechResult", "Confidence", "FinishedOnKey"} & set(empty)
    assert empty["CallStatus"] == "in-progress"
    assert "This is never heard." not in record.said
    assert record.ended_by == "caller-hangup"
    assert app.to("/status")[0]["CallStatus"] == "completed"


# -- <Record> and the media server ------------------------------------------------------------


def record_app(**record_kwargs: Any) -> TwimlApp:
    def voice(r: VoiceResponse) -> None:
        r.say("Tell us about your loan after the beep.")
        r.record(
            action="/recorded",
            recording_status_callback="/recording-status",
            max_length=60,
            finish_on_key="#",
            **record_kwargs,
        )
        r.say("We did not hear anything.")

    def recorded(r: VoiceResponse) -> None:
        r.say("Thank you.")
        r.hangup()

    return TwimlApp({"/voice": twiml(voice), "/recorded": twiml(recorded)})


async def test_record_action_status_callback_and_media_fetch() -> None:
    audio = tone_wav(3.0)
    app = record_app()
    async with serve(app) as (base,), Carrier(settings(base)) as carrier:
        record = await call(carrier.config, [{"record": {"audio": audio, "key": "#"}}], carrier)
        action = app.to("/recorded")[0]
        (callback,) = app.to("/recording-status")
        url = action["RecordingUrl"]
        media_base = carrier.media.base_url
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as plain:
                assert (plain.status, plain.content_type) == (200, "audio/x-wav")
                assert await plain.read() == audio
            async with session.get(url + ".wav") as wav_suffix:
                assert (wav_suffix.status, await wav_suffix.read()) == (200, audio)
            async with session.get(url + ".mp3") as mp3:
                assert mp3.status == 415
            async with session.get(url.replace(ACCOUNT, "AC" + "0" * 32)) as other_account:
                assert other_account.status == 404
            async with session.get(url + "?RequestedChannels=2") as dual:
                assert dual.status == 400

    (recording,) = record.recordings
    assert re.fullmatch(r"RE[0-9a-f]{32}", recording.recording_sid)
    assert url == (
        f"{media_base}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{recording.recording_sid}"
    )
    assert (action["RecordingDuration"], action["Digits"], action["CallStatus"]) == (
        "3",
        "#",
        "in-progress",
    )
    assert callback == {
        "AccountSid": ACCOUNT,
        "CallSid": record.call_sid,
        "RecordingSid": recording.recording_sid,
        "RecordingUrl": url,
        "RecordingStatus": "completed",
        "RecordingDuration": "3",
        "RecordingChannels": "1",
        "RecordingSource": "RecordVerb",
    }
    assert record.heard[1].kind == "beep"
    assert record.said == ["Tell us about your loan after the beep.", "Thank you."]
    # the call: 7 words (2.8 s) + 3 s recording + "Thank you." (0.8 s) = 6.6 s
    assert app.to("/status")[0]["CallDuration"] == "7"


async def test_media_basic_auth_and_generated_silence() -> None:
    app = record_app()
    async with serve(app) as (base,), Carrier(settings(base, media_basic_auth=True)) as carrier:
        await call(carrier.config, [{"record": {"seconds": 4}}], carrier)
        url = app.to("/recorded")[0]["RecordingUrl"]
        assert "Digits" not in app.to("/recorded")[0]  # ended on the silence timeout
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as anonymous:
                assert anonymous.status == 401
                assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
            async with session.get(url, headers=basic_auth(ACCOUNT, "wrong")) as wrong:
                assert wrong.status == 401
            async with session.get(url, headers=basic_auth(ACCOUNT, TOKEN)) as authed:
                assert authed.status == 200
                body = await authed.read()
    with wave.open(io.BytesIO(body)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() == 32000
        assert set(wav.readframes(10)) == {0}


async def test_recording_from_a_wav_file_is_measured_and_served(tmp_path: Path) -> None:
    path = tmp_path / "caller.wav"
    path.write_bytes(tone_wav(2.0))
    app = record_app()
    async with serve(app) as (base,), Carrier(settings(base)) as carrier:
        await call(carrier.config, [{"record": {"audio": str(path), "key": "#"}}], carrier)
        action = app.to("/recorded")[0]
        async with aiohttp.ClientSession() as session, session.get(action["RecordingUrl"]) as got:
            assert (got.status, got.content_type) == (200, "audio/x-wav")
            assert await got.read() == path.read_bytes()
    assert (action["RecordingDuration"], action["Digits"]) == ("2", "#")


async def test_media_is_not_available_for_the_first_moments() -> None:
    now = [100.0]
    async with MediaServer(ACCOUNT, unavailable_ms=1500, clock=lambda: now[0]) as media:
        url = media.add("RE" + "b" * 32, None, 1.0)
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as early:
                assert early.status == 404
            now[0] += 1.6
            async with session.get(url) as ready:
                assert ready.status == 200
        assert [f.status for f in media.fetches] == [404, 200]


async def test_silent_recording_posts_zero_duration_or_skips_the_action() -> None:
    app = record_app()
    async with serve(app) as (base,):
        posted = await call(settings(base), [{"silence": True}])
        assert app.to("/recorded")[0]["RecordingDuration"] == "0"
        assert "Digits" not in app.to("/recorded")[0]
        assert posted.said[-1] == "Thank you."

        app.received.clear()
        skipped = await call(
            settings(base, silent_recording_skips_action=True), [{"silence": True}]
        )
    assert app.to("/recorded") == [] and app.to("/recording-status") == []
    assert skipped.said[-1] == "We did not hear anything."
    assert skipped.ended_by == "end-of-document"


async def test_caller_hanging_up_while_recording_sends_digits_hangup() -> None:
    app = record_app()
    async with serve(app) as (base,):
        record = await call(settings(base), [{"record": {"seconds": 5, "hangup": True}}])
    action = app.to("/recorded")[0]
    assert (action["Digits"], action["RecordingDuration"]) == ("hangup", "5")
    assert action["CallStatus"] == "completed"
    assert record.ended_by == "caller-hangup"
    assert "Thank you." not in record.said  # the action's TwiML is ignored


# -- <Dial> with a whisper ------------------------------------------------------------


def dial_app() -> TwimlApp:
    def voice(r: VoiceResponse) -> None:
        r.say("Connecting you to a loan officer.")
        dial = r.dial(action="/dial-done", timeout=20, answer_on_bridge=True, caller_id=TRACKING)
        dial.number(
            OFFICER,
            url="/whisper",
            status_callback="/child-status",
            status_callback_event="initiated ringing answered completed",
        )
        r.say("Unreachable after a dial with an action.")

    def whisper(r: VoiceResponse) -> None:
        g = r.gather(num_digits=1, action="/whisper/accept", timeout=5)
        g.say("Refinance lead from Texas. Press 1 to accept.")
        r.say("Declined.")
        r.hangup()

    def accept(params: dict[str, str]) -> VoiceResponse:
        response = VoiceResponse()
        if params.get("Digits") == "1":
            response.say("Connecting.")
        else:
            response.hangup()
        return response

    def done(r: VoiceResponse) -> None:
        r.say("Goodbye.")
        r.hangup()

    return TwimlApp(
        {
            "/voice": twiml(voice),
            "/whisper": twiml(whisper),
            "/whisper/accept": accept,
            "/dial-done": twiml(done),
        }
    )


@pytest.mark.parametrize(
    ("turn", "dial_status", "bridged", "dial_duration", "child_statuses", "whisper_paths"),
    [
        (
            {"transfer": "no-answer"},
            "no-answer",
            "false",
            None,
            ["initiated", "ringing", "no-answer"],
            [],
        ),
        ({"transfer": "busy"}, "busy", "false", None, ["initiated", "busy"], []),
        ({"transfer": "failed"}, "failed", "false", None, ["initiated", "failed"], []),
        (
            {"transfer": "declined", "duration": 12},
            "completed",
            "false",
            "12",
            ["initiated", "ringing", "in-progress", "completed"],
            ["/whisper"],
        ),
        (
            {"transfer": "declined", "digit": "2"},
            "completed",
            "false",
            "8",
            ["initiated", "ringing", "in-progress", "completed"],
            ["/whisper", "/whisper/accept"],
        ),
        (
            {"transfer": "accepted", "duration": 95},
            "completed",
            "true",
            "95",
            ["initiated", "ringing", "in-progress", "completed"],
            ["/whisper", "/whisper/accept"],
        ),
    ],
)
async def test_dial_outcomes(
    turn: dict[str, Any],
    dial_status: str,
    bridged: str,
    dial_duration: str | None,
    child_statuses: list[str],
    whisper_paths: list[str],
) -> None:
    app = dial_app()
    async with serve(app) as (base,):
        record = await call(settings(base), [turn])

    assert all(r.valid for r in app.received)
    (action,) = app.to("/dial-done")
    assert action["DialCallStatus"] == dial_status
    assert action["DialBridged"] == bridged
    assert action.get("DialCallDuration") == dial_duration
    assert (action["CallSid"], action["CallStatus"]) == (record.call_sid, "in-progress")
    child_sid = action["DialCallSid"]
    assert SID.match(child_sid) and child_sid != record.call_sid

    assert [p for p in app.paths if p.startswith("/whisper")] == whisper_paths
    for params in app.to("/whisper") + app.to("/whisper/accept"):
        assert params["CallSid"] == child_sid
        assert params["ParentCallSid"] == record.call_sid
        assert params["Direction"] == "outbound-dial"
        assert (params["To"], params["From"], params["CallStatus"]) == (
            OFFICER,
            TRACKING,
            "in-progress",
        )
    if "/whisper/accept" in whisper_paths:
        assert app.to("/whisper/accept")[0]["Digits"] == turn.get("digit", "1")

    callbacks = sorted(app.to("/child-status"), key=lambda p: int(p["SequenceNumber"]))
    assert [p["CallStatus"] for p in callbacks] == child_statuses
    assert [p["SequenceNumber"] for p in callbacks] == [str(i) for i in range(len(child_statuses))]
    assert {p["CallSid"] for p in callbacks} == {child_sid}
    assert {p["ParentCallSid"] for p in callbacks} == {record.call_sid}
    final = callbacks[-1]
    assert final["CallDuration"] == (dial_duration or "0")
    assert final["CallbackSource"] == "call-progress-events"

    transfer = record.transfer
    assert transfer is not None
    assert (transfer.number, transfer.dial_call_sid) == (OFFICER, child_sid)
    assert transfer.bridged is (bridged == "true")
    assert "Unreachable after a dial with an action." not in record.said
    assert record.said[-1] == "Goodbye."
    officer_heard = [h.text for h in record.heard if h.leg == "officer" and h.kind == "say"]
    if whisper_paths:
        assert officer_heard[0] == "Refinance lead from Texas. Press 1 to accept."
    else:
        assert officer_heard == []


async def test_caller_hanging_up_during_the_bridge_ends_the_call_after_the_action() -> None:
    app = dial_app()
    turn = {"transfer": "accepted", "duration": 120, "caller_hangs_up": True}
    async with serve(app) as (base,):
        record = await call(settings(base), [turn])
    action = app.to("/dial-done")[0]
    assert (action["CallStatus"], action["DialBridged"]) == ("completed", "true")
    assert record.ended_by == "caller-hangup"
    assert "Goodbye." not in record.said
    assert int(app.to("/status")[0]["CallDuration"]) >= 120


# -- status callbacks: order, duplicates, shuffling ------------------------------------------------


def short_call_app() -> TwimlApp:
    return TwimlApp({"/voice": twiml(lambda r: (r.say("Hello."), r.hangup()))})


@pytest.mark.parametrize("token_reuse", [False, True])
async def test_status_callbacks_are_numbered_and_duplicated(token_reuse: bool) -> None:
    app = short_call_app()
    events = frozenset({"ringing", "answered", "completed"})
    async with serve(app) as (base,):
        config = settings(
            base,
            status_callback_events=events,
            duplicate_status_callbacks=True,
            idempotency_token_reuse=token_reuse,
        )
        record = await call(config, [])
    statuses = [r for r in app.received if r.path == "/status"]
    assert [r.params["SequenceNumber"] for r in statuses] == ["0", "0", "1", "1", "2", "2"]
    assert [r.params["CallStatus"] for r in statuses[::2]] == [
        "ringing",
        "in-progress",
        "completed",
    ]
    assert {r.params["CallSid"] for r in statuses} == {record.call_sid}
    for first, again in zip(statuses[::2], statuses[1::2], strict=True):
        assert first.params == again.params
        same = (
            first.headers["I-Twilio-Idempotency-Token"]
            == again.headers["I-Twilio-Idempotency-Token"]
        )
        assert same is token_reuse


async def test_shuffled_status_callbacks_arrive_out_of_order() -> None:
    app = dial_app()
    events = frozenset({"ringing", "answered", "completed"})
    async with serve(app) as (base,):
        config = settings(
            base, status_callback_events=events, shuffle_status_callbacks=True, seed=3
        )
        await call(config, [{"transfer": "accepted", "duration": 95}])
    callbacks = [r.params for r in app.received if r.path in ("/status", "/child-status")]
    order = [(p["CallSid"], int(p["SequenceNumber"])) for p in callbacks]
    assert len(order) == 7 and sorted(order) != order
    parent = sorted(int(p["SequenceNumber"]) for p in app.to("/status"))
    child = sorted(int(p["SequenceNumber"]) for p in app.to("/child-status"))
    assert (parent, child) == ([0, 1, 2], [0, 1, 2, 3])


# -- load balancing, the request cap, application errors -----------------------------------------


async def test_backends_round_robin_with_signatures_over_the_public_url() -> None:
    app = TwimlApp(
        {
            "/voice": twiml(lambda r: r.redirect("/a")),
            "/a": twiml(lambda r: r.redirect("b?step=2")),
            "/b": twiml(lambda r: r.redirect("/c", method="GET")),
            "/c": hangup,
        },
        public_base=PUBLIC,
    )
    async with serve(app, sites=2) as backends:
        ports = [int(b.rsplit(":", 1)[1]) for b in backends]
        record = await call(settings(PUBLIC, backends=backends), [])

    assert app.paths == ["/voice", "/a", "/b", "/c", "/status"]
    assert all(r.valid for r in app.received)
    assert [r.port for r in app.received] == [ports[0], ports[1], ports[0], ports[1], ports[0]]
    assert app.to("/b")[0]["step"] == "2"
    assert [r.url for r in record.requests][:3] == [
        f"{PUBLIC}/voice",
        f"{PUBLIC}/a",
        f"{PUBLIC}/b?step=2",
    ]
    assert record.requests[3].method == "GET"
    assert record.requests[3].url.startswith(f"{PUBLIC}/c?CallSid={record.call_sid}&")
    assert record.requests[0].sent_to == f"{backends[0]}/voice"


async def test_connect_failure_is_retried_once_on_the_next_backend() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    app = TwimlApp({"/voice": hangup}, public_base=PUBLIC)
    async with serve(app) as (live,):
        for reuse in (True, False):
            config = settings(
                PUBLIC,
                backends=[dead, live],
                idempotency_token_reuse=reuse,
                status_callback_url=None,
            )
            record = await call(config, [])
            failed, retried = record.requests
            assert (failed.sent_to, failed.status) == (f"{dead}/voice", None)
            assert failed.error is not None and failed.error.startswith("connect failed")
            assert (retried.sent_to, retried.status) == (f"{live}/voice", 200)
            assert (failed.idempotency_token == retried.idempotency_token) is reuse
            assert record.ended_by == "app-hangup"
    assert len(app.received) == 2 and all(r.valid for r in app.received)


async def test_request_cap_stops_a_looping_app() -> None:
    app = TwimlApp({"/voice": twiml(lambda r: r.redirect("/voice"))})
    async with serve(app) as (base,):
        record = await call(settings(base, max_requests_per_call=25), [])
    assert app.paths.count("/voice") == 25
    assert record.ended_by == "request-limit"
    assert app.to("/status")[0]["CallStatus"] == "completed"


async def test_server_error_goes_to_the_fallback_url_with_error_code() -> None:
    def fallback(r: VoiceResponse) -> None:
        r.say("Sorry, we are having technical difficulties.")
        r.hangup()

    app = TwimlApp(
        {"/voice": lambda params: web.Response(status=500), "/fallback": twiml(fallback)}
    )
    async with serve(app) as (base,):
        rescued = await call(settings(base, fallback_url=f"{base}/fallback"), [])
        failed = await call(settings(base), [])

    first_fallback = app.to("/fallback")[0]
    assert (first_fallback["ErrorCode"], first_fallback["ErrorUrl"]) == ("11200", f"{base}/voice")
    assert first_fallback["CallSid"] == rescued.call_sid
    assert rescued.said == ["Sorry, we are having technical difficulties."]
    assert (rescued.ended_by, rescued.error_code) == ("app-hangup", None)
    assert (failed.ended_by, failed.error_code) == ("application-error", 11200)
    assert failed.heard[-1].kind == "carrier"


async def test_timeout_and_bad_twiml_are_application_errors() -> None:
    release = asyncio.Event()

    async def stuck(params: dict[str, str]) -> web.Response:
        await release.wait()
        return web.Response(status=200)

    app = TwimlApp(
        {
            "/voice": stuck,
            "/bad": lambda params: web.Response(
                text="<Response><Bogus/></Response>", content_type="text/xml"
            ),
        }
    )
    async with serve(app) as (base,):
        timed_out = await call(
            settings(base, request_timeout_s=0.2, fallback_url=f"{base}/bad"), []
        )
        release.set()
    (first,) = [r for r in timed_out.requests if r.kind == "voice"]
    assert (first.status, first.error) == (None, "timeout")
    assert app.to("/bad")[0]["ErrorCode"] == "11205"
    assert (timed_out.ended_by, timed_out.error_code) == ("application-error", 12100)


async def test_reject_ends_the_call_unanswered() -> None:
    app = TwimlApp({"/voice": twiml(lambda r: r.reject(reason="busy"))})
    async with serve(app) as (base,):
        record = await call(settings(base), [])
    status = app.to("/status")[0]
    assert (status["CallStatus"], status["CallDuration"], status["SipResponseCode"]) == (
        "busy",
        "0",
        "486",
    )
    assert "Duration" not in status
    assert (record.ended_by, record.call_status) == ("rejected", "busy")


# -- the scripted caller -------------------------------------------------------------------------


async def test_script_mismatch_and_running_out_fail_clearly() -> None:
    def speech_only(r: VoiceResponse) -> None:
        r.gather(input="speech", action="/state").say("Which state is the property in?")

    app = TwimlApp({"/voice": twiml(speech_only)})
    async with serve(app) as (base,):
        with pytest.raises(
            ScriptError,
            match=r"turn 0 \{'digits': '1'\} does not answer "
            r"<Gather input='speech'>; the caller heard: Which state",
        ):
            await call(settings(base), [{"digits": "1"}])
        with pytest.raises(ScriptError, match="script ran out of turns: the app asked for <Gather"):
            await call(settings(base), [])


def test_script_turns_are_validated_up_front() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        ScriptedCaller([{"digits": "1", "confidence": 0.5}])
    with pytest.raises(ValueError, match="transfer must be one of"):
        ScriptedCaller([{"transfer": "maybe"}])
    with pytest.raises(ValueError, match="digits must be"):
        ScriptedCaller([{"digits": "12a"}])
