"""``/metrics`` of a real ``warmline serve`` process after whole calls from the fake carrier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier
from ivr.simulator.session import number_config
from ivr.telephony.recording_events import RECORDINGS_STREAM
from tests.e2e.conftest import QUALIFIED
from tests.operations.conftest import METRICS_TOKEN, scrape, value
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, ServerProcess, start_server

pytestmark = pytest.mark.e2e

CALLER = "+15125550142"
TRACKING = "+18005550100"


@pytest.fixture(scope="module")
def server(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory, scenario_deployment_path: Path
) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("metrics")
    process = start_server(
        redis_url,
        None,
        workdir,
        deployment=scenario_deployment_path,
        extra_env={"WARMLINE_METRICS_TOKEN": METRICS_TOKEN},
    )
    yield process
    process.stop()


async def test_a_call_is_counted_once_by_outcome_with_its_webhooks_timed(
    server: ServerProcess, redis: Redis
) -> None:
    _, before = await scrape(server.url)
    config = number_config(
        server.url, AUTH_TOKEN, account_sid=ACCOUNT_SID, duplicate_status_callbacks=True
    )
    async with Carrier(config) as carrier:
        record = await carrier.place_call(
            ScriptedCaller(QUALIFIED), from_number=CALLER, to_number=TRACKING
        )
    assert record.transfer is not None and record.transfer.bridged
    text, after = await scrape(server.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # The final status callback came twice; the call ended (and is counted) once.
    completed = [r for r in record.requests_to("/twilio/status") if r.status == 200]
    assert len(completed) == 2
    assert delta("warmline_calls_total", outcome="transferred") == 1
    assert (
        sum(delta("warmline_calls_total", outcome=o) for o in ("abandoned", "completed", "unknown"))
        == 0
    )
    # Every webhook is timed under its route's path (never the URL with ?turn=…).
    by_path: dict[str, int] = {}
    for request in record.requests:
        if request.path.startswith("/twilio/"):
            by_path[request.path] = by_path.get(request.path, 0) + 1
    assert by_path["/twilio/gather"] >= 4
    for path, count in by_path.items():
        assert delta("warmline_webhook_seconds_count", endpoint=path, status="2xx") == count
        slowest = delta("warmline_webhook_seconds_bucket", endpoint=path, status="2xx", le="15.0")
        assert slowest == count
    assert delta("warmline_routing_decisions_total", result="officer") == 1
    assert value(after, "warmline_webhooks_in_flight") == 1  # the scrape itself
    # Nothing that identifies a caller or a call is a label.
    assert CALLER[2:] not in text and record.call_sid not in text
    assert "turn=" not in text


async def test_queue_depths_are_read_from_redis_at_scrape_time(
    server: ServerProcess, redis: Redis
) -> None:
    for n in range(3):
        await redis.xadd(RECORDINGS_STREAM, {"CallSid": f"CA{n}", "RecordingSid": f"RE{n}"})
    _, samples = await scrape(server.url)
    assert value(samples, "warmline_queue_depth", queue="recordings", state="depth") == 3
    assert value(samples, "warmline_queue_depth", queue="recordings", state="dead") == 0
    assert ("warmline_queue_depth", frozenset({("queue", "records"), ("state", "depth")})) in (
        samples
    )
    assert value(samples, "warmline_redis_up") == 1


async def test_a_call_to_an_unknown_number_has_its_own_outcome(
    server: ServerProcess, redis: Redis
) -> None:
    _, before = await scrape(server.url)
    config = number_config(server.url, AUTH_TOKEN, account_sid=ACCOUNT_SID)
    async with Carrier(config) as carrier:
        record = await carrier.place_call(
            ScriptedCaller([]), from_number=CALLER, to_number="+18005550999"
        )
    _, after = await scrape(server.url)
    unknown = value(after, "warmline_calls_total", outcome="unknown_number")
    assert unknown - value(before, "warmline_calls_total", outcome="unknown_number") == 1
    # Twilio retries a first webhook it got no answer to: the same call, not counted again
    voice = next(r for r in record.requests if r.kind == "voice")
    async with aiohttp.ClientSession() as session:
        headers = {"X-Twilio-Signature": voice.signature}
        async with session.post(voice.url, data=voice.params, headers=headers) as again:
            assert again.status == 200 and "not in service" in await again.text()
    _, retried = await scrape(server.url)
    assert value(retried, "warmline_calls_total", outcome="unknown_number") == unknown


async def test_metrics_need_the_bearer_token_when_one_is_set(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}):
            async with session.get(f"{server.url}/metrics", headers=headers) as response:
                assert response.status == 401
                assert "warmline_" not in await response.text()
        # Liveness and readiness need neither the token nor a Twilio signature.
        for path in ("/healthz", "/readyz"):
            async with session.get(server.url + path) as response:
                assert response.status == 200
                body = await response.text()
                assert AUTH_TOKEN not in body and METRICS_TOKEN not in body
        async with session.get(f"{server.url}/no/such/page?from={CALLER}") as response:
            assert response.status == 404
    text, samples = await scrape(server.url)
    assert value(samples, "warmline_webhook_seconds_count", endpoint="/metrics", status="4xx") >= 3
    # Paths no route matches share one series: scanners cannot mint new ones.
    assert value(samples, "warmline_webhook_seconds_count", endpoint="unmatched", status="4xx") >= 1
    assert "/no/such/page" not in text and CALLER[2:] not in text
