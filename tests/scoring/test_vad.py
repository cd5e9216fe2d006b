"""Voice activity detection: speech is found, silence and line noise never are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scoring.audio import from_mulaw, load_mono, mulaw_encode, resample
from scoring.vad import SpeechRegion, VadConfig, detect_speech, frame_features, speech_seconds
from tests.scoring.conftest import RATE, noise

pytestmark = pytest.mark.unit


def _phone(samples: np.ndarray) -> np.ndarray:
    """What a phone line does: 8 kHz, μ-law, back to 16 kHz."""
    return from_mulaw(mulaw_encode(resample(samples, RATE, 8_000)))


@pytest.mark.parametrize(
    "audio",
    [
        pytest.param(np.zeros(3 * RATE, np.float32), id="digital-silence"),
        pytest.param(noise(3, -60), id="quiet-line"),
        pytest.param(noise(3, -30), id="hiss"),
        pytest.param(noise(3, -10), id="loud-hiss"),
        pytest.param(_phone(noise(3, -25)), id="hiss-through-mulaw"),
        pytest.param(
            noise(3, -20) * np.repeat([0.1, 3.0, 1.0, 3.0, 0.1, 1.0], RATE // 2).astype(np.float32),
            id="crackling-bursts",
        ),
        pytest.param(
            (0.1 * np.sin(2 * np.pi * 120 * np.arange(3 * RATE) / RATE)).astype(np.float32),
            id="steady-hum",
        ),
    ],
)
def test_silence_and_noise_have_no_speech(audio: np.ndarray) -> None:
    assert detect_speech(audio, RATE) == []


def test_bursty_noise_passes_energy_but_fails_voicing() -> None:
    """Why voicing is part of the detector: energy alone would accept these bursts."""
    bursts = noise(3, -20) * np.repeat([0.1, 3.0, 1.0, 3.0, 0.1, 1.0], RATE // 2).astype(np.float32)
    energy_only = VadConfig(voicing_threshold=0.0, min_voiced_seconds=0.0, min_modulation_db=0.0)
    assert len(detect_speech(bursts, RATE, energy_only)) == 2
    energy, floor, voicing = frame_features(bursts, RATE)
    assert energy.shape == floor.shape == voicing.shape == (297,)  # 32 ms frames every 10 ms
    assert float(voicing.max()) < VadConfig().voicing_threshold == 0.5


def test_an4_utterance_is_one_region(an4_wav: Path) -> None:
    regions = detect_speech(load_mono(an4_wav), RATE)
    assert len(regions) == 1
    assert regions[0].start == pytest.approx(0.14, abs=0.02)
    assert regions[0].end == 4.0
    assert speech_seconds(regions) == pytest.approx(3.86, abs=0.02)


def test_speech_is_located_inside_a_noisy_phone_call(an4_wav: Path) -> None:
    speech = load_mono(an4_wav)
    call = noise(8, -50)
    call[2 * RATE : 6 * RATE] += speech
    for audio in (call, _phone(call)):
        (region,) = detect_speech(audio, RATE)
        assert region.start == pytest.approx(2.14, abs=0.03)
        assert 5.8 <= region.end <= 6.3


def test_a_clip_that_is_speech_end_to_end_is_found(fsdd_wav: Path) -> None:
    """FSDD digits are trimmed to the word: no silence to learn the floor from."""
    samples = load_mono(fsdd_wav)
    assert detect_speech(samples, RATE) == [SpeechRegion(0.0, samples.shape[0] / RATE)]


def test_every_fsdd_digit_is_found_through_a_phone_line(data_root: Path) -> None:
    files = sorted((data_root / "fsdd_test" / "recordings").glob("*.wav"))
    found = sum(bool(detect_speech(_phone(load_mono(f)), RATE)) for f in files)
    assert (len(files), found) == (300, 300)


def test_pauses_shorter_than_the_merge_gap_join_regions(an4_clips: list[np.ndarray]) -> None:
    first, second = an4_clips[0], an4_clips[1]
    audio = np.concatenate([first, np.zeros(int(0.2 * RATE), np.float32), second])
    apart = detect_speech(audio, RATE)
    joined = detect_speech(audio, RATE, VadConfig(merge_gap_seconds=1.0))
    assert len(apart) == 2
    assert apart[0].end < apart[1].start
    # Padded by 0.15 s each side: the second region starts before the second clip's speech.
    assert apart[1].start == pytest.approx(4.07, abs=0.02)
    assert joined == [SpeechRegion(apart[0].start, apart[1].end)]
