"""After a call: the worker scores the caller's side of the transcript with the intent model.

A real worker process with a scripted Whisper checkpoint (both channels "say" one sentence) and
the small intent model trained for the session; the caller channel's words are classified and
the intent lands in the transcript JSON and the recording's result.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from redis.asyncio import Redis

from ivr.recordings.transcription import RESULT_PREFIX
from ivr.simulator.media import MediaServer
from ivr.telephony.recording_events import RecordingEvents
from scoring.intent.labels import LABELS
from scoring.transcripts import DOMAIN_PROMPT
from scoring.whisper_checkpoints import build_scripted_checkpoint
from tests.jobs.conftest import wait_until
from tests.recordings.support import start_worker, two_channel_call
from tests.support.intent import TRAINING_TIMEOUT_S
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.timeout(TRAINING_TIMEOUT_S)]

SENTENCE = "I need the payoff amount on my current mortgage and my escrow statement."
CALL_SID = "CA" + "2" * 32


async def test_the_callers_words_are_scored_after_the_call(
    redis_url: str, redis: Redis, intent_model: Path, tmp_path: Path
) -> None:
    checkpoint = build_scripted_checkpoint(
        tmp_path / "scripted.pt", SENTENCE, initial_prompt=DOMAIN_PROMPT
    )
    env = {
        "WARMLINE_REDIS_URL": redis_url,
        "WARMLINE_WHISPER_MODEL": str(checkpoint),
        "WARMLINE_WHISPER_THREADS": "1",
        "WARMLINE_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "WARMLINE_INTENT_MODEL": str(intent_model),
        "WARMLINE_TWILIO_MEDIA_BASIC_AUTH": "true",
        "WARMLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "WARMLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "WARMLINE_WORKER_POLL_MS": "200",
    }
    worker = start_worker(tmp_path, env)
    try:
        sid = "RE" + "b" * 32
        async with MediaServer(ACCOUNT_SID, auth_token=AUTH_TOKEN) as media:
            url = media.add(sid, two_channel_call(), 9.0)
            await RecordingEvents(redis).enqueue(
                sid,
                {
                    "CallSid": CALL_SID,
                    "RecordingSid": sid,
                    "RecordingUrl": url,
                    "RecordingChannels": "2",
                    "RecordingSource": "DialVerb",
                    "RecordingStartTime": "Fri, 01 May 2026 10:00:00 +0000",
                },
            )
            await wait_until(
                lambda: redis.exists(RESULT_PREFIX + sid), 60, "the recording's result"
            )
        result = await redis.hgetall(RESULT_PREFIX + sid)
        document = json.loads(
            (tmp_path / "recordings" / result[b"transcript"].decode()).read_text()
        )
    finally:
        worker.stop(signal.SIGTERM)
    intent = document["intent"]
    assert intent["label"] == "servicing"
    assert intent["words"] == len(SENTENCE.split())  # the caller channel only, not the officer's
    assert set(intent["probabilities"]) == set(LABELS)
    assert sum(intent["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert intent["confidence"] == max(intent["probabilities"].values())
    assert result[b"intent"] == b"servicing"
    assert float(result[b"intent_confidence"]) == intent["confidence"]
