"""Every call scenario in ``tests/scenarios/``, played in-process and against a real server.

One runner for all: a scenario is data (the caller's turns and what must happen); over HTTP the
fake carrier plays Twilio's side — signed form posts, TwiML followed, Gather fall-through,
Record and Dial actions, recording and status callbacks — and the path and answers are read
back from the call state the server kept in Redis.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.config import Settings
from ivr.simulator.script import load_script
from tests.e2e.conftest import play_in_process, play_over_http
from tests.support.services import ROOT, ServerProcess

pytestmark = pytest.mark.e2e

SCENARIOS = sorted((ROOT / "tests" / "scenarios").glob("*.yaml"))


def test_there_are_scenarios_for_every_outcome() -> None:
    outcomes = {load_script(p).expect.outcome for p in SCENARIOS if load_script(p).expect}  # type: ignore[union-attr]
    assert outcomes >= {"transferred", "not_served", "callback_requested", "abandoned"}
    assert len(SCENARIOS) >= 10


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
async def test_scenario_in_process(
    path: Path, scenario_deployment_path: Path, redis_url: str
) -> None:
    await play_in_process(path, scenario_deployment_path, redis_url)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
async def test_scenario_over_http(
    path: Path, server: ServerProcess, simulator_settings: Settings, redis_url: str
) -> None:
    summary = await play_over_http(path, server, simulator_settings, redis_url)
    record = summary.record
    assert record is not None
    assert record.ended_by in ("app-hangup", "caller-hangup")
    assert all(r.status == 200 for r in record.requests), [
        (r.kind, r.path, r.status) for r in record.requests if r.status != 200
    ]
