"""Spoken answers during the call, end to end: ``<Record>`` → media over HTTP → Whisper → slot.

A real ``warmline serve`` loads a Whisper checkpoint with the real architecture through the real
``whisper.load_model`` path, scripted to transcribe "It's in Texas." (nothing downloads). The
fake carrier records the caller's answer from a real AN4 recording, serves it over HTTP as
Twilio's media would be, and posts the ``<Record>`` action.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier
from ivr.simulator.model import CallRecord
from ivr.simulator.session import number_config
from scoring.whisper_checkpoints import build_scripted_checkpoint
from tests.e2e.conftest import stored_state
from tests.support.data import AN4_ANSWER, shared_data
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, ROOT, ServerProcess, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.models]

DEPLOYMENT = ROOT / "tests" / "e2e" / "voice" / "warmline.yaml"
NUMBER = "+18005550150"
SENTENCE = "It's in Texas."
PROMPT = "Texas, Florida, Georgia."  # the ask's hints, as the server passes them to Whisper


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("whisper") / "scripted.pt"
    return build_scripted_checkpoint(path, SENTENCE, initial_prompt=PROMPT)


def voice_server(redis_url: str, workdir: Path, checkpoint: Path, **settings: str) -> ServerProcess:
    env = {"WARMLINE_WHISPER_MODEL": str(checkpoint), "WARMLINE_WHISPER_THREADS": "1", **settings}
    return start_server(redis_url, None, workdir, deployment=DEPLOYMENT, extra_env=env)


@pytest.fixture(scope="module")
def server(redis_url: str, workdir: Path, checkpoint: Path) -> Iterator[ServerProcess]:
    process = voice_server(redis_url, workdir, checkpoint)
    yield process
    process.stop()


async def call(server: ServerProcess, turns: list[dict[str, object]]) -> CallRecord:
    config = number_config(server.url, AUTH_TOKEN, account_sid=ACCOUNT_SID)
    async with Carrier(config) as carrier:
        return await carrier.place_call(
            ScriptedCaller(turns), from_number="+15125550123", to_number=NUMBER
        )


def an4_clip() -> Path:
    return shared_data() / AN4_ANSWER


async def test_spoken_answer_is_recorded_transcribed_and_parsed(
    server: ServerProcess, redis_url: str
) -> None:
    record = await call(server, [{"record": {"audio": str(an4_clip())}}])
    listen = record.requests_of("record-action")
    assert [r.path for r in listen] == ["/twilio/voice-answer"]
    assert record.said[-1] == "Thank you."
    assert all(r.status == 200 for r in record.requests)
    state = await stored_state(redis_url, record.call_sid)
    answer = state.answers["state"]
    assert (answer.value, answer.source, answer.heard) == ("TX", "voice", SENTENCE)
    assert answer.recording == record.recordings[0].url
    assert answer.confidence is not None and 0 < answer.confidence <= 1
    assert answer.signals["speech_seconds"] > 0.5
    assert "transcribe_seconds" in answer.signals
    assert state.outcome == "answered"


async def test_silence_is_no_input_and_a_key_moves_to_the_keypad(
    server: ServerProcess, redis_url: str
) -> None:
    record = await call(
        server,
        [
            {"record": {"seconds": 3}},  # silence: the VAD gates it, Whisper never decodes
            {"record": {"seconds": 0.5, "key": "7"}},  # a key: the caller wants the keypad
            {"digits": "75201"},
        ],
    )
    said = record.said
    assert "Sorry, I didn't hear anything." in said
    assert "Sorry, I couldn't make that out. Please use your keypad." in said
    gathers = record.requests_of("gather-action")
    assert [r.params.get("Digits") for r in gathers] == ["75201"]
    state = await stored_state(redis_url, record.call_sid)
    assert (state.answers["state"].value, state.answers["state"].source) == ("TX", "keypad")
    events = [h.event for h in state.history]
    assert events.count("no_input") == 1 and events.count("keypad_chosen") == 1


async def test_over_budget_the_question_falls_back_to_the_keypad(
    redis_url: str, workdir: Path, checkpoint: Path
) -> None:
    slow = voice_server(redis_url, workdir, checkpoint, WARMLINE_VOICE_BUDGET_S="0")
    try:
        record = await call(slow, [{"record": {"audio": str(an4_clip())}}, {"digits": "33101"}])
    finally:
        slow.stop()
    assert "Sorry, I couldn't make that out. Please use your keypad." in record.said
    state = await stored_state(redis_url, record.call_sid)
    assert (state.answers["state"].value, state.answers["state"].source) == ("FL", "keypad")
    assert "voice_unavailable" in [h.event for h in state.history]


async def test_without_a_model_voice_questions_use_the_keypad(
    redis_url: str, workdir: Path
) -> None:
    plain = start_server(redis_url, None, workdir, deployment=DEPLOYMENT)
    try:
        record = await call(plain, [{"digits": "30301"}])
    finally:
        plain.stop()
    assert record.requests_of("record-action") == []
    state = await stored_state(redis_url, record.call_sid)
    assert state.answers["state"].value == "GA"


def test_missing_weights_stop_the_server_with_the_fetch_command(
    redis_url: str, workdir: Path
) -> None:
    with pytest.raises(RuntimeError) as failed:
        start_server(
            redis_url,
            None,
            workdir,
            deployment=DEPLOYMENT,
            extra_env={"WARMLINE_WHISPER_MODEL": "tiny.en", "WARMLINE_WHISPER_ROOT": str(workdir)},
        )
    log = str(failed.value)
    assert "tiny.en" in log and "warmline models fetch whisper tiny.en" in log
    assert "Traceback" not in log
