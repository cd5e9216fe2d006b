"""Every webhook route against random and hostile requests, each one correctly signed.

Whatever the fields, the turn or the body size, a route answers with a 4xx that says why or with
well-formed TwiML that echoes no markup; no exception escapes to aiohttp (which would log it and
answer 500); and a call in progress keeps a state that can still be read and advanced. An exact
repeat of a request gets the same answer (Twilio retries; see also
``tests/integration/test_webhooks.py::test_digits_advance_and_duplicate_webhook_replays_same_answer``).
"""

from __future__ import annotations

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from ivr.records.journal import RECORDS_STREAM
from ivr.server.app import MAX_WEBHOOK_BYTES, WEBHOOKS
from tests.fuzz.hostile import (
    CALLBACK_ROUTES,
    FUZZ,
    ROUTE_FIELDS,
    ROUTES,
    TURN_ROUTES,
    Carrier,
    check_answer,
    edits_for,
    escaped_exceptions,
    fresh_sid,
    too_large,
)
from tests.integration.test_webhooks import at_the_transfer, officer_leg, verbs

pytestmark = pytest.mark.integration

TRANSFER_ROUTES = frozenset(
    {"/twilio/dial", "/twilio/whisper", "/twilio/whisper-reply", "/twilio/officer-status"}
)


async def test_the_fuzzed_routes_are_every_webhook_route(carrier: Carrier) -> None:
    served = [route.path for route in carrier.app[WEBHOOKS].routes()]
    assert sorted(served) == sorted(ROUTES)
    assert set(ROUTES) >= CALLBACK_ROUTES | TURN_ROUTES


@pytest.mark.parametrize("path", ROUTES)
@FUZZ
@given(data=st.data())
async def test_any_request_for_an_unknown_call_is_answered_cleanly(
    carrier: Carrier, caplog: pytest.LogCaptureFixture, path: str, data: st.DataObject
) -> None:
    hostile = data.draw(edits_for(path))
    carrier.call_sid = fresh_sid()
    form = hostile.form(carrier.params(ParentCallSid=carrier.call_sid, **ROUTE_FIELDS[path]))
    status, body = await carrier.send(path, hostile.query(1), form)
    event(f"answered {status}")
    assert status != 403, "a correctly signed request was refused"
    if too_large(form):
        assert status == 413
    check_answer(path, status, body, hostile.injected())
    assert escaped_exceptions(caplog) == []


@pytest.mark.parametrize("path", ROUTES)
@FUZZ
@given(data=st.data())
async def test_any_request_during_a_call_leaves_it_readable_and_repeats_identically(
    carrier: Carrier, caplog: pytest.LogCaptureFixture, path: str, data: st.DataObject
) -> None:
    hostile = data.draw(edits_for(path))
    # Most of a transfer route's requests find the call at its transfer, the others' at its start.
    at_transfer = data.draw(
        st.sampled_from((True, True, True, False)) if path in TRANSFER_ROUTES else st.booleans()
    )
    carrier.call_sid = fresh_sid()
    if at_transfer:  # the officer's phone is ringing: the whisper routes have work to do
        await at_the_transfer(carrier)
    else:
        assert (await carrier.post("/twilio/voice", carrier.params(CallStatus="ringing")))[0] == 200
    before = await carrier.readable_state(carrier.call_sid)
    assert before is not None
    good = (
        officer_leg(carrier, "+15125550121")(**ROUTE_FIELDS[path])
        if path.startswith("/twilio/whisper")
        else carrier.params(ParentCallSid=carrier.call_sid, **ROUTE_FIELDS[path])
    )
    form = hostile.form(good)
    query = hostile.query(before.turn)
    answer = await carrier.send(path, query, form)
    status, body = answer
    event(f"answered {status}")
    assert status != 403, "a correctly signed request was refused"
    if too_large(form):
        assert status == 413
    check_answer(path, status, body, hostile.injected())
    after = await carrier.readable_state(carrier.call_sid)  # raises if it no longer parses
    assert after is not None
    if path not in TURN_ROUTES or any(name == "turn" for name, _ in query):
        # Only a turn route without its turn (no webhook of ours is sent so) may advance again.
        stored = await carrier.state(carrier.call_sid)
        assert await carrier.send(path, query, form) == answer
        assert await carrier.state(carrier.call_sid) == stored
    # The call goes on: its next webhook is answered with TwiML.
    status, body = await carrier.post("/twilio/no-input?turn=" + str(after.turn), carrier.params())
    assert status == 200 and verbs(body)
    assert escaped_exceptions(caplog) == []


@pytest.mark.parametrize("path", ROUTES)
async def test_a_body_over_the_size_limit_is_413_with_a_message(
    carrier: Carrier, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    form = [*carrier.params().items(), ("SpeechResult", "x" * MAX_WEBHOOK_BYTES)]
    status, body = await carrier.send(path, [("turn", "1")], form)
    assert status == 413
    assert "exceeded" in body.lower() or "too large" in body.lower(), body
    assert escaped_exceptions(caplog) == []


FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = (
    FORM,
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/x-www-form-urlencoded; charset=no-such-charset",
    "multipart/form-data",
    "multipart/form-data; boundary=xx",
    "text/plain",
    "",
)
MULTIPART_FILE = (
    b'--xx\r\nContent-Disposition: form-data; name="CallSid"; filename="a.txt"\r\n\r\n'
    b"CA1\r\n--xx--\r\n"
)
MULTIPART_BINARY = (
    b'--xx\r\nContent-Disposition: form-data; name="CallSid"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\nCA1\r\n--xx--\r\n"
)
MULTIPART_NAMELESS = b"--xx\r\nContent-Disposition: form-data\r\n\r\nCA1\r\n--xx--\r\n"
bodies = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"CallSid=\xff\xfe",
            b"%%%&&==&a=%zz",
            MULTIPART_FILE,
            MULTIPART_BINARY,
            MULTIPART_NAMELESS,
        ]
    ),
)


@FUZZ
@given(path=st.sampled_from(ROUTES), content_type=st.sampled_from(CONTENT_TYPES), body=bodies)
async def test_a_body_that_is_no_form_is_refused_before_any_handler(
    carrier: Carrier,
    caplog: pytest.LogCaptureFixture,
    path: str,
    content_type: str,
    body: bytes,
) -> None:
    """Bytes that are not a text form (a broken charset, a file upload, a nameless multipart
    field) used to escape from the signature check as a 500; the signature cannot sign them."""
    headers = {"X-Twilio-Signature": "Zm9yZ2Vk", "Content-Type": content_type}
    async with carrier.session.post(carrier.base + path, data=body, headers=headers) as response:
        status, text = response.status, await response.text()
    event(f"answered {status}")
    assert status in (400, 403), (status, text)
    check_answer(path, status, text, [])
    assert escaped_exceptions(caplog) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"CallSid=\xff\xfe", "not a readable form"),
        (MULTIPART_FILE, "must be text"),
        (MULTIPART_BINARY, "must be text"),
        (MULTIPART_NAMELESS, "not a readable form"),
    ],
)
async def test_each_kind_of_unreadable_body_is_a_400_that_says_why(
    carrier: Carrier, caplog: pytest.LogCaptureFixture, body: bytes, message: str
) -> None:
    multipart = body.startswith(b"--")
    content_type = "multipart/form-data; boundary=xx" if multipart else FORM
    headers = {"X-Twilio-Signature": "Zm9yZ2Vk", "Content-Type": content_type}
    async with carrier.session.post(
        carrier.base + "/twilio/voice", data=body, headers=headers
    ) as response:
        assert response.status == 400
        assert message in await response.text()
    assert escaped_exceptions(caplog) == []


@pytest.mark.parametrize("number", ["nan", "inf", "-inf", "1e999"])
async def test_a_non_finite_duration_keeps_the_call_readable(carrier: Carrier, number: str) -> None:
    """Found by the properties: a NaN dial duration was stored as null and the call's state
    no longer loaded, so every later webhook of the call failed."""
    await at_the_transfer(carrier)
    status, _ = await carrier.post(
        "/twilio/dial?turn=5",
        carrier.params(DialCallStatus="completed", DialBridged="true", DialCallDuration=number),
    )
    assert status == 200
    state = await carrier.readable_state(carrier.call_sid)
    assert state is not None and state.outcome == "transferred"
    assert [a.duration_s for a in state.transfers] == [0.0]


async def test_a_repeated_status_callback_writes_nothing(carrier: Carrier) -> None:
    """Found by the properties: every repeat of an ended call's status callback rewrote the
    same state under a new version, and journaled it again for the records."""
    await carrier.post("/twilio/voice", carrier.params(CallStatus="ringing"))
    ended = carrier.params(CallStatus="completed", CallDuration="14")
    assert (await carrier.post("/twilio/status", ended))[0] == 200
    stored = await carrier.state(carrier.call_sid)
    revisions = await state_revisions(carrier)
    for _ in range(3):
        assert (await carrier.post("/twilio/status", ended))[0] == 200
    assert await carrier.state(carrier.call_sid) == stored
    assert await state_revisions(carrier) == revisions == [b"1", b"2"]


async def state_revisions(carrier: Carrier) -> list[bytes]:
    """The call's states in the records journal (its callbacks are journaled beside them)."""
    entries = await carrier.redis.xrange(RECORDS_STREAM)
    return [fields[b"revision"] for _, fields in entries if fields[b"kind"] == b"state"]
