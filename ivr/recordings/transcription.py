"""The ``recording`` job: fetch a finished call recording, keep it, transcribe each channel.

The telephony layer adds every completed recording once to ``warmline:recordings``; workers
(``warmline worker``) run :class:`RecordingHandler` on each entry:

1. skip at once if the recording is already transcribed (its result exists, keyed by
   RecordingSid, so a re-delivered or re-queued job writes nothing a second time);
2. take the audio from the store if an earlier attempt kept it, else download it from Twilio
   (``RequestedChannels=2`` for a two-channel recording; Basic auth when the account requires it)
   and keep it: ``YYYY/MM/DD/<CallSid>/<RecordingSid>.wav``;
3. transcribe each channel with Whisper in an executor (never on the event loop): caller on the
   left, officer on the right; a one-channel ``<Record>`` (an answer, a voicemail) is the caller;
4. when an intent model is loaded, classify everything the caller said (the caller channel only:
   the officer's words are not the caller's intent), in windows so a long call is read whole;
5. write ``<RecordingSid>.transcript.json`` next to the audio (with the intent), journal it for
   the call's record (:mod:`ivr.records.journal`), then write the result and the
   ``transcribed`` counter in one write-once step (:class:`~ivr.jobs.ResultStore`).

Every file is written by rename, so a crash leaves either no file or a whole one; a crash after
the files and before the result only means the next delivery writes the same files again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from prometheus_client import Histogram
from redis.asyncio import Redis

from ivr.config import Settings
from ivr.jobs import (
    DEFAULT_GROUP,
    RECORDING_KIND,
    RECORDINGS_STREAM,
    Backoff,
    Job,
    PermanentJobError,
    ResultStore,
    job_stats,
    run_worker,
)
from ivr.logs import fields
from ivr.recordings.media import fetch_recording
from ivr.recordings.storage import LocalRecordingStore, RecordingStore, recording_key
from ivr.records.journal import RecordJournal

if TYPE_CHECKING:
    from scoring.audio import Samples
    from scoring.intent.prediction import IntentPrediction
    from scoring.transcripts import Segment

log = logging.getLogger(__name__)

# The result hashes and the counter share the stream's hash tag: one Redis Cluster slot.
RESULT_PREFIX = "{warmline:recordings}:result:"
TRANSCRIBED_COUNTER = "{warmline:recordings}:transcribed"

TWO_CHANNEL_SPEAKERS = ("caller", "officer")
"""Twilio's order for a dual-channel call recording: the parent call (the caller) on the left."""

_SID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENTRY_ID = re.compile(r"(\d{10,})-\d+")


class InvalidRecordingJob(PermanentJobError, ValueError):
    """The job's fields do not describe a recording we can fetch."""


class MediaCredentialsMissing(ValueError):
    """Basic auth for media is on, but the account SID or auth token is not set."""


class ChannelTranscriber(Protocol):
    """What the handler needs of :class:`scoring.transcriber.Transcriber` (tests pass a fake)."""

    def transcribe_recording(
        self, audio_channels: Sequence[Samples], speakers: Sequence[str] = ...
    ) -> list[Segment]: ...


class TranscriptClassifier(Protocol):
    """What post-call scoring needs of ``scoring.intent.classifier.IntentClassifier``."""

    def predict_long(self, text: str) -> IntentPrediction: ...


CALLER = TWO_CHANNEL_SPEAKERS[0]


def caller_words(segments: Sequence[Segment]) -> str:
    """Everything the caller said, in order: the text whose intent is scored after the call."""
    return " ".join(s.text.strip() for s in segments if s.speaker == CALLER and s.text.strip())


def intent_document(prediction: IntentPrediction, text: str) -> dict[str, Any]:
    """The intent part of the transcript JSON (and of the call's record)."""
    return {
        "label": prediction.label,
        "confidence": round(prediction.confidence, 4),
        "probabilities": {k: round(v, 4) for k, v in prediction.probabilities.items()},
        "words": len(text.split()),
    }


@dataclass(frozen=True)
class RecordingJob:
    """The fields of a recording status callback that the job needs."""

    call_sid: str
    recording_sid: str
    url: str
    channels: int
    source: str
    started_at: datetime | None

    @classmethod
    def from_fields(cls, job_fields: Mapping[str, str]) -> RecordingJob:
        missing = [n for n in ("CallSid", "RecordingSid", "RecordingUrl") if not job_fields.get(n)]
        if missing:
            raise InvalidRecordingJob(f"recording job without {', '.join(missing)}")
        call_sid, recording_sid = job_fields["CallSid"], job_fields["RecordingSid"]
        for name, value in (("CallSid", call_sid), ("RecordingSid", recording_sid)):
            if not _SID.fullmatch(value):
                raise InvalidRecordingJob(f"{name} {value[:80]!r} is not a Twilio SID")
        url = job_fields["RecordingUrl"]
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise InvalidRecordingJob(f"RecordingUrl {url[:200]!r} is not an http(s) URL")
        raw_channels = job_fields.get("RecordingChannels") or "1"
        if raw_channels not in ("1", "2"):
            raise InvalidRecordingJob(f"RecordingChannels {raw_channels[:20]!r} is not 1 or 2")
        return cls(
            call_sid=call_sid,
            recording_sid=recording_sid,
            url=url,
            channels=int(raw_channels),
            source=job_fields.get("RecordingSource", ""),
            started_at=_parse_time(job_fields.get("RecordingStartTime")),
        )


def _parse_time(value: str | None) -> datetime | None:
    """Twilio's RecordingStartTime (RFC 2822, ``Mon, 22 Aug 2011 21:05:55 +0000``), or ISO 8601."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def recording_day(recording: RecordingJob, job_key: str) -> datetime:
    """The date a recording is filed under, the same on every delivery of its job: when it
    started, else when it was queued (the id of the job's first stream entry), else today."""
    if recording.started_at is not None:
        return recording.started_at
    if queued := _ENTRY_ID.fullmatch(job_key):
        return datetime.fromtimestamp(int(queued[1]) / 1000, UTC)
    return datetime.now(UTC)


def speakers_for(channels: int, source: str) -> tuple[str, ...]:
    """Two channels: caller and officer. One channel: the caller for a ``<Record>`` (an answer or
    a voicemail), else both parties mixed."""
    if channels == 2:
        return TWO_CHANNEL_SPEAKERS
    if channels == 1:
        return ("caller",) if source == "RecordVerb" else ("mixed",)
    raise InvalidRecordingJob(f"the recording has {channels} channels; expected 1 or 2")


def decode_channels(audio: bytes) -> tuple[list[Samples], float]:
    """WAV (or MP3) bytes → each channel at 16 kHz, and the length in seconds. Blocking."""
    from scoring.audio import WHISPER_RATE, load_channels  # numpy and scipy: workers only

    channels = load_channels(audio)
    return channels, (channels[0].shape[0] / WHISPER_RATE if channels else 0.0)


def _number(value: float, digits: int) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


def transcript_document(
    recording: RecordingJob,
    *,
    speakers: Sequence[str],
    duration_s: float,
    model: str,
    audio_key: str,
    segments: Sequence[Segment],
) -> dict[str, Any]:
    """The transcript JSON written next to the audio."""
    return {
        "recording_sid": recording.recording_sid,
        "call_sid": recording.call_sid,
        "source": recording.source or None,
        "channels": len(speakers),
        "speakers": list(speakers),
        "duration": round(duration_s, 2),
        "model": model,
        "audio": audio_key,
        "segments": [
            {
                "speaker": s.speaker,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "avg_logprob": _number(s.avg_logprob, 4),
                "no_speech_prob": _number(s.no_speech_prob, 4),
            }
            for s in segments
        ],
    }


class RecordingHandler:
    """The ``recording`` job handler: one per worker process, shared by its concurrent jobs."""

    def __init__(
        self,
        redis: Redis,
        store: RecordingStore,
        transcriber: ChannelTranscriber,
        session: aiohttp.ClientSession,
        *,
        model: str,
        account_sid: str | None = None,
        auth_token: str | None = None,
        fetch_attempts: int = 20,
        fetch_retry_s: float = 0.1,
        executor: Executor | None = None,
        classifier: TranscriptClassifier | None = None,
        timings: Histogram | None = None,
    ) -> None:
        self.results = ResultStore(redis, prefix=RESULT_PREFIX)
        self.timings = timings
        """Observes each recording's Whisper time (all its channels), when metrics are on."""
        self.journal = RecordJournal(redis)
        self.classifier = classifier
        self.store = store
        self.transcriber = transcriber
        self.session = session
        self.model = model
        self._credentials = (account_sid, auth_token)
        self.fetch_attempts = fetch_attempts
        self.fetch_retry_s = fetch_retry_s
        self.executor = executor

    async def __call__(self, job: Job) -> None:
        recording = RecordingJob.from_fields(job.fields)
        about = fields(call_sid=recording.call_sid, recording_sid=recording.recording_sid)
        if await self.results.get(recording.recording_sid) is not None:
            log.info("recording already transcribed", extra=about)
            return
        started = time.monotonic()
        day = recording_day(recording, job.key)
        sid = recording.recording_sid
        audio_key = recording_key(recording.call_sid, f"{sid}.wav", day)
        transcript_key = recording_key(recording.call_sid, f"{sid}.transcript.json", day)
        loop = asyncio.get_running_loop()

        if await asyncio.to_thread(self.store.exists, audio_key):
            audio = await asyncio.to_thread(self.store.get, audio_key)  # kept by an earlier attempt
            channels, duration_s = await loop.run_in_executor(self.executor, decode_channels, audio)
        else:
            account_sid, auth_token = self._credentials
            audio = await fetch_recording(
                self.session,
                recording.url,
                account_sid=account_sid,
                auth_token=auth_token,
                channels=recording.channels,
                attempts=self.fetch_attempts,
                retry_delay_s=self.fetch_retry_s,
            )
            # Decoded before it is kept, so an error page served as 200 never lands as a .wav.
            channels, duration_s = await loop.run_in_executor(self.executor, decode_channels, audio)
            await asyncio.to_thread(self.store.put, audio_key, audio)

        speakers = speakers_for(len(channels), recording.source)
        whisper_started = time.perf_counter()
        segments = await loop.run_in_executor(
            self.executor, self.transcriber.transcribe_recording, channels, speakers
        )
        if self.timings is not None:
            self.timings.observe(time.perf_counter() - whisper_started)
        document = transcript_document(
            recording,
            speakers=speakers,
            duration_s=duration_s,
            model=self.model,
            audio_key=audio_key,
            segments=segments,
        )
        said = caller_words(segments)
        intent: dict[str, Any] | None = None
        if self.classifier is not None and said:
            prediction = await loop.run_in_executor(
                self.executor, self.classifier.predict_long, said
            )
            intent = document["intent"] = intent_document(prediction, said)
        payload = json.dumps(document, ensure_ascii=False, indent=2).encode() + b"\n"
        await asyncio.to_thread(self.store.put, transcript_key, payload)
        # Journaled before the result is marked, so a worker dying in between journals it
        # again on the next delivery (the records keep one transcript per recording).
        await self.journal.transcript(recording.call_sid, document)
        written = await self.results.write_once(
            sid,
            {
                "call_sid": recording.call_sid,
                "audio": audio_key,
                "transcript": transcript_key,
                "segments": str(len(segments)),
                "duration": f"{duration_s:.2f}",
                "model": self.model,
                **(
                    {"intent": intent["label"], "intent_confidence": str(intent["confidence"])}
                    if intent
                    else {}
                ),
                "job": job.key,
                "attempt": str(job.attempt),
                "consumer": job.consumer,
            },
            counters={TRANSCRIBED_COUNTER: 1},
        )
        if not written:  # another worker finished it meanwhile (a lease lost mid-job)
            log.info("recording already transcribed", extra=about)
            return
        log.info(
            "recording transcribed",
            extra=fields(
                call_sid=recording.call_sid,
                recording_sid=sid,
                channels=len(speakers),
                segments=len(segments),
                audio_seconds=round(duration_s, 2),
                seconds=round(time.monotonic() - started, 3),
            ),
        )


def media_credentials(settings: Settings) -> tuple[str | None, str | None]:
    """(account SID, auth token) for media downloads when Basic auth is on, else (None, None)."""
    if not settings.twilio_media_basic_auth:
        return None, None
    token = settings.twilio_auth_token
    if not settings.twilio_account_sid or token is None:
        raise MediaCredentialsMissing(
            "WARMLINE_TWILIO_MEDIA_BASIC_AUTH is on, so recordings are downloaded with the "
            "account's credentials, but WARMLINE_TWILIO_ACCOUNT_SID and "
            "WARMLINE_TWILIO_AUTH_TOKEN are not both set"
        )
    return settings.twilio_account_sid, token.get_secret_value()


async def run_recordings_worker(
    settings: Settings,
    redis_url: str,
    transcriber: ChannelTranscriber,
    model: str,
    *,
    consumer: str | None = None,
    concurrency: int | None = None,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    classifier: TranscriptClassifier | None = None,
) -> None:
    """Drain ``warmline:recordings`` until SIGTERM/SIGINT (or ``stop``): ``warmline worker``.

    With ``settings.worker_metrics_port`` set, the worker's metrics are served there meanwhile.
    """
    from ivr.metrics import WorkerMetrics
    from ivr.server.observability import metrics_server

    concurrency = concurrency or settings.worker_concurrency
    account_sid, auth_token = media_credentials(settings)
    metrics = WorkerMetrics()
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    redis = Redis.from_url(redis_url)
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="transcribe")
    try:
        async with contextlib.AsyncExitStack() as stack:
            if settings.worker_metrics_port is not None:
                await stack.enter_async_context(
                    metrics_server(
                        metrics.registry,
                        settings.worker_metrics_host,
                        settings.worker_metrics_port,
                        token,
                    )
                )
            session = await stack.enter_async_context(aiohttp.ClientSession())
            handler = RecordingHandler(
                redis,
                LocalRecordingStore(settings.recordings_dir),
                transcriber,
                session,
                model=model,
                account_sid=account_sid,
                auth_token=auth_token,
                fetch_attempts=settings.recording_fetch_attempts,
                fetch_retry_s=settings.recording_fetch_retry_s,
                executor=executor,
                classifier=classifier,
                timings=metrics.transcription_seconds.labels(path="recording"),
            )
            await run_worker(
                redis_url,
                RECORDINGS_STREAM,
                DEFAULT_GROUP,
                {RECORDING_KIND: handler},
                consumer=consumer,
                concurrency=concurrency,
                max_attempts=settings.worker_max_attempts,
                visibility_timeout_s=settings.worker_visibility_timeout_s,
                handler_timeout_s=settings.worker_handler_timeout_s or None,
                backoff=Backoff(
                    base_s=settings.worker_retry_base_s, max_s=settings.worker_retry_max_s
                ),
                poll_ms=settings.worker_poll_ms,
                stop=stop,
                handle_signals=handle_signals,
            )
    finally:
        # A job that overran its timeout may still be decoding in a thread: do not wait for it.
        executor.shutdown(wait=False, cancel_futures=True)
        await redis.aclose()


async def recording_stats(redis_url: str) -> dict[str, int | str]:
    """The recordings queue's :func:`~ivr.jobs.job_stats` plus ``transcribed`` (recordings done,
    each counted once)."""
    stats = await job_stats(redis_url, RECORDINGS_STREAM, DEFAULT_GROUP)
    redis = Redis.from_url(redis_url)
    try:
        done = await redis.get(TRANSCRIBED_COUNTER)
    finally:
        await redis.aclose()
    return {**stats, "transcribed": int(done or 0)}
