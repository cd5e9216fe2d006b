"""Voice activity detection: find speech so Whisper never decodes silence or line noise.

Whisper invents text for silence and noise ("Thank you.", "you"), and every decoded window costs
an encoder pass, so audio is gated here first. The detector is an energy gate over an adaptive
noise floor, confirmed by voicing:

1. 32 ms frames every 10 ms, high-passed at 100 Hz (mains hum and DC carry no speech).
2. Energy in dB against a *local* noise floor — a low percentile of the energy over a sliding
   window — so a quiet line and a hissing one are judged alike; a frame is *active* when it
   stands `margin_db` above that floor and above an absolute level.
3. Active runs are merged across short gaps and kept only if they last `min_speech_seconds` and
   hold `min_voiced_seconds` of *voiced* frames (normalised autocorrelation peak at a 2.5–16 ms
   pitch lag above `voicing_threshold`). Broadband noise, even when its level jumps (a line that
   crackles, a bumped handset), has no pitch; vowels always do.

Why both: energy alone accepts any loud non-speech burst; voicing alone accepts steady hum-like
tones. Measured on AN4 (16 kHz) and FSDD (8 kHz) clips and synthetic noise — see
``docs/transcription.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import percentile_filter
from scipy.signal import butter, sosfilt

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class VadConfig:
    """Detector settings; the defaults suit 8 kHz phone speech resampled to 16 kHz."""

    frame_seconds: float = 0.032
    hop_seconds: float = 0.010
    margin_db: float = 6.0
    """How far above the local noise floor a frame must be to count as active."""
    min_level_db: float = -55.0
    """Frames quieter than this (dBFS) are silence however quiet the line is."""
    floor_window_seconds: float = 3.0
    floor_percentile: float = 10.0
    voicing_threshold: float = 0.5
    strong_voicing: float = 0.8
    """A frame this periodic is active even when it is not above the floor: a clip that is
    speech from end to end (no silence to learn the floor from) is still found."""
    min_modulation_db: float = 6.0
    """A region's energy must vary this much (syllables do; a steady hum or tone does not)."""
    min_voiced_seconds: float = 0.05
    min_speech_seconds: float = 0.1
    merge_gap_seconds: float = 0.3
    pad_seconds: float = 0.15
    """Kept on each side of a region, for word onsets and trailing consonants."""


@dataclass(frozen=True)
class SpeechRegion:
    """A stretch of speech, in seconds from the start of the audio."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def _frames(samples: Samples, size: int, hop: int) -> npt.NDArray[np.float32]:
    if samples.shape[0] < size:
        samples = np.pad(samples, (0, size - samples.shape[0]))
    return sliding_window_view(samples, size)[::hop]


def _voicing(frames: npt.NDArray[np.float32], sample_rate: int) -> npt.NDArray[np.float64]:
    """Peak normalised autocorrelation over pitch lags 2.5–16 ms (62–400 Hz), per frame."""
    size = frames.shape[1]
    windowed = (frames - frames.mean(axis=1, keepdims=True)) * np.hanning(size)
    n_fft = 1 << (2 * size - 1).bit_length()
    spectrum = np.fft.rfft(windowed, n_fft, axis=1)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, n_fft, axis=1)[:, :size]
    window_acf = np.correlate(np.hanning(size), np.hanning(size), "full")[size - 1 :]
    lo, hi = int(sample_rate * 0.0025), min(int(sample_rate * 0.016), size - 1)
    normalised = acf[:, lo:hi] / (acf[:, :1] + 1e-12) * (window_acf[0] / window_acf[lo:hi])
    return np.asarray(normalised.max(axis=1), dtype=np.float64)


def frame_features(
    samples: Samples, sample_rate: int, config: VadConfig = VadConfig()
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-frame (energy dB, local noise floor dB, voicing); exposed for tuning and tests."""
    size = round(config.frame_seconds * sample_rate)
    hop = round(config.hop_seconds * sample_rate)
    sos = butter(4, 100.0, btype="highpass", fs=sample_rate, output="sos")
    filtered = np.asarray(sosfilt(sos, samples.astype(np.float64)), dtype=np.float32)
    frames = _frames(filtered, size, hop)
    power = np.concatenate(([0.0], np.cumsum(filtered.astype(np.float64) ** 2)))
    starts = np.arange(frames.shape[0]) * hop
    ends = np.minimum(starts + size, filtered.shape[0])
    energy_db = 10.0 * np.log10(np.maximum(power[ends] - power[starts], 0.0) / size + 1e-10)
    window = max(1, round(config.floor_window_seconds / config.hop_seconds))
    floor_db = percentile_filter(energy_db, config.floor_percentile, size=window, mode="nearest")
    # Voicing only where a frame could be active: a recording is mostly the other party's turn.
    voicing = np.zeros(frames.shape[0], dtype=np.float64)
    audible = np.flatnonzero(energy_db > config.min_level_db)
    if audible.size:
        voicing[audible] = _voicing(frames[audible], sample_rate)
    return energy_db, np.asarray(floor_db, dtype=np.float64), voicing


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def detect_speech(
    samples: Samples, sample_rate: int = 16_000, config: VadConfig = VadConfig()
) -> list[SpeechRegion]:
    """Speech regions of a mono clip, padded and merged, in time order; [] for silence/noise."""
    if samples.size == 0:
        return []
    energy_db, floor_db, voicing = frame_features(samples, sample_rate, config)
    loud = energy_db > floor_db + config.margin_db
    active = (loud | (voicing > config.strong_voicing)) & (energy_db > config.min_level_db)
    hop = config.hop_seconds
    frame = config.frame_seconds
    merge_frames = math.ceil(config.merge_gap_seconds / hop)
    min_voiced = max(1, math.ceil(config.min_voiced_seconds / hop))
    context = math.ceil(config.pad_seconds / hop)
    runs: list[tuple[int, int]] = []
    for start, end in _runs(active):
        if runs and start - runs[-1][1] <= merge_frames:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    duration = samples.shape[0] / sample_rate
    regions: list[SpeechRegion] = []
    for start, end in runs:
        seconds = (end - start - 1) * hop + frame
        voiced = int(np.count_nonzero(voicing[start:end] > config.voicing_threshold))
        around = energy_db[max(0, start - context) : end + context]
        modulation = float(around.max() - around.min())
        if (
            seconds < config.min_speech_seconds
            or voiced < min_voiced
            or modulation < config.min_modulation_db
        ):
            continue
        begin = max(0.0, float(start) * hop - config.pad_seconds)
        finish = min(duration, float(end - 1) * hop + frame + config.pad_seconds)
        if regions and begin <= regions[-1].end:
            regions[-1] = SpeechRegion(regions[-1].start, finish)
        else:
            regions.append(SpeechRegion(begin, finish))
    return regions


def speech_seconds(regions: list[SpeechRegion]) -> float:
    """Total duration of the regions."""
    return float(sum(region.duration for region in regions))
