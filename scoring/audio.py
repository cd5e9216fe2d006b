"""Phone audio in, Whisper's 16 kHz float32 out: WAV (PCM, float, μ-law), raw μ-law, MP3.

Twilio hands us 8 kHz μ-law (media streams: raw bytes; recordings: WAV or MP3), QA uploads may be
anything. Whisper's own ``load_audio`` shells out to ffmpeg for every file (100–150 ms each, and
ffmpeg is not on a fresh machine), so WAV and μ-law are decoded here with the stdlib and numpy
(~0.5 ms) and ffmpeg is needed only for MP3. The stdlib ``wave`` module refuses μ-law WAV (format
tag 7, what telephony systems write), hence the small RIFF reader below.

Channels are kept apart (a dual-channel call recording is caller on the left, officer on the
right); :func:`to_mono` mixes them when one stream is wanted.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import wave
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

WHISPER_RATE = 16_000
PHONE_RATE = 8_000

Samples = npt.NDArray[np.float32]
AudioSource = str | Path | bytes
"""A file path, or the bytes of a WAV or MP3 file."""

_WAVE_PCM, _WAVE_FLOAT, _WAVE_MULAW, _WAVE_EXTENSIBLE = 0x0001, 0x0003, 0x0007, 0xFFFE
_MULAW_BIAS = 0x84
_MULAW_CLIP_14 = 8159
_MULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


class AudioFormatError(ValueError):
    """The bytes are not audio we can decode; the message says what to send instead."""


@dataclass(frozen=True)
class DecodedAudio:
    """Samples in [-1, 1], shape ``(channels, frames)``, at `sample_rate`."""

    samples: Samples
    sample_rate: int

    @property
    def duration(self) -> float:
        return float(self.samples.shape[1] / self.sample_rate)


def _mulaw_table() -> npt.NDArray[np.int16]:
    """G.711 μ-law: the 256 codes' linear values (16-bit scale, ±32124)."""
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


_MULAW_TO_LINEAR = _mulaw_table()


def mulaw_decode(data: bytes | npt.NDArray[np.uint8]) -> Samples:
    """μ-law bytes (G.711, as Twilio media streams and μ-law WAVs carry them) to float32."""
    codes = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    return (_MULAW_TO_LINEAR[codes] / 32768.0).astype(np.float32)


def mulaw_encode(samples: npt.NDArray[np.floating]) -> bytes:
    """float samples in [-1, 1] to G.711 μ-law bytes (what a phone line does to speech).

    Bit-exact with the Sun/CCITT reference that CPython's ``audioop.lin2ulaw`` used: 14-bit
    input, sign folded into the mask, segment found against the segment end points.
    """
    linear = np.clip(np.round(np.asarray(samples, dtype=np.float64) * 32768.0), -32768, 32767)
    value = linear.astype(np.int32) >> 2
    mask = np.where(value < 0, 0x7F, 0xFF)
    value = np.minimum(np.abs(value), _MULAW_CLIP_14) + (_MULAW_BIAS >> 2)
    segment = np.searchsorted(_MULAW_SEGMENT_ENDS, value)
    code = (np.minimum(segment, 7) << 4) | ((value >> (np.minimum(segment, 7) + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8).tobytes()


def resample(samples: Samples, rate: int, target: int = WHISPER_RATE) -> Samples:
    """Polyphase resampling along the last axis (8 kHz → 16 kHz is up 2, down 1)."""
    if rate == target:
        return samples.astype(np.float32, copy=False)
    if rate <= 0:
        raise AudioFormatError(f"invalid sample rate {rate}")
    common = gcd(rate, target)
    out = resample_poly(samples, target // common, rate // common, axis=-1)
    return np.asarray(out, dtype=np.float32)


def _riff_chunks(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("not a RIFF/WAVE file")
    chunks: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        # Streamed WAVs (ffmpeg to a pipe, live recorders) leave sizes as 0 or 0xFFFFFFFF.
        if chunk_id == b"data" and (size == 0 or pos + 8 + size > len(data)):
            size = len(data) - pos - 8
        chunks.setdefault(chunk_id, data[pos + 8 : pos + 8 + size])
        pos += 8 + size + (size & 1)
    return chunks


def read_wav(data: bytes) -> DecodedAudio:
    """Decode a WAV file's bytes: PCM 8/16/24/32-bit, IEEE float, μ-law (tag 7), extensible."""
    chunks = _riff_chunks(data)
    fmt, payload = chunks.get(b"fmt "), chunks.get(b"data")
    if fmt is None or payload is None or len(fmt) < 16:
        raise AudioFormatError("WAV file without a 'fmt ' or 'data' chunk")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _WAVE_EXTENSIBLE and len(fmt) >= 26:
        (tag,) = struct.unpack_from("<H", fmt, 24)  # first two bytes of the sub-format GUID
    if channels < 1 or block_align < 1:
        raise AudioFormatError("WAV header declares no channels")
    payload = payload[: len(payload) - len(payload) % block_align]
    flat: npt.NDArray[np.floating]
    if tag == _WAVE_MULAW and bits == 8:
        flat = mulaw_decode(payload)
    elif tag == _WAVE_PCM and bits == 16:
        flat = np.frombuffer(payload, "<i2") / 32768.0
    elif tag == _WAVE_PCM and bits == 8:
        flat = (np.frombuffer(payload, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif tag == _WAVE_PCM and bits == 24:
        raw = np.frombuffer(payload, np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        flat = np.where(value >= 1 << 23, value - (1 << 24), value) / float(1 << 23)
    elif tag == _WAVE_PCM and bits == 32:
        flat = np.frombuffer(payload, "<i4") / float(1 << 31)
    elif tag == _WAVE_FLOAT and bits in (32, 64):
        flat = np.frombuffer(payload, "<f4" if bits == 32 else "<f8")
    else:
        raise AudioFormatError(
            f"unsupported WAV encoding (format tag {tag}, {bits} bits); "
            "send PCM, IEEE float or μ-law WAV"
        )
    samples = np.ascontiguousarray(flat.reshape(-1, channels).T, dtype=np.float32)
    return DecodedAudio(samples, rate)


def write_wav(samples: npt.NDArray[np.floating], sample_rate: int) -> bytes:
    """``(frames,)`` or ``(frames, channels)`` floats in [-1, 1] → 16-bit PCM WAV bytes."""
    frames = samples if samples.ndim == 2 else samples[:, None]
    pcm = (np.clip(frames, -1.0, 1.0) * 32767).round().astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def _looks_like_mp3(data: bytes) -> bool:
    return data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


def decode_with_ffmpeg(data: bytes) -> DecodedAudio:
    """MP3 (or anything ffmpeg reads) → 16-bit WAV through ``ffmpeg`` on PATH, channels kept."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioFormatError(
            "MP3 audio needs ffmpeg, which is not on PATH: install it (Debian/Ubuntu: "
            "apt-get install ffmpeg) or request WAV recordings (Twilio: the recording URL "
            "with .wav)"
        )
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", "pipe:0", "-f", "wav", "-c:a", "pcm_s16le"]
    result = subprocess.run([*cmd, "pipe:1"], input=data, capture_output=True, check=False)  # noqa: S603
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise AudioFormatError(f"ffmpeg could not decode the audio: {message}")
    return read_wav(result.stdout)


def read_audio(source: AudioSource) -> DecodedAudio:
    """Decode a file or its bytes, by content (not by extension): WAV natively, MP3 via ffmpeg."""
    data = Path(source).read_bytes() if isinstance(source, str | Path) else source
    if data[:4] == b"RIFF":
        return read_wav(data)
    if _looks_like_mp3(data):
        return decode_with_ffmpeg(data)
    raise AudioFormatError(
        "unrecognised audio (expected WAV or MP3); raw μ-law bytes go through from_mulaw()"
    )


def load_channels(source: AudioSource) -> list[Samples]:
    """Each channel of a file at 16 kHz — a dual-channel recording gives [caller, officer]."""
    audio = read_audio(source)
    return list(resample(audio.samples, audio.sample_rate))


def to_mono(samples: npt.NDArray[np.floating]) -> Samples:
    """Mix ``(channels, frames)`` down to one channel; 1-D input is returned as float32."""
    if samples.ndim == 1:
        return samples.astype(np.float32, copy=False)
    return np.asarray(samples.mean(axis=0), dtype=np.float32)


def load_mono(source: AudioSource) -> Samples:
    """One 16 kHz stream for a short answer (channels mixed)."""
    audio = read_audio(source)
    return resample(to_mono(audio.samples), audio.sample_rate)


def from_mulaw(data: bytes, sample_rate: int = PHONE_RATE) -> Samples:
    """Raw μ-law bytes (e.g. a Twilio media stream's payloads, concatenated) at 16 kHz."""
    return resample(mulaw_decode(data), sample_rate)
