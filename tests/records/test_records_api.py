"""The records' JSON API on a real socket, over SQLite and PostgreSQL: the bearer token, bad
parameters, an unknown call, and a P&L body checked to the cent. Any blocking call made on the
event loop fails the test (the database work runs in threads)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from blockbuster import blockbuster_ctx
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ivr.config import Settings
from ivr.deployment import load_setup
from ivr.records import reports
from ivr.records.api import records_routes
from ivr.server.app import create_app
from tests.support.records import add_adjustment, add_call, add_officer, add_publisher
from tests.support.services import AUTH_TOKEN

pytestmark = pytest.mark.integration

TOKEN = "api-token-0123456789abcdef"
DAY = datetime(2026, 11, 10, 15, tzinfo=UTC)
PNL = "/api/reports/pnl?by=officer&from=2026-11-10&to=2026-11-10"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    async def get(self, path: str, token: str | None = TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with self.session.get(self.base + path, headers=headers) as response:
            return response.status, await response.json()


@pytest.fixture
async def api(records: Engine) -> AsyncIterator[Api]:
    with Session(records) as session:
        add_publisher(session, "pub-a", "Alpha Leads")
        add_officer(session, "ana", "Ana Ruiz")
        _, billed = add_call(
            session, call_sid="CA-billed", started_at=DAY, publisher="pub-a", officer="ana",
            billable=True, revenue="45.00", payout="35.00", score=80,
        )  # fmt: skip
        _, second = add_call(
            session, call_sid="CA-second", started_at=DAY + timedelta(hours=1),
            publisher="pub-a", officer="ana", billable=True, revenue="40.00", payout="30.00",
            score=61,
        )  # fmt: skip
        add_call(session, call_sid="CA-nobody", started_at=DAY + timedelta(hours=2), score=None)
        add_adjustment(
            session, second, status="accepted", revenue_delta="-40.00", payout_delta="-30.00"
        )
        add_adjustment(session, billed, status="open")
        session.commit()
    app = web.Application()
    app.add_routes(records_routes(records, SecretStr(TOKEN)))
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        with blockbuster_ctx():
            yield Api(session, str(server.make_url("")).rstrip("/"))


async def test_pnl_body(api: Api) -> None:
    status, body = await api.get(PNL)
    assert status == 200
    assert (body["by"], body["from"], body["to"]) == (
        "officer",
        "2026-11-10T00:00:00+00:00",
        "2026-11-11T00:00:00+00:00",
    )
    assert body["rows"] == [
        {
            "id": "ana",
            "name": "Ana Ruiz",
            "calls": 2,
            "connected": 2,
            "billable": 2,
            "billable_rate": 1.0,
            "revenue": "45.00",
            "payout": "35.00",
            "margin": "10.00",
            "average_score": 70.5,
            "disputes_open": 1,
            "disputes_accepted": 1,
        },
        {
            "id": None,
            "name": "(not transferred)",
            "calls": 1,
            "connected": 0,
            "billable": 0,
            "billable_rate": 0.0,
            "revenue": "0.00",
            "payout": "0.00",
            "margin": "0.00",
            "average_score": None,
            "disputes_open": 0,
            "disputes_accepted": 0,
        },
    ]
    assert body["totals"]["calls"] == 3
    assert body["totals"]["billable_rate"] == 0.6667
    assert body["totals"]["margin"] == "10.00"


async def test_every_route_needs_the_token(api: Api) -> None:
    for path in (PNL, "/api/reports/calls?from=2026-11-10&to=2026-11-10", "/api/calls/CA-billed"):
        for token in (None, "wrong", TOKEN + "x", ""):
            status, body = await api.get(path, token)
            assert (status, body) == (
                401,
                {"error": "missing or wrong bearer token (Authorization: Bearer …)"},
            ), (path, token)
    async with api.session.get(api.base + PNL, headers={"Authorization": TOKEN}) as response:
        assert response.status == 401  # the scheme is required
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="warmline"'


@pytest.mark.parametrize(
    ("path", "error"),
    [
        (
            "/api/reports/pnl?by=state&from=2026-11-10&to=2026-11-10",
            f"'by' must be one of {', '.join(reports.GROUPS)} (got 'state')",
        ),
        ("/api/reports/pnl?from=2026-11-10&to=2026-11-10", "the 'by' parameter is required"),
        ("/api/reports/pnl?by=officer&to=2026-11-10", "the 'from' parameter is required"),
        (
            "/api/reports/pnl?by=officer&from=10/11/2026&to=2026-11-10",
            "'from' must be a date, YYYY-MM-DD (got '10/11/2026')",
        ),
        (
            "/api/reports/pnl?by=officer&from=2026-11-10&to=2026-11-09",
            "'to' (2026-11-09) is before 'from' (2026-11-10)",
        ),
        (
            PNL + "&tz=Mars/Base",
            "unknown time zone 'Mars/Base' (an IANA name, e.g. America/Chicago)",
        ),
        (
            "/api/reports/calls?from=2026-11-10&to=2026-11-10&limit=0",
            "'limit' must be 1–10000 (got 0)",
        ),
        (
            "/api/reports/calls?from=2026-11-10&to=2026-11-10&offset=x",
            "'offset' must be a whole number (got 'x')",
        ),
    ],
)
async def test_bad_parameters_answer_400(api: Api, path: str, error: str) -> None:
    assert await api.get(path) == (400, {"error": error})


async def test_calls_listing_masks_numbers(api: Api) -> None:
    status, body = await api.get("/api/reports/calls?from=2026-11-10&to=2026-11-10&limit=2")
    assert status == 200
    assert (body["limit"], body["offset"]) == (2, 0)
    assert [(c["call_sid"], c["caller"], c["revenue"]) for c in body["calls"]] == [
        ("CA-billed", "+1••••••0123", "45.00"),
        ("CA-second", "+1••••••0123", "0.00"),
    ]
    _, rest = await api.get("/api/reports/calls?from=2026-11-10&to=2026-11-10&offset=2")
    assert [c["call_sid"] for c in rest["calls"]] == ["CA-nobody"]


async def test_one_call_and_an_unknown_one(api: Api) -> None:
    status, record = await api.get("/api/calls/CA-billed")
    assert status == 200
    assert record["call_sid"] == "CA-billed"
    assert record["attribution"]["caller"] == "+1••••••0123"
    assert record["billing"]["revenue"] == "45.00"
    assert [(a["kind"], a["status"]) for a in record["billing"]["adjustments"]] == [
        ("dispute", "open")
    ]
    assert await api.get("/api/calls/CA-nothing") == (404, {"error": "no call 'CA-nothing'"})


async def test_without_an_operator_token_only_users_tokens_open_it(records: Engine) -> None:
    """No operator token configured: the routes are there, and answer 401 to any token that is
    not a user's (users' tokens: tests/records/test_api_tokens.py)."""
    app = web.Application()
    app.add_routes(records_routes(records, None))
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        api = Api(session, str(server.make_url("")).rstrip("/"))
        for token in (TOKEN, "", None):
            assert (await api.get(PNL, token))[0] == 401


async def test_the_server_serves_the_api_with_its_token(
    records: Engine, records_url: str, redis_url: str, scenario_deployment_path: Path
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        twilio_auth_token=AUTH_TOKEN,
        intent_model="",
        database_url=records_url,
        api_token=TOKEN,
    )
    app = create_app(settings, load_setup(scenario_deployment_path), redis_url, recorder=False)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        api = Api(session, str(server.make_url("")).rstrip("/"))
        assert await api.get("/api/calls/CA-nothing") == (404, {"error": "no call 'CA-nothing'"})
        assert (await api.get(PNL, token="wrong"))[0] == 401
    bare = create_app(
        Settings(twilio_auth_token=AUTH_TOKEN, intent_model="", database_url=records_url),  # type: ignore[call-arg]
        load_setup(scenario_deployment_path),
        redis_url,
        recorder=False,
    )
    async with TestServer(bare) as server, aiohttp.ClientSession() as session:
        api = Api(session, str(server.make_url("")).rstrip("/"))
        async with session.get(api.base + PNL, headers=HEADERS) as response:
            assert response.status == 401  # no operator token configured: it opens nothing
