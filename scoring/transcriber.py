"""Transcribe phone audio: short answers during a call, full two-channel recordings after it.

Answers (a few seconds, latency-bound, the caller is waiting): gate silence with the VAD and
never decode it; crop to the speech; encode only that much audio context
(:mod:`scoring.short_context`; 4-5x faster than ``whisper.transcribe`` on a 3 s answer); decode
greedily without timestamps, at most ``answer_sample_len`` tokens; drop a result Whisper itself
calls non-speech. Several answers given together are encoded and decoded as one batch.

Recordings (minutes, throughput-bound, run by workers): per channel, VAD finds the speech and
``whisper.transcribe`` decodes only those stretches (``clip_timestamps``) with
``condition_on_previous_text=False`` (no runaway repetition carried across windows), the domain
prompt carried into every window, temperature 0 first; segments are labelled with the channel's
speaker and merged in time order.

One :class:`Transcriber` per process is enough: it holds the cached model and serialises use of
it (whisper's decoder is not re-entrant). Audio decoding and VAD run outside that lock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from whisper.decoding import DecodingOptions, DecodingResult
from whisper.transcribe import transcribe as whisper_transcribe

from scoring.audio import WHISPER_RATE, AudioSource, Samples, load_channels, load_mono, resample
from scoring.audio import to_mono as mix_down
from scoring.short_context import (
    context_frames,
    decode_features,
    encode,
    log_mel,
)
from scoring.transcripts import DOMAIN_PROMPT, AnswerTranscript, Segment
from scoring.vad import SpeechRegion, VadConfig, detect_speech, speech_seconds
from scoring.whisper_model import LoadedWhisper, load_whisper

AudioInput = npt.NDArray[np.floating] | AudioSource
"""An array at the given sample rate, or a WAV/MP3 file path or its bytes."""

_MAX_ANSWER_SECONDS = 29.0
_SPECIAL_TOKEN = re.compile(r"<\|[^|>]*\|>")


@dataclass(frozen=True)
class TranscriberConfig:
    """Tuning for phone audio; the defaults are what the IVR uses."""

    initial_prompt: str | None = DOMAIN_PROMPT
    language: str | None = "en"
    """None lets a multilingual model detect the language (English-only models ignore it)."""
    no_speech_threshold: float = 0.6
    """Results whose no-speech probability exceeds this are dropped (1.0 keeps everything)."""
    answer_sample_len: int = 32
    max_batch: int = 8
    trim_context: bool = True
    """False encodes every answer in the full 30 s window (as whisper.transcribe does)."""
    min_context_seconds: float = 2.0
    context_step_seconds: float = 1.0
    recording_temperatures: tuple[float, ...] = (0.0, 0.4)
    """Temperature 0 first; one warmer retry when a window's output looks degenerate."""
    clip_merge_gap_seconds: float = 2.0
    """Speech regions closer than this share one decoded clip (each clip costs an encoder pass)."""
    answer_vad: VadConfig = field(default_factory=VadConfig)
    recording_vad: VadConfig = field(
        default_factory=lambda: VadConfig(merge_gap_seconds=0.6, pad_seconds=0.25)
    )


@dataclass
class TranscriberStats:
    """Counters for metrics and tests: how often the expensive parts ran (approximate under
    concurrent callers: only the encoder/decoder counters are updated under the model lock)."""

    answers: int = 0
    gated_silent: int = 0
    encoder_passes: int = 0
    decoder_runs: int = 0
    recordings: int = 0


def _prompt(configured: str | None, given: str | None) -> str | None:
    """Per-call prompt: None → the configured one; "" → no prompt."""
    chosen = configured if given is None else given
    return (chosen.strip() or None) if chosen else None


class Transcriber:
    """Whisper for phone audio, bound to one loaded model."""

    def __init__(self, loaded: LoadedWhisper, config: TranscriberConfig | None = None) -> None:
        self.loaded = loaded
        self.config = config or TranscriberConfig()
        self.stats = TranscriberStats()

    @classmethod
    def load(
        cls,
        model: str | Path = "base.en",
        config: TranscriberConfig | None = None,
        **load_options: Any,
    ) -> Transcriber:
        """Load (or reuse) the model, see :func:`scoring.whisper_model.load_whisper`."""
        return cls(load_whisper(model, **load_options), config)

    @property
    def _language(self) -> str | None:
        return "en" if self.loaded.english_only else self.config.language

    # -- answers -----------------------------------------------------------------------------

    def transcribe_answer(
        self,
        audio: AudioInput,
        *,
        sample_rate: int = WHISPER_RATE,
        initial_prompt: str | None = None,
    ) -> AnswerTranscript:
        """One spoken answer → text. `initial_prompt`: None uses the configured prompt, "" none."""
        return self.transcribe_answers(
            [audio], sample_rate=sample_rate, initial_prompt=initial_prompt
        )[0]

    def transcribe_answers(
        self,
        audios: Sequence[AudioInput],
        *,
        sample_rate: int = WHISPER_RATE,
        initial_prompt: str | None = None,
    ) -> list[AnswerTranscript]:
        """Several answers, encoded and decoded in batches of up to ``max_batch``."""
        started = time.perf_counter()
        prompt = _prompt(self.config.initial_prompt, initial_prompt)
        prepared = [self._speech_of(audio, sample_rate) for audio in audios]
        results: list[AnswerTranscript | None] = [None] * len(prepared)
        pending: list[tuple[int, Samples, float]] = []
        for index, (samples, regions) in enumerate(prepared):
            self.stats.answers += 1
            if not regions:
                self.stats.gated_silent += 1
                results[index] = AnswerTranscript(
                    "", float("-inf"), 1.0, 0.0, time.perf_counter() - started
                )
                continue
            first, last = regions[0].start, regions[-1].end
            crop = samples[int(first * WHISPER_RATE) : int(np.ceil(last * WHISPER_RATE))]
            pending.append((index, crop, float(speech_seconds(regions))))
        limit = _MAX_ANSWER_SECONDS * WHISPER_RATE
        short = sorted((p for p in pending if p[1].shape[0] <= limit), key=lambda p: p[1].shape[0])
        for index, crop, speech in pending:
            if crop.shape[0] > limit:
                results[index] = self._long_answer(crop, speech, prompt, started)
        for batch_start in range(0, len(short), self.config.max_batch):
            batch = short[batch_start : batch_start + self.config.max_batch]
            decoded = self._decode_batch([crop for _, crop, _ in batch], prompt)
            elapsed = time.perf_counter() - started
            for (index, _, speech), result in zip(batch, decoded, strict=True):
                results[index] = self._answer(result, speech, elapsed)
        return [result for result in results if result is not None]

    def _speech_of(self, audio: AudioInput, sample_rate: int) -> tuple[Samples, list[SpeechRegion]]:
        if isinstance(audio, np.ndarray):
            samples = resample(mix_down(audio), sample_rate)
        else:
            samples = load_mono(audio)
        return samples, detect_speech(samples, WHISPER_RATE, self.config.answer_vad)

    def _answer(self, result: DecodingResult, speech: float, elapsed: float) -> AnswerTranscript:
        # Whisper's tokenizer decodes special tokens below the timestamps (<|notimestamps|>…)
        # as text; they are never words a caller said.
        text = _SPECIAL_TOKEN.sub("", result.text).strip()
        if result.no_speech_prob > self.config.no_speech_threshold:
            text = ""
        return AnswerTranscript(
            text, float(result.avg_logprob), float(result.no_speech_prob), speech, elapsed
        )

    def _decode_batch(self, crops: list[Samples], prompt: str | None) -> list[DecodingResult]:
        loaded = self.loaded
        model = loaded.model
        cfg = self.config
        if cfg.trim_context:
            frames = max(
                context_frames(
                    crop.shape[0],
                    step_seconds=cfg.context_step_seconds,
                    min_seconds=cfg.min_context_seconds,
                )
                for crop in crops
            )
        else:
            frames = 3000
        dtype = torch.float16 if loaded.fp16 else torch.float32
        options = DecodingOptions(
            task="transcribe",
            language=self._language,
            temperature=0.0,
            sample_len=cfg.answer_sample_len,
            prompt=prompt,
            without_timestamps=True,
            fp16=loaded.fp16,
        )
        mels = [log_mel(c, frames, n_mels=model.dims.n_mels, device=loaded.device) for c in crops]
        with loaded.lock, torch.inference_mode():
            features = encode(model.encoder, torch.stack(mels).to(dtype))
            self.stats.encoder_passes += 1
            results = decode_features(model, features, options, projection=loaded.projection)
            self.stats.decoder_runs += 1
        return results

    def _long_answer(
        self, crop: Samples, speech: float, prompt: str | None, started: float
    ) -> AnswerTranscript:
        """An 'answer' over 29 s (someone kept talking): long-form, texts joined."""
        segments = self._transcribe_channel(crop, "caller", prompt)
        text = " ".join(segment.text for segment in segments).strip()
        logprob = float(np.mean([s.avg_logprob for s in segments])) if segments else float("-inf")
        no_speech = float(np.mean([s.no_speech_prob for s in segments])) if segments else 1.0
        return AnswerTranscript(text, logprob, no_speech, speech, time.perf_counter() - started)

    # -- recordings --------------------------------------------------------------------------

    def transcribe_recording(
        self,
        audio_channels: AudioSource | Sequence[npt.NDArray[np.floating]] | npt.NDArray[np.floating],
        speakers: Sequence[str] = ("caller", "officer"),
        *,
        sample_rate: int = WHISPER_RATE,
        initial_prompt: str | None = None,
    ) -> list[Segment]:
        """A call recording → speaker-labelled segments in time order.

        `audio_channels` is a file (a dual-channel recording: left caller, right officer), a
        ``(channels, frames)`` array or one array per channel at `sample_rate`. Channel i is
        labelled ``speakers[i]``. Silent channels and stretches are never decoded.
        """
        if isinstance(audio_channels, str | Path | bytes):
            channels = load_channels(audio_channels)
        elif isinstance(audio_channels, np.ndarray) and audio_channels.ndim == 1:
            channels = [resample(audio_channels.astype(np.float32), sample_rate)]
        else:
            channels = [
                resample(np.asarray(ch, dtype=np.float32), sample_rate) for ch in audio_channels
            ]
        if len(channels) > len(speakers):
            raise ValueError(f"{len(channels)} channels but only {len(speakers)} speaker labels")
        self.stats.recordings += 1
        prompt = _prompt(self.config.initial_prompt, initial_prompt)
        segments: list[Segment] = []
        for samples, speaker in zip(channels, speakers, strict=False):
            segments.extend(self._transcribe_channel(samples, speaker, prompt))
        return sorted(segments, key=lambda s: (s.start, s.end, s.speaker))

    def _clips(self, regions: list[SpeechRegion]) -> list[float]:
        merged: list[list[float]] = []
        for region in regions:
            if merged and region.start - merged[-1][1] < self.config.clip_merge_gap_seconds:
                merged[-1][1] = region.end
            else:
                merged.append([region.start, region.end])
        return [round(t, 2) for clip in merged for t in clip]

    def _transcribe_channel(
        self, samples: Samples, speaker: str, prompt: str | None
    ) -> list[Segment]:
        regions = detect_speech(samples, WHISPER_RATE, self.config.recording_vad)
        if not regions:
            return []
        loaded = self.loaded
        cfg = self.config
        duration = samples.shape[0] / WHISPER_RATE
        with loaded.lock, torch.inference_mode():
            result = whisper_transcribe(
                loaded.model,
                samples,
                verbose=None,
                temperature=cfg.recording_temperatures,
                condition_on_previous_text=False,
                initial_prompt=prompt,
                carry_initial_prompt=prompt is not None,
                no_speech_threshold=cfg.no_speech_threshold,
                clip_timestamps=self._clips(regions),
                language=self._language,
                fp16=loaded.fp16,
            )
            self.stats.decoder_runs += 1
        segments: list[Segment] = []
        for raw in result["segments"]:
            text = str(raw["text"]).strip()
            if not text or float(raw["no_speech_prob"]) > cfg.no_speech_threshold:
                continue
            start = min(float(raw["start"]), duration)
            end = min(max(float(raw["end"]), start), duration)
            segments.append(
                Segment(
                    speaker,
                    round(start, 2),
                    round(end, 2),
                    text,
                    float(raw["avg_logprob"]),
                    float(raw["no_speech_prob"]),
                )
            )
        return segments
