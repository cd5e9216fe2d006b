"""The ``recording`` job handler in-process: real Redis, real HTTP media, a fake Whisper.

Everything that does not need a model is pinned here (idempotency, retries that keep the audio,
speaker labels, dated paths, auth, bad input); ``test_worker.py`` runs the real model in a real
worker process. Any blocking call the handler made on the event loop would fail these tests.
"""

from __future__ import annotations

import io
import json
import wave
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from blockbuster import blockbuster_ctx
from redis.asyncio import Redis

from ivr.jobs import Job
from ivr.recordings.media import MediaUnavailable
from ivr.recordings.storage import LocalRecordingStore
from ivr.recordings.transcription import (
    RESULT_PREFIX,
    TRANSCRIBED_COUNTER,
    InvalidRecordingJob,
    RecordingHandler,
    RecordingJob,
    recording_day,
    speakers_for,
)
from ivr.records.journal import RECORDS_STREAM
from ivr.simulator.media import MediaServer, mix_to_mono, wav_channels
from scoring.audio import AudioFormatError
from scoring.transcripts import Segment
from tests.recordings.support import an4, phone_clip, two_channel_call, wav_bytes
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN

pytestmark = pytest.mark.integration

CALL_SID = "CA" + "0123456789abcdef" * 2
SID = "RE" + "fedcba9876543210" * 2
ENTRY = "1700000000000-0"  # queued 2023-11-14 22:13:20 UTC
DAY = "2023/11/14"


class FakeTranscriber:
    """Labels one segment per channel; can fail its first ``fail`` calls like a crashed decoder."""

    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[int, tuple[str, ...]]] = []
        self.fail = fail

    def transcribe_recording(
        self, audio_channels: Sequence[Any], speakers: Sequence[str] = ("caller", "officer")
    ) -> list[Segment]:
        self.calls.append((len(audio_channels), tuple(speakers)))
        if self.fail:
            self.fail -= 1
            raise RuntimeError("decoder crashed")
        return [
            Segment(speaker, 0.5 + i, 1.5 + i, f"{speaker} speaking", -0.25, 0.01)
            for i, speaker in enumerate(speakers)
        ]


@asynccontextmanager
async def handler(
    redis: Redis, root: Path, transcriber: FakeTranscriber, **options: Any
) -> AsyncIterator[Callable[[Job], Awaitable[None]]]:
    """The handler, as a function that fails on any blocking call made on the event loop."""
    async with aiohttp.ClientSession() as session:
        handle = RecordingHandler(
            redis,
            LocalRecordingStore(root),
            transcriber,
            session,
            model="fake",
            fetch_attempts=3,
            fetch_retry_s=0.01,
            **options,
        )

        async def run(job: Job) -> None:
            with blockbuster_ctx():
                await handle(job)

        yield run


def job(job_fields: Mapping[str, str], attempt: int = 1, key: str = ENTRY) -> Job:
    return Job(id=key, key=key, fields=dict(job_fields), attempt=attempt, consumer="c1")


def voicemail(url: str, **extra: str) -> dict[str, str]:
    return {
        "CallSid": CALL_SID,
        "RecordingSid": SID,
        "RecordingUrl": url,
        "RecordingChannels": "1",
        "RecordingSource": "RecordVerb",
        **extra,
    }


@pytest.fixture(scope="module")
def mono() -> bytes:
    return wav_bytes(phone_clip(an4("fcaw", "an406-fcaw-b.wav")))


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_a_voicemail_is_the_callers_and_filed_by_the_day_it_was_queued(
    redis: Redis, tmp_path: Path, mono: bytes
) -> None:
    transcriber = FakeTranscriber()
    async with MediaServer(ACCOUNT_SID) as media, handler(redis, tmp_path, transcriber) as run:
        await run(job(voicemail(media.add(SID, mono, 4.0))))
        assert [(f.suffix, f.status) for f in media.fetches] == [(".wav", 200)]  # mono: 1 channel
    folder = f"{DAY}/{CALL_SID}"
    assert files(tmp_path) == [f"{folder}/{SID}.transcript.json", f"{folder}/{SID}.wav"]
    assert (tmp_path / folder / f"{SID}.wav").read_bytes() == mono
    assert transcriber.calls == [(1, ("caller",))]
    document = json.loads((tmp_path / folder / f"{SID}.transcript.json").read_text())
    assert document == {
        "recording_sid": SID,
        "call_sid": CALL_SID,
        "source": "RecordVerb",
        "channels": 1,
        "speakers": ["caller"],
        "duration": 4.0,
        "model": "fake",
        "audio": f"{folder}/{SID}.wav",
        "segments": [
            {
                "speaker": "caller",
                "start": 0.5,
                "end": 1.5,
                "text": "caller speaking",
                "avg_logprob": -0.25,
                "no_speech_prob": 0.01,
            }
        ],
    }
    journaled = await redis.xrange(RECORDS_STREAM)  # for the call's record in the database
    assert [(e[b"kind"], e[b"call_sid"], json.loads(e[b"body"])) for _, e in journaled] == [
        (b"transcript", CALL_SID.encode(), document)
    ]
    result = await redis.hgetall(RESULT_PREFIX + SID)
    assert result[b"transcript"] == f"{folder}/{SID}.transcript.json".encode()
    assert (result[b"job"], result[b"attempt"], result[b"segments"]) == (ENTRY.encode(), b"1", b"1")


async def test_a_second_delivery_fetches_and_writes_nothing(
    redis: Redis, tmp_path: Path, mono: bytes
) -> None:
    transcriber = FakeTranscriber()
    async with MediaServer(ACCOUNT_SID) as media, handler(redis, tmp_path, transcriber) as run:
        fields = voicemail(media.add(SID, mono, 4.0))
        await run(job(fields))
        before = {name: (tmp_path / name).stat().st_mtime_ns for name in files(tmp_path)}
        await run(job(fields))  # the same entry again (a worker died before its ack)
        await run(job(fields, key="1800000000000-0"))  # queued again, another day
        assert len(media.fetches) == 1
    assert transcriber.calls == [(1, ("caller",))]
    assert {name: (tmp_path / name).stat().st_mtime_ns for name in files(tmp_path)} == before
    assert await redis.get(TRANSCRIBED_COUNTER) == b"1"
    assert await redis.xlen(RECORDS_STREAM) == 1


async def test_a_failed_transcription_keeps_the_audio_for_the_retry(
    redis: Redis, tmp_path: Path
) -> None:
    stereo = two_channel_call()
    transcriber = FakeTranscriber(fail=1)
    async with MediaServer(ACCOUNT_SID) as media, handler(redis, tmp_path, transcriber) as run:
        fields = voicemail(
            media.add(SID, stereo, 9.0), RecordingChannels="2", RecordingSource="DialVerb"
        )
        with pytest.raises(RuntimeError, match="decoder crashed"):
            await run(job(fields))
        assert files(tmp_path) == [f"{DAY}/{CALL_SID}/{SID}.wav"]
        assert await redis.exists(RESULT_PREFIX + SID) == 0
        await run(job(fields, attempt=2))
        assert len(media.fetches) == 1  # the retry read the kept audio
    assert transcriber.calls == [(2, ("caller", "officer"))] * 2
    assert len(files(tmp_path)) == 2
    assert (await redis.hgetall(RESULT_PREFIX + SID))[b"attempt"] == b"2"


async def test_media_basic_auth(redis: Redis, tmp_path: Path, mono: bytes) -> None:
    async with MediaServer(ACCOUNT_SID, auth_token=AUTH_TOKEN) as media:
        fields = voicemail(media.add(SID, mono, 4.0))
        credentials = {"account_sid": ACCOUNT_SID, "auth_token": "wrong"}
        async with handler(redis, tmp_path, FakeTranscriber(), **credentials) as run:
            with pytest.raises(MediaUnavailable, match=r"^recording not available: HTTP 401$"):
                await run(job(fields))
        assert [f.status for f in media.fetches] == [401]  # not retried: only a 404 is
        credentials["auth_token"] = AUTH_TOKEN
        async with handler(redis, tmp_path, FakeTranscriber(), **credentials) as run:
            await run(job(fields))
        assert media.fetches[-1].status == 200


async def test_an_error_page_is_never_kept_as_audio(redis: Redis, tmp_path: Path) -> None:
    async with (
        MediaServer(ACCOUNT_SID) as media,
        handler(redis, tmp_path, FakeTranscriber()) as run,
    ):
        url = media.add(SID, b"<html>Service Unavailable</html>", 1.0)
        with pytest.raises(AudioFormatError, match="unrecognised audio"):
            await run(job(voicemail(url)))
    assert files(tmp_path) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"RecordingUrl": ""}, "recording job without RecordingUrl"),
        ({"CallSid": "../../etc"}, "CallSid '../../etc' is not a Twilio SID"),
        ({"RecordingSid": ".hidden"}, "RecordingSid '.hidden' is not a Twilio SID"),
        ({"RecordingUrl": "file:///etc/passwd"}, "is not an http(s) URL"),
        ({"RecordingChannels": "3"}, "RecordingChannels '3' is not 1 or 2"),
    ],
)
async def test_a_job_that_is_not_a_recording_is_refused(
    redis: Redis, tmp_path: Path, change: dict[str, str], message: str
) -> None:
    fields = {**voicemail("http://127.0.0.1:9/2010-04-01/x"), **change}
    async with handler(redis, tmp_path, FakeTranscriber()) as run:
        with pytest.raises(InvalidRecordingJob) as refused:
            await run(job(fields))
    assert message in str(refused.value)


def test_speakers_by_channels_and_source() -> None:
    assert speakers_for(2, "DialVerb") == ("caller", "officer")
    assert speakers_for(2, "RecordVerb") == ("caller", "officer")
    assert speakers_for(1, "RecordVerb") == ("caller",)
    assert speakers_for(1, "DialVerb") == ("mixed",)  # both parties on one channel
    with pytest.raises(InvalidRecordingJob, match="3 channels"):
        speakers_for(3, "DialVerb")


@pytest.mark.parametrize(
    ("started", "key", "day"),
    [
        ("Thu, 30 Apr 2026 22:00:00 -0500", ENTRY, "2026-05-01"),  # Twilio's RFC 2822, to UTC
        ("2026-04-30T12:00:00Z", ENTRY, "2026-04-30"),
        ("", ENTRY, "2023-11-14"),  # when it was queued: the same on every delivery
        ("yesterday", ENTRY, "2023-11-14"),
        ("", "my-own-key", datetime.now(UTC).strftime("%Y-%m-%d")),
    ],
)
def test_the_day_a_recording_is_filed_under(started: str, key: str, day: str) -> None:
    fields = {**voicemail("http://x/y"), "RecordingStartTime": started}
    assert recording_day(RecordingJob.from_fields(fields), key).strftime("%Y-%m-%d") == day


async def test_the_fake_carrier_serves_two_channels_only_when_asked() -> None:
    stereo = two_channel_call(seconds=6.0)
    async with MediaServer(ACCOUNT_SID) as media, aiohttp.ClientSession() as session:
        url = media.add(SID, stereo, 6.0) + ".wav"
        async with session.get(url, params={"RequestedChannels": "2"}) as both:
            assert (both.status, await both.read()) == (200, stereo)
        async with session.get(url) as mixed:
            body = await mixed.read()
        mono_url = media.add("RE" + "0" * 32, None, 1.0) + ".wav"
        async with session.get(mono_url, params={"RequestedChannels": "2"}) as refused:
            assert refused.status == 400
    assert wav_channels(stereo) == 2 and wav_channels(body) == 1
    assert body == mix_to_mono(stereo)
    with wave.open(io.BytesIO(stereo)) as left_right, wave.open(io.BytesIO(body)) as mono:
        frames = np.frombuffer(left_right.readframes(-1), "<i2").reshape(-1, 2).astype(np.int32)
        assert mono.getnframes() == frames.shape[0]
        mixed_samples = np.frombuffer(mono.readframes(-1), "<i2")
    # The average of the two channels, to within one step of 16-bit rounding.
    assert np.abs(mixed_samples.astype(np.int32) - frames.sum(axis=1) / 2).max() <= 1
