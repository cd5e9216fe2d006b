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
from ivr.deployment import load_setup
from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.script import check, load_script
from ivr.simulator.session import call_in_process, call_server
from tests.support.services import ROOT, ServerProcess

pytestmark = pytest.mark.e2e

SCENARIOS = sorted((ROOT / "tests" / "scenarios").glob("*.yaml"))


def test_there_are_scenarios_for_every_outcome() -> None:
    outcomes = {load_script(p).expect.outcome for p in SCENARIOS if load_script(p).expect}  # type: ignore[union-attr]
    assert outcomes >= {"transferred", "not_served", "callback_requested", "abandoned"}
    assert len(SCENARIOS) >= 10


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
async def test_scenario_in_process(path: Path) -> None:
    script = load_script(path)
    assert script.expect is not None
    setup = load_setup(ROOT / "warmline.yaml")
    caller = ScriptedCaller(script.turns)
    summary = await call_in_process(
        setup, caller, script.to_number or "+18005550100", script.from_number or "+15125550123"
    )
    assert check(script.expect, summary) == []
    assert caller.remaining == 0


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
async def test_scenario_over_http(
    path: Path, server: ServerProcess, simulator_settings: Settings, redis_url: str
) -> None:
    script = load_script(path)
    assert script.expect is not None
    caller = ScriptedCaller(script.turns)
    summary = await call_server(
        server.url,
        caller,
        script.to_number or "+18005550100",
        script.from_number or "+15125550123",
        simulator_settings,
        redis_url,
    )
    assert check(script.expect, summary) == []
    assert caller.remaining == 0
    record = summary.record
    assert record is not None
    assert record.ended_by in ("app-hangup", "caller-hangup")
    assert all(r.status == 200 for r in record.requests), [
        (r.kind, r.path, r.status) for r in record.requests if r.status != 200
    ]
