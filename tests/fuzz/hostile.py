"""Hostile input for the fuzz tests, and a carrier that signs whatever it is given.

The carrier is the integration tests' :class:`~tests.integration.test_webhooks.Twilio` with
three additions: its own CallSid (each hypothesis example places its own call), repeated form
keys, and a URL sent byte for byte as it was signed (odd ``turn`` values must reach the
handlers, not be requoted by the client into a request whose signature no longer matches).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from multidict import MultiDict
from redis.asyncio import Redis
from yarl import URL

from ivr.engine.state import CallState
from ivr.server.app import MAX_WEBHOOK_BYTES
from tests.integration.test_webhooks import PUBLIC, Twilio

Pairs = list[tuple[str, str]]

FUZZ = settings(
    derandomize=True,  # the same examples on every run and in CI
    database=None,
    deadline=None,
    max_examples=50,
    # One app and one Redis database serve every example of a test on purpose: each example
    # places its own call under its own CallSid, so examples do not see each other's state.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

INJECTED_NUMBER = "+19995550123"
INJECTIONS = (
    "' OR '1'='1",
    "1; DROP TABLE calls; --",
    f"</Say><Dial>{INJECTED_NUMBER}</Dial><Say>",
    f'"/><Dial><Number>{INJECTED_NUMBER}</Number></Dial><Say a="',
    "<![CDATA[<Hangup/>]]>",
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>',
    "{{7*7}}",
    "${7*7}",
    "{% for x in range(9) %}x{% endfor %}",
    "%s%s%s%n",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "\x00",
    "a\x00b",
    "\u202eevil\u202c",
    "\u05e9\u05dc\u05d5\u05dd",  # right-to-left text
    "\ufeff",
    "\U0010ffff",
    "\uffff",
    "\U0001f600",
    "\r\nX-Injected: 1",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e999",
    "-1",
    "0",
    "9" * 40,
    "",
    " ",
    "hangup",
    "completed",
    "in-progress",
    "true",
)
ODD_TURNS = (
    "",
    "x",
    "-1",
    "0",
    "1.0",
    "1e3",
    " 1",
    "1_0",
    "0x1",
    "\u0663",  # an Arabic-Indic three: int() reads it
    "NaN",
    "9" * 5000,
    "%00",
    "1\x00",
)
TWILIO_NAMES = (
    "CallSid",
    "ParentCallSid",
    "AccountSid",
    "From",
    "To",
    "CallStatus",
    "ApiVersion",
    "Direction",
    "FromState",
    "Digits",
    "SpeechResult",
    "Confidence",
    "RecordingUrl",
    "RecordingSid",
    "RecordingStatus",
    "RecordingDuration",
    "RecordingChannels",
    "DialCallStatus",
    "DialBridged",
    "DialCallDuration",
    "DialCallSid",
    "CallDuration",
    "SequenceNumber",
)
TWIML_VERBS = frozenset(
    {"Response", "Say", "Play", "Pause", "Gather", "Redirect", "Record", "Dial", "Number", "Hangup"}
)
ROUTES = (
    "/twilio/voice",
    "/twilio/gather",
    "/twilio/no-input",
    "/twilio/record",
    "/twilio/dial",
    "/twilio/voice-answer",
    "/twilio/voice-wait",
    "/twilio/status",
    "/twilio/recording-status",
    "/twilio/whisper",
    "/twilio/whisper-reply",
    "/twilio/officer-status",
)
"""Every webhook route (a test checks this against the app's own list)."""
TURN_ROUTES = frozenset(
    {
        "/twilio/gather",
        "/twilio/no-input",
        "/twilio/record",
        "/twilio/dial",
        "/twilio/voice-answer",
        "/twilio/voice-wait",
    }
)
CALLBACK_ROUTES = frozenset(
    {"/twilio/status", "/twilio/recording-status", "/twilio/officer-status"}
)
"""Asynchronous callbacks: Twilio reads no TwiML from them, an empty 200 is their answer."""

# Odd code points but no lone surrogates: those cannot be encoded, so no carrier can send them.
odd_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
NUMBERS = ("nan", "-nan", "inf", "-Infinity", "1e999", "-1e999", "-0", "1e-999", "0x10", "1_0")
values = st.one_of(
    st.sampled_from(INJECTIONS),
    st.sampled_from(NUMBERS),
    odd_text,
    st.integers().map(str),
    st.floats().map(str),
    st.sampled_from(["x", "\u00e9", "<"]).map(lambda c: c * 3000),
)
short = st.one_of(st.sampled_from(INJECTIONS), odd_text)
"""Values for the query string: an HTTP request line stays under aiohttp's 8 KiB limit."""
names = st.one_of(st.sampled_from(TWILIO_NAMES), odd_text)
in_sequence = st.just("current")  # the call's turn now
turns = st.one_of(
    in_sequence,  # most requests are in sequence, or the handler answers the last turn again
    in_sequence,
    st.one_of(st.none(), st.integers(-3, 12).map(str), st.sampled_from(ODD_TURNS), odd_text),
)


@dataclass(frozen=True)
class Edits:
    """What a hostile request does to a good one: fields dropped, replaced and repeated."""

    dropped: frozenset[str]
    replaced: dict[str, str]
    added: tuple[tuple[str, str], ...]
    turn: str | None
    extra_query: tuple[tuple[str, str], ...]

    def form(self, good: dict[str, str]) -> Pairs:
        pairs = [(k, v) for k, v in {**good, **self.replaced}.items() if k not in self.dropped]
        return pairs + list(self.added)

    def query(self, current_turn: int) -> Pairs:
        turn = str(current_turn) if self.turn == "current" else self.turn
        return ([("turn", turn)] if turn is not None else []) + list(self.extra_query)

    def injected(self) -> list[str]:
        return [
            *self.replaced.values(),
            *(v for _, v in self.added),
            *(v for _, v in self.query(1)),
        ]


ROUTE_FIELDS: dict[str, dict[str, str]] = {
    "/twilio/voice": {"CallStatus": "ringing"},
    "/twilio/gather": {"Digits": "1", "SpeechResult": "refinance", "Confidence": "0.9"},
    "/twilio/no-input": {},
    "/twilio/record": {"RecordingUrl": "https://api.twilio.com/RE9", "RecordingDuration": "7"},
    "/twilio/dial": {
        "DialCallStatus": "completed",
        "DialBridged": "true",
        "DialCallDuration": "245",
        "DialCallSid": "CA" + "7" * 32,
    },
    "/twilio/voice-answer": {
        "RecordingUrl": "https://api.twilio.com/RE8",
        "RecordingDuration": "3",
    },
    "/twilio/voice-wait": {},
    "/twilio/status": {"CallStatus": "completed", "CallDuration": "14", "SequenceNumber": "0"},
    "/twilio/recording-status": {
        "RecordingSid": "RE" + "3" * 32,
        "RecordingUrl": "https://api.twilio.com/RE3",
        "RecordingStatus": "completed",
        "RecordingDuration": "42",
        "RecordingChannels": "2",
    },
    "/twilio/whisper": {},
    "/twilio/whisper-reply": {"Digits": "1"},
    "/twilio/officer-status": {"CallStatus": "in-progress"},
}
"""What Twilio sends each route besides the call's own fields: what hostile edits start from."""


def edits_for(path: str) -> st.SearchStrategy[Edits]:
    """Edits that favour the route's own fields, so most examples reach its handler's logic."""
    own = sorted(ROUTE_FIELDS[path]) or ["Digits"]
    own_values = st.one_of(values, st.sampled_from(NUMBERS))
    field_names = st.one_of(st.sampled_from(own), names)
    replaced = st.tuples(
        st.fixed_dictionaries({}, optional=dict.fromkeys(own, own_values)),
        st.dictionaries(names, values, max_size=3),
    ).map(lambda both: {**both[1], **both[0]})
    return st.builds(
        Edits,
        dropped=st.frozensets(st.sampled_from(TWILIO_NAMES), max_size=3),
        replaced=replaced,
        added=st.lists(st.tuples(field_names, values), max_size=3).map(tuple),
        turn=turns,
        extra_query=st.lists(
            st.tuples(st.sampled_from(["turn", "deadline", "claim", "x"]), st.one_of(short, turns)),
            max_size=2,
        ).map(lambda pairs: tuple((k, v or "") for k, v in pairs)),
    )


_SIDS = count(1)


def fresh_sid() -> str:
    """A CallSid no other example of the test has used."""
    return f"CA{next(_SIDS):032x}"


def query_string(pairs: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


class Carrier(Twilio):
    """Twilio, placing calls under a CallSid of the test's choosing."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, app: web.Application, redis: Redis
    ) -> None:
        super().__init__(session, base)
        self.app = app
        self.redis = redis
        self.call_sid = "CA" + "1" * 32

    def params(self, **extra: str) -> dict[str, str]:
        return super().params(**{"CallSid": self.call_sid, **extra})

    async def send(
        self, path: str, query: Sequence[tuple[str, str]], form: Sequence[tuple[str, str]]
    ) -> tuple[int, str]:
        """Sign ``form`` for exactly this path and query, as Twilio does, and post it."""
        return await self.send_raw(path + ("?" + query_string(query) if query else ""), form)

    async def send_raw(
        self, raw_path: str, form: Sequence[tuple[str, str]], signature: str | None = None
    ) -> tuple[int, str]:
        """Post ``form`` to ``raw_path`` as written, signed for it unless a signature is given."""
        if signature is None:
            signature = self.validator.compute_signature(PUBLIC + raw_path, MultiDict(form))
        async with self.session.post(
            URL(self.base + raw_path, encoded=True),
            data=form_body(form),
            headers={
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        ) as response:
            return response.status, await response.text()

    async def state(self, call_sid: str) -> dict[bytes, bytes]:
        """Everything stored for the call, byte for byte."""
        return dict(await self.redis.hgetall(f"warmline:call:{call_sid}"))  # type: ignore[misc]

    async def readable_state(self, call_sid: str) -> CallState | None:
        raw = await self.redis.hget(f"warmline:call:{call_sid}", "state")  # type: ignore[misc]
        return None if raw is None else CallState.model_validate_json(raw)


def form_body(form: Sequence[tuple[str, str]]) -> bytes:
    return urlencode(list(form)).encode()


def too_large(form: Sequence[tuple[str, str]]) -> bool:
    return len(form_body(form)) > MAX_WEBHOOK_BYTES


def check_answer(path: str, status: int, body: str, injected: Sequence[str]) -> None:
    """A webhook's answer to anything: a 4xx that says why, or TwiML that echoes no markup."""
    assert status < 500, body
    if 400 <= status < 500:
        assert body.strip(), f"{status} without a message"
        assert any(c.isalpha() for c in body) and "Traceback" not in body, body
        return
    assert status == 200, (status, body)
    if path in CALLBACK_ROUTES and not body:
        return
    root = ET.fromstring(body)  # well-formed, or this raises
    assert root.tag == "Response"
    assert {el.tag for el in root.iter()} <= TWIML_VERBS, body
    for element in root.iter():
        if element.tag in ("Dial", "Number"):
            assert INJECTED_NUMBER not in "".join(element.itertext()), body
    for value in injected:
        if "<" in value and len(value) > 1:
            assert value not in body, f"reflected as markup: {value!r}"


def escaped_exceptions(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Errors logged with a traceback: aiohttp logs one for every exception a handler lets out
    (and answers 500)."""
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.exc_info
    ]
