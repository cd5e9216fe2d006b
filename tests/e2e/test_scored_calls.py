"""Calls scored by the real intent model, in-process and over HTTP against a real server.

The model is the small one the test session trains with ``warmline train intent``; the
scenarios in ``tests/scenarios/scored/`` say clear things, so the label they expect holds for
any model that beats the majority class by the margin its own test demands.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.config import Settings
from ivr.qualifier import Qualifier, load_classifier
from tests.e2e.conftest import play_in_process, play_over_http, stored_state
from tests.support.intent import TRAINING_TIMEOUT_S
from tests.support.services import ROOT, ServerProcess, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.timeout(TRAINING_TIMEOUT_S)]

SCORED = sorted((ROOT / "tests" / "scenarios" / "scored").glob("*.yaml"))


@pytest.fixture(scope="module")
def scoring_server(
    redis_url: str, workdir: Path, intent_model: Path, scenario_deployment_path: Path
) -> Iterator[ServerProcess]:
    process = start_server(
        redis_url,
        None,
        workdir,
        deployment=scenario_deployment_path,
        extra_env={"WARMLINE_INTENT_MODEL": str(intent_model)},
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def qualifier(intent_model: Path) -> Qualifier:
    return Qualifier(load_classifier(intent_model))


@pytest.mark.parametrize("path", SCORED, ids=lambda p: p.stem)
async def test_scored_scenario_in_process(
    path: Path, qualifier: Qualifier, scenario_deployment_path: Path, redis_url: str
) -> None:
    await play_in_process(path, scenario_deployment_path, redis_url, qualifier)


@pytest.mark.parametrize("path", SCORED, ids=lambda p: p.stem)
async def test_scored_scenario_over_http(
    path: Path, scoring_server: ServerProcess, simulator_settings: Settings, redis_url: str
) -> None:
    summary = await play_over_http(path, scoring_server, simulator_settings, redis_url)
    assert summary.record is not None
    state = await stored_state(redis_url, summary.record.call_sid)
    qualification = state.qualification
    assert qualification is not None
    label = state.answers["intent"].value
    assert qualification.label == label
    assert qualification.probabilities[label] == max(qualification.probabilities.values())
    assert sum(qualification.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert qualification.reasons[0].text.startswith(f"intent {label} ")
    assert str(qualification.score) == state.answers["score"].value
    assert "intent model loaded" in scoring_server.log()
