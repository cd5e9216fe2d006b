"""Spoken answers transcribed during the call, shared through Redis by every server process.

The process that receives a ``<Record>`` action starts the work once (a marker key per call
and turn): fetch the audio from Twilio (it may not be downloadable at once), transcribe it in the
answer pool, and push the result onto a per-turn Redis list. Whichever process answers the
call's next webhook waits for that list with ``BLPOP``, so the caller hears the next prompt as
soon as the text exists, without any process polling.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
from prometheus_client import Histogram
from redis.asyncio import Redis

from ivr.logs import fields
from ivr.recordings.media import MediaUnavailable, fetch_recording

if TYPE_CHECKING:  # torch and Whisper load only in servers configured for spoken answers
    from scoring.answer_pool import AnswerPool

log = logging.getLogger(__name__)

RESULT_TTL_S = 120


@dataclass(frozen=True)
class VoiceResult:
    """A transcribed answer, or ``failed`` when no text could be had."""

    text: str
    confidence: float | None
    recording: str
    signals: dict[str, float] = field(default_factory=dict)
    failed: str | None = None


class VoiceAnswers:
    """Starts transcriptions and hands their results to whichever process waits for them."""

    def __init__(
        self,
        redis: Redis,
        pool: AnswerPool,
        session: aiohttp.ClientSession,
        *,
        account_sid: str | None,
        auth_token: str | None,
        basic_auth: bool,
        timings: Histogram | None = None,
    ) -> None:
        """``timings``: observes each transcription's wall time (the wait for a free answer
        process included, since that is what the caller waits for)."""
        self._redis = redis
        self._timings = timings
        self._pool = pool
        self._session = session
        self._credentials = (account_sid, auth_token) if basic_auth else (None, None)
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def _key(call_sid: str, turn: int) -> str:
        return f"warmline:voice:{call_sid}:{turn}"

    async def start(self, call_sid: str, turn: int, url: str, prompt: str | None) -> None:
        """Begin transcribing this turn's recording, unless some process already has."""
        first = await self._redis.set(
            self._key(call_sid, turn) + ":started", 1, nx=True, ex=RESULT_TTL_S
        )
        if not first:
            return
        task = asyncio.create_task(self._transcribe(call_sid, turn, url, prompt))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def result(self, call_sid: str, turn: int, timeout_s: float) -> VoiceResult | None:
        """The turn's result, waiting up to ``timeout_s``; None if it is not there by then."""
        if timeout_s <= 0:
            return None
        popped: list[bytes] | None = await self._redis.blpop(  # type: ignore[misc]
            [self._key(call_sid, turn)], timeout=timeout_s
        )
        if popped is None:
            return None
        data = json.loads(popped[1])
        return VoiceResult(**data)

    async def _transcribe(self, call_sid: str, turn: int, url: str, prompt: str | None) -> None:
        account_sid, auth_token = self._credentials
        try:
            audio = await fetch_recording(
                self._session, url, account_sid=account_sid, auth_token=auth_token, attempts=12
            )
            started = time.perf_counter()
            transcript = await self._pool.transcribe(audio, prompt)
            if self._timings is not None:
                self._timings.observe(time.perf_counter() - started)
            result = VoiceResult(
                text=transcript.text,
                confidence=transcript.confidence if transcript.text else None,
                recording=url,
                signals=_finite(
                    avg_logprob=transcript.avg_logprob,
                    no_speech_prob=transcript.no_speech_prob,
                    speech_seconds=transcript.speech_seconds,
                    transcribe_seconds=transcript.elapsed_seconds,
                ),
            )
        except MediaUnavailable as error:
            result = VoiceResult("", None, url, failed=str(error))
        except Exception as error:  # the caller must still get an answer: keypad fallback
            log.exception("voice answer failed", extra=fields(call_sid=call_sid))
            result = VoiceResult("", None, url, failed=type(error).__name__)
        key = self._key(call_sid, turn)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(result.__dict__))
            pipe.expire(key, RESULT_TTL_S)
            await pipe.execute()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._pool.close()


def _finite(**values: float) -> dict[str, float]:
    """JSON has no infinity: an ungated silence has avg_logprob -inf, which is left out."""
    return {k: v for k, v in values.items() if math.isfinite(v)}
