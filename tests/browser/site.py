"""The site the browser tests visit: a real ``warmline serve`` with real records.

A call is placed through the fake carrier, so its record, billing line and timeline are the
server's own; its recording is then filed the way a worker files one (the audio in the
recording store, the transcript through the records journal), and users of every role are added
with ``warmline users add``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import secrets
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.records.database import open_engine
from ivr.records.journal import RecordJournal
from tests.records.played import play
from tests.support.services import ServerProcess, start_server, warmline

PASSWORD = "correct horse battery"
USERS = [
    ("quinn", "qa", None),
    ("root", "admin", None),
    ("amy", "officer", "amy-ng"),
    ("bo", "officer", "bo-reyes"),
]
SEGMENTS = [
    ("caller", 0.5, 2.0, "Hi, I'd like to refinance to a lower rate."),
    ("officer", 2.5, 4.0, "Happy to help. What is the property worth?"),
    ("caller", 4.5, 5.5, "About four hundred thousand."),
]
AUDIO_S = 6.0


@dataclass
class BrowserSite:
    server: ServerProcess
    records: Engine
    call_sid: str
    recording_sid: str

    @property
    def url(self) -> str:
        return self.server.url


def tone_wav(seconds: float, rate: int = 8000) -> bytes:
    """A quiet 440 Hz tone: real WAV audio the player can load and seek."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        sample = int(3000 * math.sin(2 * math.pi * 440 * n / rate))
        frames += sample.to_bytes(2, "little", signed=True)
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(bytes(frames))
    return out.getvalue()


@contextmanager
def browser_site(redis_url: str, deployment: Path, workdir: Path) -> Iterator[BrowserSite]:
    """The server, its records (SQLite), a transferred call with its recording, and users."""
    database_url = f"sqlite:///{workdir / 'records.db'}"
    store = workdir / "recordings"
    env = {"WARMLINE_DATABASE_URL": database_url, "WARMLINE_RECORDINGS_DIR": str(store)}
    server = start_server(redis_url, None, workdir, deployment=deployment, extra_env=env)
    records = open_engine(database_url)
    try:
        seed = secrets.randbelow(2**31)  # a fresh CallSid: Redis may hold an earlier run's
        call = play(server.url, "keypad_refinance_texas", caller="+15125550190", seed=seed)
        call_sid = asyncio.run(call)
        _wait(lambda: _billed(records, call_sid))
        recording_sid = "RE" + secrets.token_hex(16)
        audio = f"2026/11/24/{call_sid}/{recording_sid}.wav"
        (store / audio).parent.mkdir(parents=True)
        (store / audio).write_bytes(tone_wav(AUDIO_S))
        asyncio.run(_journal_transcript(redis_url, call_sid, recording_sid, audio))
        _wait(lambda: _has_transcript(records, recording_sid))
        for username, role, officer in USERS:
            args = ["users", "add", username, "--role", role, "--password-stdin"]
            args += ["--officer", officer] if officer else []
            added = warmline(*args, env={"WARMLINE_DATABASE_URL": database_url}, stdin=PASSWORD)
            assert added.returncode == 0, added.stderr
        yield BrowserSite(server, records, call_sid, recording_sid)
    finally:
        records.dispose()
        server.stop()


async def _journal_transcript(redis_url: str, call_sid: str, sid: str, audio: str) -> None:
    """What a worker journals when it has transcribed a two-channel recording."""
    redis = Redis.from_url(redis_url)
    try:
        segments = [
            {"speaker": who, "start": start, "end": end, "text": text}
            for who, start, end, text in SEGMENTS
        ]
        document = {
            "recording_sid": sid,
            "call_sid": call_sid,
            "channels": 2,
            "speakers": ["caller", "officer"],
            "duration": AUDIO_S,
            "model": "base.en",
            "audio": audio,
            "segments": segments,
        }
        await RecordJournal(redis).transcript(call_sid, document)
    finally:
        await redis.aclose()


def _billed(records: Engine, call_sid: str) -> bool:
    with Session(records) as session:
        line = select(t.BillingLine.id).join(t.Call).where(t.Call.call_sid == call_sid)
        return session.scalar(line) is not None


def _has_transcript(records: Engine, recording_sid: str) -> bool:
    with Session(records) as session:
        found = select(t.Transcript.id).where(t.Transcript.recording_sid == recording_sid)
        return session.scalar(found) is not None


def _wait(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(SQLAlchemyError):  # the server migrates in the background
            if check():
                return
        time.sleep(0.1)
    raise AssertionError("the server's recorder did not write the records in time")
