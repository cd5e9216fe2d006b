"""Server processes for end-to-end tests: real ``warmline serve`` over real HTTP and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from ivr.config import Settings
from ivr.deployment import load_setup
from ivr.engine.state import CallState
from ivr.qualifier import Qualifier
from ivr.routing.router import open_router
from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.script import check, load_script
from ivr.simulator.session import CallSummary, call_in_process, call_server
from tests.support.services import AUTH_TOKEN, ServerProcess, start_server

LOAD_BALANCER = "http://lb.warmline.test"
QUALIFYING_ANSWERS: list[dict[str, object]] = [
    {"digits": "1"},
    {"speech": "texas"},
    {"digits": "2"},
    {"speech": "I want to refinance to a lower rate"},
]
"""A Texas refinance with good credit: qualified for the sample's sunbelt-refi officers."""
QUALIFIED: list[dict[str, object]] = [
    *QUALIFYING_ANSWERS,
    {"transfer": "accepted", "duration": 200},
]
"""The same caller, transferred to an officer who accepts and talks for 200 s."""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="module")
def server(
    redis_url: str, workdir: Path, scenario_deployment_path: Path
) -> Iterator[ServerProcess]:
    process = start_server(redis_url, None, workdir, deployment=scenario_deployment_path)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def server_pair(
    redis_url: str, workdir: Path, scenario_deployment_path: Path
) -> Iterator[list[ServerProcess]]:
    """Two processes that share one Redis and one public URL, as behind a load balancer."""
    pair = [
        start_server(redis_url, LOAD_BALANCER, workdir, deployment=scenario_deployment_path)
        for _ in range(2)
    ]
    yield pair
    for process in pair:
        process.stop()


@pytest.fixture
def simulator_settings(redis_url: str) -> Settings:
    return Settings(twilio_auth_token=AUTH_TOKEN, redis_url=redis_url)  # type: ignore[call-arg]


async def stored_state(redis_url: str, call_sid: str) -> CallState:
    """The call's state as the servers left it in Redis."""
    redis = Redis.from_url(redis_url)
    try:
        raw = await redis.hget(f"warmline:call:{call_sid}", "state")
    finally:
        await redis.aclose()
    assert raw is not None
    return CallState.model_validate_json(raw)


async def play_in_process(
    path: Path, deployment: Path, redis_url: str, qualifier: Qualifier | None = None
) -> CallSummary:
    """Play a scenario file through the engine in-process; fails on any unmet expectation."""
    script = load_script(path)
    assert script.expect is not None
    caller = ScriptedCaller(script.turns)
    setup = load_setup(deployment)
    async with open_router(setup, redis_url) as router:
        summary = await call_in_process(
            setup,
            caller,
            script.to_number or "+18005550100",
            script.from_number or "+15125550123",
            qualifier,
            router,
            script.from_state,
        )
    assert check(script.expect, summary) == []
    assert caller.remaining == 0
    return summary


async def play_over_http(
    path: Path, server: ServerProcess, settings: Settings, redis_url: str
) -> CallSummary:
    """Play a scenario file as Twilio would against ``server``; fails on any unmet expectation."""
    script = load_script(path)
    assert script.expect is not None
    caller = ScriptedCaller(script.turns)
    summary = await call_server(
        server.url,
        caller,
        script.to_number or "+18005550100",
        script.from_number or "+15125550123",
        settings,
        redis_url,
        script.from_state,
    )
    assert check(script.expect, summary) == []
    assert caller.remaining == 0
    return summary
