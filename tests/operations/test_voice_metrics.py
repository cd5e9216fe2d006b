"""A server that answers by voice: Whisper's answer pool is a readiness check, and each spoken
answer's transcription is timed under ``path="answer"``.

The server loads a generated Whisper checkpoint (the real architecture, scripted to say one
sentence) as ``tests/e2e/test_voice_answers.py`` does, and the fake carrier records the caller's
answer from a real AN4 clip.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier
from ivr.simulator.session import number_config
from scoring.whisper_checkpoints import build_scripted_checkpoint
from tests.operations.conftest import scrape, value
from tests.support.data import AN4_ANSWER, shared_data
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, ROOT, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.models]

DEPLOYMENT = ROOT / "tests" / "e2e" / "voice" / "warmline.yaml"
HISTOGRAM = "warmline_transcription_seconds"


async def test_a_spoken_answer_is_timed_and_the_answer_pool_is_checked(
    redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    checkpoint = build_scripted_checkpoint(
        tmp_path / "scripted.pt", "It's in Texas.", initial_prompt="Texas, Florida, Georgia."
    )
    env = {"WARMLINE_WHISPER_MODEL": str(checkpoint), "WARMLINE_WHISPER_THREADS": "1"}
    server = start_server(redis_url, None, tmp_path, deployment=DEPLOYMENT, extra_env=env)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{server.url}/readyz") as response,
        ):
            assert response.status == 200
            checks = (await response.json())["checks"]
        _, before = await scrape(server.url, token=None)  # no token configured: open
        config = number_config(server.url, AUTH_TOKEN, account_sid=ACCOUNT_SID)
        async with Carrier(config) as carrier:
            record = await carrier.place_call(
                ScriptedCaller([{"record": {"audio": str(shared_data() / AN4_ANSWER)}}]),
                from_number="+15125550123",
                to_number="+18005550150",
            )
        _, after = await scrape(server.url, token=None)
    finally:
        server.stop()
    assert checks["whisper"] == {"ok": True, "detail": "ok"}
    assert record.said[-1] == "Thank you."  # the answer was heard, so it was transcribed
    assert value(before, f"{HISTOGRAM}_count", path="answer") == 0
    assert value(after, f"{HISTOGRAM}_count", path="answer") == 1
    assert value(after, f"{HISTOGRAM}_sum", path="answer") > 0
    assert value(after, "warmline_calls_total", outcome="answered") == 1
