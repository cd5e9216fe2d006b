"""Whole calls against real server processes: load balancing, faults, bad callers."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from redis.asyncio import Redis

from ivr.config import Settings
from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier, CarrierConfig
from ivr.simulator.session import call_server, number_config
from tests.e2e.conftest import LOAD_BALANCER, QUALIFIED, stored_state
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, ServerProcess

pytestmark = pytest.mark.e2e


def behind_load_balancer(servers: list[ServerProcess], **switches: bool) -> CarrierConfig:
    """Twilio calls one public URL; each request lands on the next process in turn."""
    backends = [s.url for s in servers]
    return number_config(
        LOAD_BALANCER, AUTH_TOKEN, account_sid=ACCOUNT_SID, backends=backends, **switches
    )


async def test_two_server_processes_serve_alternate_webhooks_of_one_call(
    server_pair: list[ServerProcess], redis_url: str
) -> None:
    async with Carrier(behind_load_balancer(server_pair)) as carrier:
        record = await carrier.place_call(
            ScriptedCaller(QUALIFIED), from_number="+15125550123", to_number="+18005550100"
        )
    twiml_requests = [r for r in record.requests if r.kind != "status-callback"]
    backends = [r.sent_to.split("/twilio/")[0] for r in twiml_requests]
    assert len(twiml_requests) >= 6
    assert set(backends) == {s.url for s in server_pair}
    assert all(a != b for a, b in itertools.pairwise(backends)), backends
    assert all(r.status == 200 for r in record.requests)
    state = await stored_state(redis_url, record.call_sid)
    assert state.slots["loan_type"] == "refinance" and state.slots["state"] == "TX"
    assert (state.slots["score"], state.slots["qualified"]) == ("70", "yes")
    assert (state.status, state.outcome) == ("ended", "transferred")
    assert record.transfer is not None and record.transfer.bridged


async def test_concurrent_calls_across_two_processes_keep_their_own_answers(
    server_pair: list[ServerProcess], redis_url: str
) -> None:
    config = behind_load_balancer(
        server_pair, duplicate_status_callbacks=True, shuffle_status_callbacks=True
    )
    keys = ["1", "2", "3", "4"]
    values = ["refinance", "cash_out", "purchase", "heloc"]
    async with Carrier(config) as carrier:
        records = await asyncio.gather(
            *(
                carrier.place_call(
                    ScriptedCaller([{"digits": key}, {"hangup": True}]),
                    from_number=f"+1512555{1000 + i:04d}",
                    to_number="+18005550100",
                )
                for i, key in enumerate(keys * 5)
            )
        )
    for record, value in zip(records, values * 5, strict=True):
        state = await stored_state(redis_url, record.call_sid)
        assert state.slots == {"loan_type": value}
        assert (state.status, state.outcome) == ("ended", "abandoned")
        assert [h.event for h in state.history].count("caller_hung_up") == 1


async def test_unknown_tracking_number_hears_a_polite_message(
    server: ServerProcess, simulator_settings: Settings, redis_url: str
) -> None:
    summary = await call_server(
        server.url,
        ScriptedCaller([]),
        "+18005550999",
        "+15125550123",
        simulator_settings,
        redis_url,
    )
    assert summary.record is not None
    assert summary.record.ended_by == "app-hangup"
    assert len(summary.said) == 1 and "not in service" in summary.said[0]
    assert all(r.status == 200 for r in summary.record.requests)


async def test_forged_signature_is_refused_as_application_error(
    server: ServerProcess, redis_url: str
) -> None:
    config = number_config(server.url, "not-the-servers-token", account_sid=ACCOUNT_SID)
    async with Carrier(config) as carrier:
        record = await carrier.place_call(
            ScriptedCaller([]), from_number="+15125550123", to_number="+18005550100"
        )
    assert record.ended_by == "application-error"
    # The call webhook and the status callback that ends the failed call: both refused.
    assert [(r.path, r.status) for r in record.requests] == [
        ("/twilio/voice", 403),
        ("/twilio/status", 403),
    ]
    assert "Invalid Twilio signature" in record.requests[0].body
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.exists(f"warmline:call:{record.call_sid}") == 0
    finally:
        await redis.aclose()


async def test_gather_timeout_falls_through_to_the_redirect(
    server: ServerProcess, simulator_settings: Settings, redis_url: str
) -> None:
    summary = await call_server(
        server.url,
        ScriptedCaller([{"silence": True}] * 4),
        "+18005550100",
        "+15125550123",
        simulator_settings,
        redis_url,
    )
    record = summary.record
    assert record is not None
    kinds = [r.kind for r in record.requests]
    # No input: Twilio makes no Gather action request; it runs the <Redirect> that follows.
    assert "gather-action" not in kinds
    # Three silent tries at the loan type, then a message offer; a silent message (posted with
    # RecordingDuration=0, as Twilio saves silent recordings) just ends the call.
    assert summary.path == [
        "disclosure",
        "loan_type",
        "operator_fallback",
        "callback_offer",
        "goodbye_callback",
    ]
    assert summary.outcome == "completed"
    assert record.requests_of("record-action")[0].params["RecordingDuration"] == "0"
