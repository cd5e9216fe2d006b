"""``warmline worker --metrics-port``: the worker's own metrics endpoint, after a real job.

The worker loads a generated Whisper checkpoint (the real architecture, scripted to say one
sentence) and transcribes a two-channel recording served by the fake carrier's media server, as
``tests/recordings/test_worker.py`` does.
"""

from __future__ import annotations

import signal
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from ivr.recordings.transcription import RESULT_PREFIX
from ivr.simulator.media import MediaServer
from ivr.telephony.recording_events import RecordingEvents
from scoring.transcripts import DOMAIN_PROMPT
from scoring.whisper_checkpoints import build_scripted_checkpoint
from tests.jobs.conftest import wait_until
from tests.operations.conftest import METRICS_TOKEN, scrape, value
from tests.recordings.support import start_worker, two_channel_call
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.models]

SENTENCE = "I would like to refinance my house in Texas."
CALL_SID = "CA" + "7" * 32
RECORDING_SID = "RE" + "7" * 32
HISTOGRAM = "warmline_transcription_seconds"


async def test_the_worker_serves_the_transcription_histogram(
    redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    checkpoint = build_scripted_checkpoint(
        tmp_path / "scripted.pt", SENTENCE, initial_prompt=DOMAIN_PROMPT
    )
    port = free_port()
    env = {
        "WARMLINE_REDIS_URL": redis_url,
        "WARMLINE_WHISPER_MODEL": str(checkpoint),
        "WARMLINE_WHISPER_THREADS": "1",
        "WARMLINE_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "WARMLINE_TWILIO_MEDIA_BASIC_AUTH": "true",
        "WARMLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "WARMLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "WARMLINE_WORKER_POLL_MS": "200",
        "WARMLINE_METRICS_TOKEN": METRICS_TOKEN,
    }
    worker = start_worker(tmp_path, env, "--metrics-port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        _, before = await scrape(base)
        assert value(before, f"{HISTOGRAM}_count", path="recording") == 0
        async with MediaServer(ACCOUNT_SID, auth_token=AUTH_TOKEN) as media:
            url = media.add(RECORDING_SID, two_channel_call(), 9.0)
            entry = {
                "CallSid": CALL_SID,
                "RecordingSid": RECORDING_SID,
                "RecordingUrl": url,
                "RecordingChannels": "2",
                "RecordingSource": "DialVerb",
            }
            assert await RecordingEvents(redis).enqueue(RECORDING_SID, entry)

            async def transcribed() -> bool:
                return bool(await redis.exists(RESULT_PREFIX + RECORDING_SID))

            await wait_until(transcribed, 45, "the recording's result")
        text, after = await scrape(base)
        async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
            assert response.status == 401  # the token is required when set
    finally:
        worker.stop(signal.SIGTERM)
    assert value(after, f"{HISTOGRAM}_count", path="recording") == 1
    assert value(after, f"{HISTOGRAM}_bucket", path="recording", le="+Inf") == 1
    assert value(after, f"{HISTOGRAM}_sum", path="recording") > 0
    assert CALL_SID not in text and RECORDING_SID not in text
