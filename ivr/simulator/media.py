"""The recordings API of the fake carrier: serves the WAV files behind each RecordingUrl.

`GET /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}` (also with `.wav`) returns
8 kHz mono 16-bit PCM WAV, like Twilio's default. `.mp3` answers 415 by default: the stdlib cannot
encode MP3, and serving WAV bytes under an MP3 URL would let an app that decodes by extension pass
here and fail in production (`mp3="wav"` serves the WAV instead). A two-channel recording (a WAV
with two channels: caller left, officer right) is served as stored with `?RequestedChannels=2`
and mixed down to mono without it, as Twilio does; `?RequestedChannels=2` on a mono recording
answers 400. Optional Basic auth (AccountSid:AuthToken) models the
"HTTP Basic Authentication for media" account setting, and `unavailable_ms` models recordings that
answer 404 for a moment after the recording status callback.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hmac
import io
import struct
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np
from aiohttp import web

from scoring.audio import write_wav

SAMPLE_RATE = 8000
WAV_CONTENT_TYPE = "audio/x-wav"


@functools.lru_cache(maxsize=64)
def silence_wav(seconds: float) -> bytes:
    """`seconds` of 8 kHz mono 16-bit silence as a WAV file."""
    return write_wav(np.zeros(max(0, round(seconds * SAMPLE_RATE)), np.float32), SAMPLE_RATE)


def wav_duration(data: bytes) -> float:
    """Length in seconds of WAV bytes (cheap: reads the header only)."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def wav_file_duration(path: Path) -> float:
    """Length in seconds of a WAV file; blocking, so call it through `asyncio.to_thread`."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def wav_channels(data: bytes) -> int:
    """Channels a WAV file's header declares (1 when it has no readable ``fmt `` chunk)."""
    pos = 12
    while data[:4] == b"RIFF" and pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"fmt " and pos + 12 <= len(data):
            return max(1, int(struct.unpack_from("<H", data, pos + 10)[0]))
        pos += 8 + size + (size & 1)
    return 1


def mix_to_mono(data: bytes) -> bytes:
    """A 16-bit PCM WAV's channels averaged into one (other encodings are returned as they are)."""

    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError):
        return data
    if channels == 1 or width != 2:
        return data
    samples = np.frombuffer(frames, "<i2").reshape(-1, channels).astype(np.float32) / 32768
    return write_wav(samples.mean(axis=1), rate)


def _read_file(path: Path) -> bytes:
    return path.read_bytes()


@dataclass(frozen=True, slots=True)
class _Stored:
    audio: bytes | Path | None
    duration_s: float
    available_at: float


@dataclass(frozen=True, slots=True)
class MediaFetch:
    recording_sid: str
    suffix: str  # "", ".wav" or ".mp3"
    status: int


class MediaServer:
    """A small aiohttp server on 127.0.0.1 and a free port; use as an async context manager."""

    def __init__(
        self,
        account_sid: str,
        *,
        auth_token: str | None = None,
        unavailable_ms: int = 0,
        mp3: Literal["reject", "wav"] = "reject",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self._unavailable_s = unavailable_ms / 1000
        self._mp3 = mp3
        self._clock = clock
        self._recordings: dict[str, _Stored] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.fetches: list[MediaFetch] = []

    async def __aenter__(self) -> MediaServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(
            "/2010-04-01/Accounts/{account}/Recordings/{name}", self._serve, allow_head=True
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def add(self, recording_sid: str, audio: bytes | Path | None, duration_s: float) -> str:
        """Store a recording and return its RecordingUrl (no extension, as Twilio sends it)."""
        available_at = self._clock() + self._unavailable_s
        self._recordings[recording_sid] = _Stored(audio, duration_s, available_at)
        return self.url_for(recording_sid)

    def url_for(self, recording_sid: str) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Recordings/{recording_sid}"

    def forget(self, recording_sid: str) -> None:
        self._recordings.pop(recording_sid, None)

    def _authorized(self, request: web.Request) -> bool:
        if self._auth_token is None:
            return True
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = f"{self.account_sid}:{self._auth_token}"
        return hmac.compare_digest(decoded.encode(), expected.encode())

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        sid, dot, ext = name.partition(".")
        suffix = dot + ext
        response = await self._answer(request, sid, suffix)
        self.fetches.append(MediaFetch(sid, suffix, response.status))
        return response

    async def _answer(self, request: web.Request, sid: str, suffix: str) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response(
                {"code": 20003, "message": "Authenticate", "status": 401},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
            )
        stored = self._recordings.get(sid)
        if (
            request.match_info["account"] != self.account_sid
            or stored is None
            or suffix not in ("", ".wav", ".mp3")
            or self._clock() < stored.available_at
        ):
            message = f"The requested resource {request.path} was not found"
            return web.json_response({"code": 20404, "message": message, "status": 404}, status=404)
        requested = request.query.get("RequestedChannels", "1")
        if isinstance(stored.audio, Path):
            body = await asyncio.to_thread(_read_file, stored.audio)
        else:
            body = stored.audio if stored.audio is not None else silence_wav(stored.duration_s)
        channels = wav_channels(body)
        if requested not in ("1", "2") or int(requested) > channels:
            message = "Requested channels exceed the recording's channels"
            return web.json_response({"code": 20001, "message": message, "status": 400}, status=400)
        if suffix == ".mp3" and self._mp3 == "reject":
            return web.Response(status=415, text="the simulator serves WAV only; drop the .mp3")
        if requested == "1" and channels > 1:
            body = await asyncio.to_thread(mix_to_mono, body)
        return web.Response(body=body, content_type=WAV_CONTENT_TYPE)
