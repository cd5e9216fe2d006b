"""``warmline worker`` end to end: a real worker process drains ``warmline:recordings``.

The worker loads a Whisper checkpoint with the real architecture through the real
``whisper.load_model`` path, scripted to say one sentence (nothing downloads). The recording is a
two-channel WAV built from two AN4 speakers, served over HTTP by the fake carrier's media server
with Basic auth on and 404s for its first moments, as Twilio's media is. The tests share one
worker process and run in file order: transcribe and re-deliver, then a dead letter, then stop.
"""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis as sync_redis
from redis.asyncio import Redis

from ivr.jobs import DEFAULT_GROUP, RECORDINGS_STREAM, JobQueue, job_stats
from ivr.recordings.transcription import RESULT_PREFIX, TRANSCRIBED_COUNTER
from ivr.simulator.media import MediaServer
from ivr.telephony.recording_events import RecordingEvents
from scoring.transcripts import DOMAIN_PROMPT
from scoring.whisper_checkpoints import build_scripted_checkpoint
from tests.jobs.conftest import wait_until
from tests.recordings.support import (
    CALLER_AT,
    OFFICER_AT,
    WorkerProcess,
    start_worker,
    two_channel_call,
)
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, warmline

pytestmark = [pytest.mark.e2e, pytest.mark.models]

SENTENCE = "I would like to refinance my house in Texas."
CALL_SID = "CA" + "1" * 32
CONSUMER = "test-worker-1"
MAX_ATTEMPTS = 2


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker")


@pytest.fixture(scope="module")
def checkpoint(workdir: Path) -> Path:
    # Scripted for the prompt the transcriber sends by default.
    return build_scripted_checkpoint(
        workdir / "scripted.pt", SENTENCE, initial_prompt=DOMAIN_PROMPT
    )


@pytest.fixture(scope="module")
def recordings(workdir: Path) -> Path:
    return workdir / "recordings"


@pytest.fixture(scope="module")
def worker(
    redis_url: str, workdir: Path, checkpoint: Path, recordings: Path
) -> Iterator[WorkerProcess]:
    sync_redis.Redis.from_url(redis_url).flushdb()
    env = {
        "WARMLINE_REDIS_URL": redis_url,
        "WARMLINE_WHISPER_MODEL": str(checkpoint),
        "WARMLINE_WHISPER_THREADS": "1",
        "WARMLINE_RECORDINGS_DIR": str(recordings),
        "WARMLINE_TWILIO_MEDIA_BASIC_AUTH": "true",
        "WARMLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "WARMLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "WARMLINE_WORKER_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "WARMLINE_WORKER_RETRY_BASE_S": "0.2",
        "WARMLINE_RECORDING_FETCH_ATTEMPTS": "8",  # waits 0.05, 0.1, 0.2, 0.4, 0.5 … s
        "WARMLINE_RECORDING_FETCH_RETRY_S": "0.05",
        "WARMLINE_WORKER_POLL_MS": "200",
    }
    process = start_worker(workdir, env, "--consumer", CONSUMER)
    yield process
    process.stop(signal.SIGKILL)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


def recording_fields(sid: str, url: str, **extra: str) -> dict[str, str]:
    """What the telephony layer queues for a completed dual-channel <Dial> recording."""
    return {
        "CallSid": CALL_SID,
        "RecordingSid": sid,
        "RecordingUrl": url,
        "RecordingDuration": "9",
        "RecordingChannels": "2",
        "RecordingSource": "DialVerb",
        **extra,
    }


async def drained(redis: Redis) -> bool:
    stats = await job_stats_of(redis)
    return stats["depth"] == 0 and stats["pending"] == 0 and stats["delayed"] == 0


async def job_stats_of(redis: Redis) -> dict[str, int | str]:
    return (await JobQueue(redis, RECORDINGS_STREAM, DEFAULT_GROUP).stats()).as_dict()


async def test_a_two_channel_recording_is_stored_transcribed_and_counted_once(
    worker: WorkerProcess, client: Redis, recordings: Path, redis_url: str
) -> None:
    sid = "RE" + "a" * 32
    stereo = two_channel_call()
    async with MediaServer(ACCOUNT_SID, auth_token=AUTH_TOKEN, unavailable_ms=1500) as media:
        url = media.add(sid, stereo, 9.0)
        started = "Thu, 30 Apr 2026 22:00:00 -0500"  # filed by its UTC date: 1 May
        queued = await RecordingEvents(client).enqueue(
            sid, recording_fields(sid, url, RecordingStartTime=started)
        )
        assert queued
        await wait_until(
            lambda: client_exists(client, RESULT_PREFIX + sid), 45, "the recording's result"
        )
        await wait_until(lambda: drained(client), 5, "the ack")
        statuses = [fetch.status for fetch in media.fetches]
        assert statuses[0] == 404 and statuses[-1] == 200, statuses  # not ready, then served
        assert {fetch.suffix for fetch in media.fetches} == {".wav"}

        folder = recordings / "2026" / "05" / "01" / CALL_SID
        audio, transcript = folder / f"{sid}.wav", folder / f"{sid}.transcript.json"
        assert audio.read_bytes() == stereo  # both channels: RequestedChannels=2 was sent
        document = json.loads(transcript.read_text())
        assert {k: document[k] for k in ("recording_sid", "call_sid", "channels", "speakers")} == {
            "recording_sid": sid,
            "call_sid": CALL_SID,
            "channels": 2,
            "speakers": ["caller", "officer"],
        }
        assert document["duration"] == pytest.approx(9.0, abs=0.01)
        assert document["model"].endswith("scripted.pt")
        assert document["audio"] == f"2026/05/01/{CALL_SID}/{sid}.wav"
        assert "intent" not in document  # no intent model in this worker
        segments = document["segments"]
        assert [(s["speaker"], s["text"]) for s in segments] == [
            ("caller", SENTENCE),
            ("officer", SENTENCE),
        ]
        assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
        for segment, at in zip(segments, (CALLER_AT, OFFICER_AT), strict=True):
            assert at - 0.3 <= segment["start"] <= at + 0.8
            assert segment["end"] == pytest.approx(segment["start"] + 1.0, abs=0.02)
            assert segment["avg_logprob"] <= 0 and 0 <= segment["no_speech_prob"] < 0.6

        stats = await job_stats(redis_url)
        assert (stats["depth"], stats["pending"], stats["delayed"], stats["dead"]) == (0, 0, 0, 0)
        assert await client.get(TRANSCRIBED_COUNTER) == b"1"
        result = await client.hgetall(RESULT_PREFIX + sid)
        assert result[b"consumer"] == CONSUMER.encode() and result[b"segments"] == b"2"

        # The same recording queued again (a re-delivery): nothing is fetched or written twice.
        mtimes = (audio.stat().st_mtime_ns, transcript.stat().st_mtime_ns)
        fetched = len(media.fetches)
        await client.xadd(RECORDINGS_STREAM, recording_fields(sid, url))
        await wait_until(lambda: drained(client), 15, "the re-delivered job's ack")
        assert "recording already transcribed" in worker.log()
        assert len(media.fetches) == fetched
        assert (audio.stat().st_mtime_ns, transcript.stat().st_mtime_ns) == mtimes
        assert await client.get(TRANSCRIBED_COUNTER) == b"1"
        assert stored(recordings, sid) == [audio, transcript]


def stored(recordings: Path, sid: str) -> list[Path]:
    """The recording's files in the store, audio first."""
    return sorted(recordings.rglob(f"{sid}*"), key=lambda p: p.suffix != ".wav")


async def client_exists(redis: Redis, key: str) -> bool:
    return bool(await redis.exists(key))


async def test_media_that_never_appears_ends_in_the_dead_letters(
    worker: WorkerProcess, client: Redis, recordings: Path, redis_url: str
) -> None:
    sid = "RE" + "d" * 32
    async with MediaServer(ACCOUNT_SID, auth_token=AUTH_TOKEN) as media:
        url = media.url_for(sid)  # never added: 404 for ever
        assert await RecordingEvents(client).enqueue(sid, recording_fields(sid, url))
        queue = JobQueue(client, RECORDINGS_STREAM, DEFAULT_GROUP)
        await wait_until(lambda: has_dead_letter(queue), 30, "the dead letter")
        assert await drained(client)
        assert {f.status for f in media.fetches} == {404}
        assert len(media.fetches) == MAX_ATTEMPTS * 8

    [letter] = await queue.dead_letters()
    assert letter.attempts == MAX_ATTEMPTS
    assert letter.error == "MediaUnavailable: recording not available: HTTP 404"
    assert (letter.fields["CallSid"], letter.fields["RecordingSid"]) == (CALL_SID, sid)
    assert stored(recordings, sid) == []
    log = worker.log()
    assert "job failed" in log and "status=dead" in log and "Traceback" not in log

    shown = warmline("jobs", "--json", env={"WARMLINE_REDIS_URL": redis_url})
    assert shown.returncode == 0, shown.stderr
    numbers = json.loads(shown.stdout)
    transcribed = int(await client.get(TRANSCRIBED_COUNTER) or 0)
    assert numbers == {
        "stream": RECORDINGS_STREAM,
        "group": DEFAULT_GROUP,
        "depth": 0,
        "pending": 0,
        "delayed": 0,
        "dead": 1,
        "consumers": 1,
        "transcribed": transcribed,
    }
    table = warmline("jobs", env={"WARMLINE_REDIS_URL": redis_url})
    assert table.returncode == 0
    header, row = table.stdout.splitlines()
    assert header.split() == [
        "stream",
        "group",
        "depth",
        "pending",
        "delayed",
        "dead",
        "consumers",
        "transcribed",
    ]
    assert row.split() == [
        RECORDINGS_STREAM,
        DEFAULT_GROUP,
        "0",
        "0",
        "0",
        "1",
        "1",
        str(transcribed),
    ]
    assert "{warmline:recordings}:dead" in table.stderr


async def has_dead_letter(queue: JobQueue) -> bool:
    return (await queue.stats()).dead > 0


async def test_sigterm_stops_the_worker_cleanly(worker: WorkerProcess, redis_url: str) -> None:
    assert worker.stop(signal.SIGTERM) == 0
    log = worker.log()
    assert "worker stopped" in log and "Traceback" not in log
    assert (await job_stats(redis_url))["consumers"] == 0  # it left the group
