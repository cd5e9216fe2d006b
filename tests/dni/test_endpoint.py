"""``GET /dni/dni.js`` and ``POST /dni/{campaign}/lease`` on the real app over a real socket:
CORS by the campaign's origins, bounded and validated input, the pool behind it in real Redis.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from ivr.config import Settings
from ivr.deployment import load_setup
from ivr.metrics import ServerMetrics
from ivr.server.app import METRICS, create_app
from tests.dni.support import CAMPAIGN, POOL, PRINTED, dni_deployment
from tests.support.services import AUTH_TOKEN

pytestmark = pytest.mark.integration

ORIGIN = "https://rates.example.test"
LEASE = f"/dni/{CAMPAIGN}/lease"
ASKS_PER_ADDRESS = 12


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str, metrics: ServerMetrics):
        self.session = session
        self.base = base
        self.metrics = metrics

    async def post(
        self, path: str, body: Any, origin: str | None = ORIGIN, **headers: str
    ) -> tuple[int, dict[str, str], Any]:
        sent = {"Content-Type": "application/json", **headers}
        if origin is not None:
            sent["Origin"] = origin
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.session.post(self.base + path, data=data, headers=sent) as response:
            text = await response.text()
            answer = json.loads(text) if text else None
            return response.status, dict(response.headers), answer

    async def lease(self, visit_id: str, **fields: str) -> dict[str, Any]:
        status, headers, answer = await self.post(LEASE, visit_body(visit_id, **fields))
        assert status == 200, answer
        assert headers["Access-Control-Allow-Origin"] == ORIGIN
        assert isinstance(answer, dict)
        return answer


def visit_body(visit_id: str, **fields: str) -> dict[str, str]:
    return {"visit_id": visit_id, "page": f"{ORIGIN}/refinance?utm_source=google", **fields}


@pytest.fixture
async def client(redis: Redis, redis_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    origins = [ORIGIN, "http://localhost:8000"]
    setup = load_setup(dni_deployment(tmp_path, origins, asks_per_address=ASKS_PER_ADDRESS))
    settings = Settings(  # type: ignore[call-arg]
        twilio_auth_token=AUTH_TOKEN, public_url="http://127.0.0.1", intent_model=""
    )
    app = create_app(settings, setup, redis_url, recorder=False)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        yield Client(session, str(server.make_url("")).rstrip("/"), app[METRICS])


async def test_the_snippet_is_served_for_other_origins(client: Client) -> None:
    async with client.session.get(client.base + "/dni/dni.js") as response:
        body = await response.text()
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert 'getAttribute("data-campaign")' in body
    assert len(body.encode()) < 8 * 1024


async def test_a_visit_leases_a_pool_number_and_keeps_it(client: Client) -> None:
    first = await client.lease("a" * 32, utm_source="google", gclid="abc")
    assert first["number"] in POOL and first["pooled"] is True
    assert first["expires_in"] == 30 * 60
    again = await client.lease("a" * 32)
    other = await client.lease("b" * 32)
    assert again["number"] == first["number"]
    assert other["number"] in POOL and other["number"] != first["number"]


async def test_an_exhausted_pool_shows_the_default_number_and_is_counted(client: Client) -> None:
    numbers = {(await client.lease(f"visit{n:012d}"))["number"] for n in range(len(POOL))}
    assert numbers == set(POOL)
    full = await client.lease("visit-extra-000001")
    assert full == {**full, "number": PRINTED, "pooled": False, "expires_in": 60}
    registry = client.metrics.registry
    labels = {"campaign": CAMPAIGN}
    assert registry.get_sample_value("warmline_dni_pool_exhausted_total", labels) == 1.0
    leased = {"campaign": CAMPAIGN, "outcome": "leased"}
    assert registry.get_sample_value("warmline_dni_leases_total", leased) == 3.0


async def test_an_address_that_asks_too_often_gets_the_default_number(client: Client) -> None:
    """A script minting visit ids cannot drain the pool: past the campaign's asks per address
    (in 10 minutes) it is shown the default number, and the pool is not counted exhausted."""
    first = await client.lease("g" * 32)
    for _ in range(ASKS_PER_ADDRESS - 1):
        assert (await client.lease("g" * 32))["number"] == first["number"]
    for n in range(3):
        refused = await client.lease(f"bot{n:013d}")
        assert (refused["number"], refused["pooled"]) == (PRINTED, False)
    registry = client.metrics.registry
    limited = {"campaign": CAMPAIGN, "outcome": "limited"}
    assert registry.get_sample_value("warmline_dni_leases_total", limited) == 3.0
    exhausted = {"campaign": CAMPAIGN}
    assert registry.get_sample_value("warmline_dni_pool_exhausted_total", exhausted) is None


async def test_the_preflight_allows_only_the_campaigns_origins(client: Client) -> None:
    for origin in (ORIGIN, "http://localhost:8000"):
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        async with client.session.options(client.base + LEASE, headers=headers) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == origin
            assert response.headers["Access-Control-Allow-Methods"] == "POST"
            assert response.headers["Access-Control-Allow-Headers"] == "Content-Type"
            assert response.headers["Vary"] == "Origin"
    for origin in ("https://evil.example.test", "https://rates.example.test.evil.test", "null"):
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        async with client.session.options(client.base + LEASE, headers=headers) as response:
            assert response.status == 403
            assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("origin", ["https://evil.example.test", "http://rates.example.test", None])
async def test_a_lease_from_another_origin_is_refused(client: Client, origin: str | None) -> None:
    status, headers, answer = await client.post(LEASE, visit_body("c" * 32), origin=origin)
    assert status == 403
    assert "Access-Control-Allow-Origin" not in headers
    assert answer == {"error": "this page's origin may not ask for numbers"}


@pytest.mark.parametrize("campaign", ["nope", "national", "Bad!Name"])
async def test_a_campaign_without_a_web_pool_is_404(client: Client, campaign: str) -> None:
    status, _, answer = await client.post(f"/dni/{campaign}/lease", visit_body("d" * 32))
    assert status == 404
    assert answer == {"error": "no such campaign with a web number pool"}


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"{not json", 400, "the body is not JSON"),
        (b"\xff\xfe\x00", 400, "the body is not JSON"),
        (b"[1, 2]", 400, "the body must be a JSON object"),
        (b"[" * 4000 + b"]" * 4000, 400, "the body is not JSON"),
        ({"page": f"{ORIGIN}/"}, 400, "visit_id: Field required"),
        ({"visit_id": "short", "page": f"{ORIGIN}/"}, 400, "visit_id: String should match"),
        ({"visit_id": "e" * 32, "page": "javascript:alert(1)"}, 400, "page: Value error"),
        ({"visit_id": "e" * 32, "page": f"{ORIGIN}/", "referrer": "ftp://x"}, 400, "referrer"),
        ({"visit_id": "e" * 32, "page": f"{ORIGIN}/", "utm_source": "x" * 201}, 400, "at most"),
        ({"visit_id": "e" * 32, "page": f"{ORIGIN}/", "utm_source": 7}, 400, "valid string"),
        ({"visit_id": "e" * 32, "page": f"{ORIGIN}/", "admin": True}, 400, "admin: Extra"),
        ({"visit_id": "e" * 32, "page": f"{ORIGIN}/", "x": "y" * 9000}, 413, "over 8192"),
    ],
)
async def test_bad_input_is_a_clear_4xx(client: Client, body: Any, status: int, says: str) -> None:
    got, headers, answer = await client.post(LEASE, body)
    assert got == status
    assert says in answer["error"]
    assert headers["Access-Control-Allow-Origin"] == ORIGIN  # the page's developer can read it


async def test_a_lease_must_be_json(client: Client) -> None:
    status, _, answer = await client.post(
        LEASE, b"visit_id=x", **{"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 415
    assert answer == {"error": "send application/json"}
