"""Phone audio decoding: WAV PCM and μ-law, raw μ-law, resampling, channel split, MP3 errors."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from scoring.audio import (
    AudioFormatError,
    from_mulaw,
    load_channels,
    load_mono,
    mulaw_decode,
    mulaw_encode,
    read_audio,
    read_wav,
    resample,
)

pytestmark = pytest.mark.unit


def _pcm16(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        return frames, w.getframerate()


def _wav_bytes(tag: int, rate: int, channels: int, bits: int, payload: bytes) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_an4_wav_reads_exactly_like_the_stdlib(an4_wav: Path) -> None:
    expected, rate = _pcm16(an4_wav)
    audio = read_audio(an4_wav)
    assert (rate, audio.sample_rate, audio.samples.shape) == (16_000, 16_000, (1, 64_000))
    assert audio.duration == 4.0
    np.testing.assert_array_equal(audio.samples[0], expected / 32768.0)


def test_fsdd_8khz_is_resampled_to_16khz(fsdd_wav: Path) -> None:
    raw, rate = _pcm16(fsdd_wav)
    samples = load_mono(fsdd_wav)
    assert rate == 8_000
    assert samples.dtype == np.float32
    assert samples.shape == (2 * raw.shape[0],) == (6914,)
    # Same energy before and after (polyphase keeps the 0–4 kHz band intact).
    before = np.sqrt(np.mean((raw / 32768.0) ** 2))
    after = np.sqrt(np.mean(samples.astype(np.float64) ** 2))
    assert after == pytest.approx(before, rel=0.02)


def test_resampling_keeps_a_tone_at_its_frequency() -> None:
    t = np.arange(8_000) / 8_000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    up = resample(tone, 8_000)
    spectrum = np.abs(np.fft.rfft(up))
    assert up.shape == (16_000,)
    assert np.argmax(spectrum) * 16_000 / up.shape[0] == 440.0
    assert np.max(np.abs(up[1000:-1000])) == pytest.approx(0.5, abs=0.01)
    assert resample(up, 16_000, 8_000).shape == (8_000,)
    assert resample(up, 16_000) is not None and resample(up, 16_000).shape == (16_000,)


def test_mulaw_codes_match_g711() -> None:
    decoded = mulaw_decode(bytes([0x00, 0x7F, 0x80, 0xFF, 0x0F]))
    np.testing.assert_array_equal(
        decoded * 32768.0, np.array([-32124, 0, 32124, 0, -16764], dtype=np.float32)
    )
    assert mulaw_encode(np.array([0.0, 0.5, -0.5, 1.0, -1.0])).hex() == "ff8f0f8000"


def test_mulaw_encode_inverts_decode_for_every_code() -> None:
    codes = bytes(range(256))
    again = mulaw_encode(mulaw_decode(codes))
    # 0x7F and 0xFF are both zero (negative and positive zero): zero encodes as 0xFF.
    assert again == codes.replace(b"\x7f", b"\xff")


def test_mulaw_round_trip_of_speech_keeps_38db_snr(an4_wav: Path) -> None:
    speech = load_mono(an4_wav)
    phone = from_mulaw(mulaw_encode(resample(speech, 16_000, 8_000)), 8_000)
    assert phone.shape == speech.shape == (64_000,)
    direct = mulaw_decode(mulaw_encode(speech))
    error = direct.astype(np.float64) - speech
    snr = 10 * np.log10(np.sum(speech.astype(np.float64) ** 2) / np.sum(error**2))
    assert 30.0 < snr < 45.0


def test_mulaw_wav_format_tag_7_decodes(fsdd_wav: Path) -> None:
    raw, _ = _pcm16(fsdd_wav)
    codes = mulaw_encode(raw / 32768.0)
    audio = read_wav(_wav_bytes(7, 8_000, 1, 8, codes))
    assert (audio.sample_rate, audio.samples.shape) == (8_000, (1, 3457))
    np.testing.assert_array_equal(audio.samples[0], mulaw_decode(codes))
    assert load_mono(_wav_bytes(7, 8_000, 1, 8, codes)).shape == (6914,)


def test_raw_mulaw_bytes_become_16khz(fsdd_wav: Path) -> None:
    raw, _ = _pcm16(fsdd_wav)
    samples = from_mulaw(mulaw_encode(raw / 32768.0))
    assert samples.shape == (6914,)
    assert samples.dtype == np.float32


def test_stereo_recording_splits_into_channels(an4_wav: Path, fsdd_wav: Path) -> None:
    left, _ = _pcm16(an4_wav)
    right_8k, _ = _pcm16(fsdd_wav)
    right = np.zeros_like(left)
    right[: right_8k.shape[0]] = right_8k
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(np.column_stack([left, right]).astype("<i2").tobytes())
    caller, officer = load_channels(buffer.getvalue())
    np.testing.assert_array_equal(caller, left / 32768.0)
    np.testing.assert_array_equal(officer, right / 32768.0)
    mixed = load_mono(buffer.getvalue())
    np.testing.assert_allclose(mixed, (left / 32768.0 + right / 32768.0) / 2, atol=1e-6)


def test_streamed_wav_with_unknown_data_size_is_read(fsdd_wav: Path) -> None:
    data = bytearray(fsdd_wav.read_bytes())
    at = data.index(b"data")
    data[at + 4 : at + 8] = b"\xff\xff\xff\xff"
    assert read_wav(bytes(data)).samples.shape == (1, 3457)


def test_unsupported_wav_encoding_is_named() -> None:
    with pytest.raises(AudioFormatError, match="format tag 6, 8 bits"):
        read_wav(_wav_bytes(6, 8_000, 1, 8, b"\x55" * 100))


def test_mp3_without_ffmpeg_says_to_install_it_or_send_wav(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AudioFormatError) as error:
        read_audio(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 64)
    assert "ffmpeg" in str(error.value)
    assert "apt-get install ffmpeg" in str(error.value)
    assert "WAV" in str(error.value)


def test_unknown_bytes_point_to_the_mulaw_entry_point() -> None:
    with pytest.raises(AudioFormatError, match=r"from_mulaw\(\)"):
        read_audio(b"\x7f\xff\x00" * 100)
