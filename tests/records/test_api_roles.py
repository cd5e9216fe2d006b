"""The REST API's role rules over a real socket, on SQLite and PostgreSQL: an officer's token
sees the officer's own calls, lines, recordings, transcripts and scores and nothing else (404,
like a call that does not exist); QA staff see every call but not the reports; admins and the
operator token see everything. Audio is never served without a token. Any blocking call on the
event loop fails the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from blockbuster import blockbuster_ctx
from redis.asyncio import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ivr.config import Settings
from ivr.deployment import load_setup
from ivr.records.record import call_record
from ivr.server.app import create_app
from tests.support.api import OPERATOR_TOKEN, Client, api_app, seed_api
from tests.support.services import AUTH_TOKEN
from tests.support.web import AUDIO

pytestmark = pytest.mark.integration

ANA_CALLS = ["CA-ana-next", "CA-ana-short", "CA-ana-paid", "CA-ana"]
ALL_CALLS = [
    "CA-ana-next", "CA-ben-paid", "CA-ana-short", "CA-ana-paid", "CA-nobody", "CA-ben", "CA-ana",
]  # fmt: skip
PER_CALL = ("", "/recordings", "/transcripts", "/score")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store" / "recordings"


@pytest.fixture
async def api(records: Engine, store: Path) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    tokens = seed_api(records, store)
    tokens["operator"] = OPERATOR_TOKEN
    async with TestServer(api_app(records, store)) as server, aiohttp.ClientSession() as session:
        with blockbuster_ctx():
            yield Client(session, str(server.make_url("")).rstrip("/")), tokens


def sids(body: dict[str, Any], key: str = "calls") -> list[str]:
    return [row["call_sid"] for row in body[key]]


async def test_each_token_acts_as_its_user(api: tuple[Client, dict[str, str]]) -> None:
    client, tokens = api
    seen = {name: await client.json("/api/me", token) for name, token in tokens.items()}
    assert seen == {
        "root": (200, {"username": "root", "role": "admin", "officer_id": None, "token": "user"}),
        "quinn": (200, {"username": "quinn", "role": "qa", "officer_id": None, "token": "user"}),
        "ana": (200, {"username": "ana", "role": "officer", "officer_id": "ana", "token": "user"}),
        "ben": (200, {"username": "ben", "role": "officer", "officer_id": "ben", "token": "user"}),
        "operator": (
            200,
            {"username": "operator", "role": "admin", "officer_id": None, "token": "operator"},
        ),
    }


async def test_officers_list_only_their_own_calls(api: tuple[Client, dict[str, str]]) -> None:
    client, tokens = api
    status, body = await client.json("/api/calls", tokens["ana"])
    assert status == 200
    assert (sids(body), body["total"], body["pages"]) == (ANA_CALLS, 4, 1)
    _, bens = await client.json("/api/calls?sort=started&order=asc", tokens["ben"])
    assert sids(bens) == ["CA-ben", "CA-ben-paid"]
    # Asking for another officer's calls narrows to nothing; it never widens.
    _, asked = await client.json("/api/calls?officer=ben", tokens["ana"])
    assert (sids(asked), asked["total"]) == ([], 0)
    for name in ("quinn", "root", "operator"):
        _, every = await client.json("/api/calls", tokens[name])
        assert (sids(every), every["total"]) == (ALL_CALLS, 7), name


async def test_another_officers_call_is_a_404(api: tuple[Client, dict[str, str]]) -> None:
    client, tokens = api
    for suffix in PER_CALL:
        for sid in ("CA-ben", "CA-nobody", "CA-nothing"):
            assert await client.json(f"/api/calls/{sid}{suffix}", tokens["ana"]) == (
                404,
                {"error": f"no call '{sid}'"},
            ), (sid, suffix)
        status, _ = await client.json(f"/api/calls/CA-ana{suffix}", tokens["ana"])
        assert status == 200, suffix
        for name in ("quinn", "root", "operator"):
            status, _ = await client.json(f"/api/calls/CA-ben{suffix}", tokens[name])
            assert status == 200, (name, suffix)


async def test_audio_follows_the_same_rule(api: tuple[Client, dict[str, str]]) -> None:
    client, tokens = api
    mine = await client.get("/api/recordings/RE-ana/audio", tokens["ana"])
    assert (mine.status, mine.body, mine.headers["Content-Type"]) == (200, AUDIO, "audio/wav")
    assert mine.headers["Cache-Control"] == "private, no-store"
    ranged = await client.get(
        "/api/recordings/RE-ana/audio", tokens["ana"], headers={"Range": "bytes=0-3"}
    )
    assert (ranged.status, ranged.body) == (206, b"RIFF")
    for sid in ("RE-ben", "RE-nobody", "RE-escape", "RE-absolute", "RE-missing", "RE-unstored"):
        refused = await client.get(f"/api/recordings/{sid}/audio", tokens["ana"])
        assert (refused.status, refused.json()) == (404, {"error": f"no recording '{sid}'"}), sid
    for name in ("quinn", "root"):
        heard = await client.get("/api/recordings/RE-ben/audio", tokens[name])
        assert (heard.status, heard.body) == (200, AUDIO), name
    escaped = await client.get("/api/recordings/RE-escape/audio", tokens["root"])
    assert escaped.status == 404  # a stored path outside the store is never served


async def test_no_audio_without_a_token(api: tuple[Client, dict[str, str]]) -> None:
    client, tokens = api
    for token in (None, "", "wl_not-a-token", tokens["ana"] + "x", "Bearer"):
        reply = await client.get("/api/recordings/RE-ana/audio", token)
        assert reply.status == 401, token
        assert AUDIO[:16] not in reply.body
        assert reply.json() == {"error": "missing or wrong bearer token (Authorization: Bearer …)"}
    # The scheme is required: the bare token is not enough.
    bare = await client.get(
        "/api/recordings/RE-ana/audio", None, headers={"Authorization": tokens["ana"]}
    )
    assert bare.status == 401


async def test_recordings_transcripts_and_score(api: tuple[Client, dict[str, str]]) -> None:
    client, tokens = api
    status, body = await client.json("/api/calls/CA-ana/recordings", tokens["ana"])
    assert status == 200
    assert [(r["recording_sid"], r["audio"], r["transcribed"]) for r in body["recordings"]] == [
        ("RE-ana", "/api/recordings/RE-ana/audio", True),
        ("RE-missing", "/api/recordings/RE-missing/audio", False),
        ("RE-unstored", None, False),
    ]
    assert all("path" not in r and "url" not in r for r in body["recordings"])
    status, body = await client.json("/api/calls/CA-ana/transcripts", tokens["ana"])
    assert status == 200
    assert body == {
        "call_sid": "CA-ana",
        "transcripts": [
            {
                "recording_sid": "RE-ana",
                "model": "tiny.en",
                "text": "I want to refinance call me at ••••••0199",
                "segments": [
                    {"start": 0.0, "end": 2.5, "text": "I want to refinance", "speaker": "caller"},
                    {
                        "start": 2.5,
                        "end": 4.0,
                        "text": "call me at ••••••0199",
                        "speaker": "caller",
                    },
                ],
            }
        ],
    }
    status, body = await client.json("/api/calls/CA-ana/score", tokens["ana"])
    assert (status, body) == (
        200,
        {
            "call_sid": "CA-ana",
            "score": {
                "score": 81,
                "qualified": True,
                "intent": "ready",
                "probabilities": {"ready": 0.62},
                "reasons": [],
            },
            "confidence": 0.62,
        },
    )
    assert await client.json("/api/calls/CA-ben/score", tokens["ben"]) == (
        200,
        {"call_sid": "CA-ben", "score": None, "confidence": None},
    )


async def test_the_record_loses_nothing(
    api: tuple[Client, dict[str, str]], records: Engine
) -> None:
    """The response model carries every key of the record (no field silently dropped)."""
    client, tokens = api
    status, body = await client.json("/api/calls/CA-ana-paid", tokens["root"])
    assert status == 200
    record = await asyncio.to_thread(_record, records, "CA-ana-paid")
    assert set(body) == set(record)
    for key in ("attribution", "flow", "billing", "officer"):
        assert set(body[key]) == set(record[key]), key
    assert [set(a) for a in body["transfer_attempts"]] == [
        set(a) for a in record["transfer_attempts"]
    ]
    assert [set(a) for a in body["answers"]] == [set(a) for a in record["answers"]]
    _, ana = await client.json("/api/calls/CA-ana", tokens["ana"])
    assert [set(r) for r in ana["recordings"]] == [
        {"recording_sid", "duration_s", "channels", "source", "created_at", "audio",
         "transcribed", "transcript"}
    ] * 3  # fmt: skip
    assert ana["recordings"][0]["transcript"]["model"] == "tiny.en"
    assert body["billing"]["revenue"] == "45.00"
    assert body["attribution"]["caller"] == "+1••••••0123"


def _record(records: Engine, call_sid: str) -> dict[str, Any]:
    with Session(records) as session:
        record = call_record(session, call_sid)
    assert record is not None
    return record


async def test_an_officer_sees_what_they_pay_and_their_own_attempts(
    api: tuple[Client, dict[str, str]],
) -> None:
    client, tokens = api
    _, hers = await client.json("/api/calls/CA-ana-paid", tokens["ana"])
    _, whole = await client.json("/api/calls/CA-ana-paid", tokens["root"])
    assert hers["billing"]["revenue"] == whole["billing"]["revenue"] == "45.00"
    assert whole["billing"]["payout"] is not None and whole["billing"]["net_margin"] is not None
    assert (hers["billing"]["payout"], hers["billing"]["net_payout"]) == (None, None)
    assert hers["billing"]["net_margin"] is None
    assert all(a["payout_delta"] is None for a in hers["billing"]["adjustments"])
    assert [a["officer"] for a in hers["transfer_attempts"]] == [
        a["officer"] for a in whole["transfer_attempts"] if a["officer"] == "ana"
    ]
    assert {a["officer"] for a in hers["transfer_attempts"]} == {"ana"}


async def test_billing_lines(api: tuple[Client, dict[str, str]]) -> None:
    client, tokens = api
    status, body = await client.json("/api/billing/lines", tokens["ana"])
    assert status == 200
    assert (sids(body, "lines"), body["total"]) == (ANA_CALLS, 4)
    _, billed = await client.json("/api/billing/lines?billable=yes", tokens["ana"])
    assert [
        (line["call_sid"], line["revenue"], line["payout"], line["net_payout"])
        for line in billed["lines"]
    ] == [("CA-ana-paid", "45.00", None, None)]  # what the publisher is paid is not hers
    _, operator = await client.json("/api/billing/lines?billable=yes&officer=ana", tokens["root"])
    assert [line["net_payout"] for line in operator["lines"]] == ["30.00"]
    _, none = await client.json("/api/billing/lines?officer=ben", tokens["ana"])
    assert (none["lines"], none["total"]) == ([], 0)
    _, bens = await client.json("/api/billing/lines?officer=ben", tokens["quinn"])
    assert sids(bens, "lines") == ["CA-ben-paid", "CA-ben"]
    _, day = await client.json(
        "/api/billing/lines?from=2026-11-10&to=2026-11-10&page_size=2&page=2", tokens["root"]
    )
    assert (sids(day, "lines"), day["total"], day["pages"]) == (
        ["CA-ana-paid", "CA-nobody"], 6, 3,
    )  # fmt: skip


async def test_paging(api: tuple[Client, dict[str, str]]) -> None:
    client, tokens = api
    pages = []
    for page in (1, 2, 3, 4):
        status, body = await client.json(f"/api/calls?page_size=2&page={page}", tokens["quinn"])
        assert status == 200
        assert (body["total"], body["pages"], body["page"], body["page_size"]) == (7, 4, page, 2)
        pages.extend(sids(body))
    assert pages == ALL_CALLS


async def test_reports_are_for_admins(api: tuple[Client, dict[str, str]]) -> None:
    client, tokens = api
    for path in (
        "/api/reports/pnl?by=officer&from=2026-11-10&to=2026-11-11",
        "/api/reports/calls?from=2026-11-10&to=2026-11-11",
    ):
        for name in ("quinn", "ana"):
            assert await client.json(path, tokens[name]) == (404, {"error": "not found"}), name
        for name in ("root", "operator"):
            status, _ = await client.json(path, tokens[name])
            assert status == 200, (name, path)
    _, pnl = await client.json(
        "/api/reports/pnl?by=officer&from=2026-11-10&to=2026-11-11", tokens["root"]
    )
    assert [(row["id"], row["calls"], row["revenue"]) for row in pnl["rows"]] == [
        ("ana", 4, "45.00"),
        ("ben", 2, "50.00"),
        (None, 1, "0.00"),
    ]


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api/calls?page=0", "'page' must be 1 to 100 (got 0): narrow the filters to go further"),
        ("/api/calls?score_min=high", "'score_min' must be a whole number (got 'high')"),
        ("/api/calls?sort=loudness", "'sort' must be one of started, score, confidence, "
         "duration, revenue (got 'loudness')"),
        ("/api/calls?tz=Mars/Base",
         "unknown time zone 'Mars/Base' (an IANA name, e.g. America/Chicago)"),
        ("/api/billing/lines?billable=maybe", "'billable' must be yes or no (got 'maybe')"),
        ("/api/billing/lines?from=2026-11-10&to=2026-11-01",
         "'to' (2026-11-01) is before 'from' (2026-11-10)"),
        ("/api/calls?campaign=a%00b", "parameters cannot contain NUL characters"),
        ("/api/calls/CA%00x", "parameters cannot contain NUL characters"),
    ],
)  # fmt: skip
async def test_bad_parameters(api: tuple[Client, dict[str, str]], path: str, error: str) -> None:
    client, tokens = api
    assert await client.json(path, tokens["quinn"]) == (400, {"error": error})


async def test_the_whole_server_serves_users_tokens(
    records: Engine,
    records_url: str,
    redis: Redis,
    redis_url: str,
    scenario_deployment_path: Path,
    store: Path,
) -> None:
    """With the web pages' middleware in front and no operator token configured."""
    tokens = seed_api(records, store)
    settings = Settings(  # type: ignore[call-arg]
        twilio_auth_token=AUTH_TOKEN,
        intent_model="",
        database_url=records_url,
        recordings_dir=str(store),
    )
    app = create_app(settings, load_setup(scenario_deployment_path), redis_url, recorder=False)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        client = Client(session, str(server.make_url("")).rstrip("/"))
        assert (await client.json("/api/calls", tokens["ana"]))[1]["total"] == 4
        heard = await client.get("/api/recordings/RE-ana/audio", tokens["ana"])
        assert (heard.status, heard.body) == (200, AUDIO)
        assert (await client.get("/api/recordings/RE-ben/audio", tokens["ana"])).status == 404
        assert (await client.get("/api/recordings/RE-ana/audio", None)).status == 401
        assert (await client.get("/api/calls", OPERATOR_TOKEN)).status == 401
