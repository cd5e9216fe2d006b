"""The Twilio webhooks served by the real app over a real socket, with real Redis.

Requests are signed exactly as Twilio signs them; TwiML answers are parsed and checked verb by
verb. (Whole calls across server processes are in ``tests/e2e``.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from blockbuster import blockbuster_ctx
from redis.asyncio import Redis
from twilio.request_validator import RequestValidator

from ivr.config import Settings
from ivr.deployment import load_setup
from ivr.engine.state import CallState
from ivr.server.app import create_app
from ivr.telephony.recording_events import RECORDINGS_STREAM
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, ROOT

pytestmark = pytest.mark.integration

PUBLIC = "https://ivr.example.test"
CALL_SID = "CA" + "1" * 32
TRACKING = "+18005550100"


class Twilio:
    """Signs and posts webhooks as Twilio would, to the app's real socket."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.validator = RequestValidator(AUTH_TOKEN)

    def params(self, **extra: str) -> dict[str, str]:
        params = {
            "CallSid": CALL_SID,
            "AccountSid": ACCOUNT_SID,
            "From": "+15125550123",
            "To": TRACKING,
            "CallStatus": "in-progress",
            "ApiVersion": "2010-04-01",
            "Direction": "inbound",
            "FromState": "TX",
        }
        params.update(extra)
        return params

    async def post(
        self, url: str, params: Mapping[str, str], signature: str | None = None
    ) -> tuple[int, str]:
        if not url.startswith("http"):
            url = PUBLIC + url
        signature = signature or self.validator.compute_signature(url, dict(params))
        target = self.base + urlsplit(url).path + ("?" + urlsplit(url).query if "?" in url else "")
        async with self.session.post(
            target, data=dict(params), headers={"X-Twilio-Signature": signature}
        ) as response:
            return response.status, await response.text()


@pytest.fixture
async def twilio(
    redis: Redis, redis_url: str, scenario_deployment_path: Path
) -> AsyncIterator[Twilio]:
    settings = Settings(twilio_auth_token=AUTH_TOKEN, public_url=PUBLIC, intent_model="")  # type: ignore[call-arg]
    await redis.delete(*[f"warmline:routing:legs:{o}" for o in ("amy-ng", "bo-reyes")])
    app = create_app(settings, load_setup(scenario_deployment_path), redis_url)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        # Any blocking call (file, socket, sleep) made on the event loop from here fails the test.
        with blockbuster_ctx():
            yield Twilio(session, str(server.make_url("")).rstrip("/"))


async def stored(redis: Redis) -> CallState:
    raw = await redis.hget(f"warmline:call:{CALL_SID}", "state")
    assert raw is not None
    return CallState.model_validate_json(raw)


def verbs(twiml: str) -> list[ET.Element]:
    return list(ET.fromstring(twiml))


def said(twiml: str) -> list[str]:
    return [el.text or "" for el in ET.fromstring(twiml).iter("Say")]


async def test_incoming_call_answers_disclosure_and_first_gather(twilio: Twilio) -> None:
    status, body = await twilio.post("/twilio/voice", twilio.params(CallStatus="ringing"))
    assert status == 200
    say, gather, redirect = verbs(body)
    assert say.tag == "Say" and "may be recorded" in (say.text or "")
    assert gather.tag == "Gather"
    assert gather.attrib["action"] == f"{PUBLIC}/twilio/gather?turn=1"
    assert gather.attrib["input"] == "dtmf speech"
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["speechTimeout"] == "auto"
    assert (redirect.tag, redirect.text) == ("Redirect", f"{PUBLIC}/twilio/no-input?turn=1")


async def test_forged_and_missing_signatures_get_403(twilio: Twilio) -> None:
    params = twilio.params()
    status, body = await twilio.post("/twilio/voice", params, signature="Zm9yZ2VkIHNpZ25hdHVyZQ==")
    assert status == 403 and "Invalid Twilio signature" in body
    # A valid signature for another URL (replayed elsewhere) is refused too.
    other = twilio.validator.compute_signature(f"{PUBLIC}/twilio/status", params)
    assert (await twilio.post("/twilio/voice", params, signature=other))[0] == 403
    # Tampering with one parameter after signing.
    good = twilio.validator.compute_signature(f"{PUBLIC}/twilio/voice", params)
    assert (await twilio.post("/twilio/voice", {**params, "To": "+18005550101"}, good))[0] == 403
    async with twilio.session.post(f"{twilio.base}/twilio/voice", data=params) as response:
        assert response.status == 403


async def test_unknown_number_gets_a_polite_message_and_hang_up(twilio: Twilio) -> None:
    status, body = await twilio.post("/twilio/voice", twilio.params(To="+18005550199"))
    assert status == 200
    assert [v.tag for v in verbs(body)] == ["Say", "Hangup"]
    assert "not in service" in said(body)[0]


async def test_digits_advance_and_duplicate_webhook_replays_same_answer(
    twilio: Twilio, redis: Redis
) -> None:
    await twilio.post("/twilio/voice", twilio.params(CallStatus="ringing"))
    first = await twilio.post("/twilio/gather?turn=1", twilio.params(Digits="1"))
    assert first[0] == 200
    assert "Which state is the property in?" in said(first[1])[0]
    assert 'action="https://ivr.example.test/twilio/gather?turn=2"' in first[1]
    # Twilio retries, or a duplicate: same turn → same TwiML, the call does not advance twice.
    again = await twilio.post("/twilio/gather?turn=1", twilio.params(Digits="3"))
    assert again == first
    state = await stored(redis)
    assert state.slots == {"loan_type": "refinance"}
    assert state.turn == 2


async def test_a_caller_from_an_all_party_state_is_asked_for_consent_first(
    twilio: Twilio, redis: Redis
) -> None:
    status, body = await twilio.post(
        "/twilio/voice", twilio.params(CallStatus="ringing", FromState="CA")
    )
    assert status == 200
    gather, redirect = verbs(body)  # no notice before it: the question is the disclosure
    assert gather.tag == "Gather" and gather.attrib["input"] == "dtmf speech"
    assert gather.attrib["action"] == f"{PUBLIC}/twilio/gather?turn=1"
    assert "To agree to being recorded, press 1 or say yes." in said(body)[0]
    assert (redirect.tag, redirect.text) == ("Redirect", f"{PUBLIC}/twilio/no-input?turn=1")
    status, body = await twilio.post(
        "/twilio/gather?turn=1", twilio.params(SpeechResult="no thanks", Confidence="0.9")
    )
    assert status == 200 and said(body)[0].startswith("What kind of loan")
    state = await stored(redis)
    assert state.consent is not None
    assert (state.consent.caller_state, state.consent.asked, state.consent.given) == (
        "CA",
        True,
        False,
    )
    assert state.consent.heard == "no thanks"
    assert state.recording_allowed is False and state.flow_version == "2"


async def test_no_input_redirect_reprompts(twilio: Twilio) -> None:
    await twilio.post("/twilio/voice", twilio.params(CallStatus="ringing"))
    status, body = await twilio.post("/twilio/no-input?turn=1", twilio.params())
    assert status == 200
    assert said(body)[0] == "Sorry, I didn't hear anything."
    assert said(body)[1].startswith("Press 1 for refinance")


async def test_speech_result_fills_the_slot(twilio: Twilio, redis: Redis) -> None:
    await twilio.post("/twilio/voice", twilio.params(CallStatus="ringing"))
    await twilio.post(
        "/twilio/gather?turn=1", twilio.params(SpeechResult="cash out", Confidence="0.8")
    )
    status, body = await twilio.post(
        "/twilio/gather?turn=2", twilio.params(SpeechResult="Washington DC.", Confidence="0.9")
    )
    assert status == 200 and "describe your credit" in said(body)[0]
    state = await stored(redis)
    assert state.slots == {"loan_type": "cash_out", "state": "DC"}
    assert state.answers["state"].confidence == 0.9


async def test_goal_words_are_scored_in_the_same_webhook_then_transfer_then_voicemail(
    twilio: Twilio, redis: Redis
) -> None:
    await twilio.post("/twilio/voice", twilio.params(CallStatus="ringing"))
    await twilio.post("/twilio/gather?turn=1", twilio.params(Digits="1"))
    await twilio.post("/twilio/gather?turn=2", twilio.params(Digits="75201"))
    _, body = await twilio.post("/twilio/gather?turn=3", twilio.params(Digits="2"))
    gather = next(v for v in verbs(body) if v.tag == "Gather")
    assert gather.attrib["input"] == "speech"  # the free-form question: words only
    assert gather.attrib["action"] == f"{PUBLIC}/twilio/gather?turn=4"
    assert "numDigits" not in gather.attrib
    # One webhook: the answer is scored and an officer claimed; the caller is already ringing.
    _, body = await twilio.post(
        "/twilio/gather?turn=4",
        twilio.params(SpeechResult="I want to lower my rate on my house", Confidence="0.87"),
    )
    dial = next(v for v in verbs(body) if v.tag == "Dial")
    assert dial.attrib["action"] == f"{PUBLIC}/twilio/dial?turn=5"
    assert dial.attrib["answerOnBridge"] == "true"
    assert dial.attrib["record"] == "record-from-answer-dual"
    assert [n.text for n in dial.iter("Number")] == ["+15125550121"]  # Tess's TX licence expired
    state = await stored(redis)
    assert state.path[-4:] == ["goal", "qualify", "route", "connect"]
    slots = {k: state.slots[k] for k in ("goal", "intent", "score", "qualified")}
    assert slots == {
        "goal": "I want to lower my rate on my house",
        "intent": "unknown",
        "score": "70",
        "qualified": "yes",
    }
    assert state.qualification is not None
    assert state.qualification.explained == ["intent model not loaded (+70)"]
    # Both officers decline: completed with DialBridged=false is NOT a transfer.
    _, body = await twilio.post(
        "/twilio/dial?turn=5",
        twilio.params(DialCallStatus="completed", DialBridged="false", DialCallSid="CA" + "2" * 32),
    )
    assert said(body)[0] == "That officer just became unavailable. Please hold while I try another."
    assert [n.text for n in ET.fromstring(body).iter("Number")] == ["+14045550122"]
    _, body = await twilio.post(
        "/twilio/dial?turn=6",
        twilio.params(DialCallStatus="no-answer", DialBridged="false", DialCallSid="CA" + "4" * 32),
    )
    assert "leave your name" in said(body)[0]
    assert [v.tag for v in verbs(body)][-2:] == ["Record", "Redirect"]
    record = next(v for v in verbs(body) if v.tag == "Record")
    assert record.attrib["action"] == f"{PUBLIC}/twilio/record?turn=7"
    assert record.attrib["maxLength"] == "60"
    assert record.attrib["recordingStatusCallback"] == f"{PUBLIC}/twilio/recording-status"
    state = await stored(redis)
    assert [(a.officer, a.outcome) for a in state.transfers] == [
        ("amy-ng", "declined"),
        ("bo-reyes", "no_answer"),
    ]


async def test_the_officer_hears_the_whisper_and_accepts_with_1(
    twilio: Twilio, redis: Redis
) -> None:
    dial = await at_the_transfer(twilio)
    (number,) = dial.iter("Number")
    assert number.attrib["url"] == f"{PUBLIC}/twilio/whisper?turn=5"
    callback = urlsplit(number.attrib["statusCallback"])
    assert callback.path == "/twilio/officer-status" and callback.query.startswith("claim=")
    assert number.attrib["statusCallbackEvent"] == "initiated ringing answered completed"
    officer = officer_leg(twilio, "+15125550121")
    for status in ("initiated", "ringing", "in-progress"):
        assert (await twilio.post(number.attrib["statusCallback"], officer(CallStatus=status)))[
            0
        ] == 200
    # The officer's side: the call's summary, then one key; the caller hears ringing meanwhile.
    _, body = await twilio.post("/twilio/whisper?turn=5", officer())
    (gather, _, hangup) = verbs(body)
    assert (gather.attrib["numDigits"], gather.attrib["action"]) == (
        "1",
        f"{PUBLIC}/twilio/whisper-reply?turn=5",
    )
    assert said(body)[0] == (
        "New mortgage lead. Refinance, Texas, good credit, score 70. Press 1 to take the call, "
        "or hang up to pass."
    )
    assert hangup.tag == "Hangup"
    _, pressed_2 = await twilio.post("/twilio/whisper-reply?turn=5", officer(Digits="2"))
    assert [v.tag for v in verbs(pressed_2)] == ["Hangup"]
    _, pressed_1 = await twilio.post("/twilio/whisper-reply?turn=5", officer(Digits="1"))
    assert [v.tag for v in verbs(pressed_1)] == ["Say"]  # the document ends: Twilio bridges
    assert await live_legs(redis, "amy-ng") == 1
    _, body = await twilio.post(
        "/twilio/dial?turn=5",
        twilio.params(
            DialCallStatus="completed",
            DialBridged="true",
            DialCallDuration="245",
            DialCallSid=OFFICER_LEG,
        ),
    )
    assert [v.tag for v in verbs(body)] == ["Hangup"]
    state = await stored(redis)
    assert (state.status, state.outcome) == ("ended", "transferred")
    (attempt,) = state.transfers
    assert (attempt.officer, attempt.outcome, attempt.duration_s) == ("amy-ng", "bridged", 245.0)
    assert await live_legs(redis, "amy-ng") == 0
    # A late whisper for this turn (the call is over) hangs the officer up instead of bridging.
    _, late = await twilio.post("/twilio/whisper?turn=5", officer())
    assert [v.tag for v in verbs(late)] == ["Hangup"]


async def test_the_caller_hanging_up_during_the_transfer_frees_the_slot(
    twilio: Twilio, redis: Redis
) -> None:
    dial = await at_the_transfer(twilio)
    assert await live_legs(redis, "amy-ng") == 1
    # The caller hangs up while Amy's phone rings: Twilio cancels her leg and reports the dial.
    await twilio.post(
        "/twilio/dial?turn=5",
        twilio.params(CallStatus="completed", DialCallStatus="canceled", DialBridged="false"),
    )
    state = await stored(redis)
    assert (state.status, state.outcome) == ("ended", "abandoned")
    assert [(a.officer, a.outcome) for a in state.transfers] == [("amy-ng", "canceled")]
    assert await live_legs(redis, "amy-ng") == 0
    (number,) = dial.iter("Number")
    officer = officer_leg(twilio, "+15125550121")
    status, _ = await twilio.post(number.attrib["statusCallback"], officer(CallStatus="canceled"))
    assert status == 200


OFFICER_LEG = "CA" + "7" * 32


async def at_the_transfer(twilio: Twilio) -> ET.Element:
    """Answer the mortgage flow's questions (Texas refinance, good credit); returns the Dial."""
    await twilio.post("/twilio/voice", twilio.params(CallStatus="ringing"))
    for turn, answer in ((1, {"Digits": "1"}), (2, {"Digits": "75201"}), (3, {"Digits": "2"})):
        await twilio.post(f"/twilio/gather?turn={turn}", twilio.params(**answer))
    _, body = await twilio.post(
        "/twilio/gather?turn=4", twilio.params(SpeechResult="refinance to a lower rate")
    )
    return next(v for v in verbs(body) if v.tag == "Dial")


def officer_leg(twilio: Twilio, number: str) -> Callable[..., dict[str, str]]:
    """The officer leg's parameters: its own CallSid, the caller's as its parent."""

    def params(**extra: str) -> dict[str, str]:
        return twilio.params(
            CallSid=OFFICER_LEG,
            ParentCallSid=CALL_SID,
            Direction="outbound-dial",
            To=number,
            **extra,
        )

    return params


async def live_legs(redis: Redis, officer: str) -> int:
    return int(await redis.zcard(f"warmline:routing:legs:{officer}"))


async def test_status_callbacks_end_the_call_idempotently(twilio: Twilio, redis: Redis) -> None:
    await twilio.post("/twilio/voice", twilio.params(CallStatus="ringing"))
    params = twilio.params(CallStatus="completed", CallDuration="14", SequenceNumber="0")
    assert (await twilio.post("/twilio/status", params))[0] == 200
    assert (await twilio.post("/twilio/status", params))[0] == 200
    state = await stored(redis)
    assert (state.status, state.outcome) == ("ended", "abandoned")
    assert [h.event for h in state.history].count("caller_hung_up") == 1
    # A late webhook for the ended call is answered with a hang-up, not an error.
    status, body = await twilio.post("/twilio/gather?turn=1", twilio.params(Digits="1"))
    assert status == 200
    assert [v.tag for v in verbs(body)] == ["Hangup"]


async def test_recording_callbacks_enqueue_each_recording_once(
    twilio: Twilio, redis: Redis
) -> None:
    params = twilio.params(
        RecordingSid="RE" + "3" * 32,
        RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE3",
        RecordingStatus="completed",
        RecordingDuration="42",
        RecordingChannels="2",
        RecordingSource="DialVerb",
    )
    for _ in range(3):
        assert (await twilio.post("/twilio/recording-status", params))[0] == 200
    entries = await redis.xrange(RECORDINGS_STREAM)
    assert len(entries) == 1
    fields = entries[0][1]
    assert fields[b"CallSid"] == CALL_SID.encode()
    assert fields[b"RecordingChannels"] == b"2"


async def test_missing_call_sid_is_a_400_not_a_crash(twilio: Twilio) -> None:
    params = {k: v for k, v in twilio.params().items() if k != "CallSid"}
    status, body = await twilio.post("/twilio/gather?turn=1", params)
    assert status == 400 and "CallSid" in body


async def test_webhook_for_unknown_call_gets_defined_fallback(twilio: Twilio) -> None:
    status, body = await twilio.post("/twilio/gather?turn=4", twilio.params(Digits="1"))
    assert status == 200
    assert "technical difficulties" in said(body)[0]
    dial = next(v for v in verbs(body) if v.tag == "Dial")
    assert (dial.text or "").strip() == "+15125550100"  # the campaign's fallback number


async def test_redis_down_gives_the_caller_a_defined_fallback(redis: Redis, tmp_path: Path) -> None:
    settings = Settings(twilio_auth_token=AUTH_TOKEN, public_url=PUBLIC)  # type: ignore[call-arg]
    app = create_app(settings, load_setup(ROOT / "warmline.yaml"), "redis://127.0.0.1:1/0")
    app.cleanup_ctx.clear()  # start without the Redis ping: Redis is down from the outset
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        client = Twilio(session, str(server.make_url("")).rstrip("/"))
        status, body = await client.post("/twilio/voice", client.params(CallStatus="ringing"))
    assert status == 200
    assert "technical difficulties" in said(body)[0]


async def _to_voicemail(twilio: Twilio) -> None:
    """Poor credit scores under the threshold: the caller is offered a call-back (turn 5)."""
    await twilio.post("/twilio/voice", twilio.params(CallStatus="ringing"))
    await twilio.post("/twilio/gather?turn=1", twilio.params(Digits="1"))
    await twilio.post("/twilio/gather?turn=2", twilio.params(Digits="75201"))
    await twilio.post("/twilio/gather?turn=3", twilio.params(Digits="4"))
    await twilio.post("/twilio/gather?turn=4", twilio.params(SpeechResult="refinance my home"))


async def test_hang_up_during_record_without_audio_abandons(twilio: Twilio, redis: Redis) -> None:
    await _to_voicemail(twilio)
    params = twilio.params(RecordingUrl="https://api.twilio.com/RE9", RecordingDuration="0")
    await twilio.post("/twilio/record?turn=5", {**params, "Digits": "hangup"})
    state = await stored(redis)
    assert (state.status, state.outcome) == ("ended", "abandoned")
    assert "voicemail" not in state.answers


async def test_message_left_before_hanging_up_is_kept(twilio: Twilio, redis: Redis) -> None:
    await _to_voicemail(twilio)
    params = twilio.params(RecordingUrl="https://api.twilio.com/RE9", RecordingDuration="7")
    status, _ = await twilio.post("/twilio/record?turn=5", {**params, "Digits": "hangup"})
    assert status == 200
    state = await stored(redis)
    assert state.answers["voicemail"].value == "https://api.twilio.com/RE9"
    assert state.slots["score"] == "45"
