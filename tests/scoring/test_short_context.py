"""The trimmed-context path equals whisper's own computation where they overlap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import whisper
from whisper.audio import N_SAMPLES, log_mel_spectrogram, pad_or_trim
from whisper.decoding import DecodingOptions

from scoring.audio import load_mono
from scoring.short_context import (
    context_frames,
    decode_features,
    encode,
    log_mel,
    projection_weight,
)
from scoring.transcripts import LOAN_TYPE_PROMPT

pytestmark = pytest.mark.models
CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("seconds", "frames"),
    [(3.0, 300), (2.2, 300), (0.4, 200), (7.01, 800), (29.5, 3000), (45.0, 3000)],
)
def test_context_is_rounded_up_to_whole_seconds(seconds: float, frames: int) -> None:
    assert context_frames(round(seconds * 16_000)) == frames


def test_mel_frames_equal_whisper_transcribes(an4_wav: Path) -> None:
    audio = load_mono(an4_wav)
    ours = log_mel(audio, 500, n_mels=80, device=CPU)
    theirs = log_mel_spectrogram(torch.from_numpy(audio), 80, padding=N_SAMPLES)[:, :500]
    assert ours.shape == (80, 500)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_full_length_encode_equals_the_stock_encoder(random_test: Path, an4_wav: Path) -> None:
    model = whisper.load_model(str(random_test), device="cpu")
    mel = log_mel_spectrogram(pad_or_trim(load_mono(an4_wav)))[None]
    with torch.inference_mode():
        torch.testing.assert_close(encode(model.encoder, mel), model.encoder(mel))
        short = encode(model.encoder, mel[:, :, :300])
    assert short.shape == (1, 150, 64)
    with pytest.raises(AssertionError, match="incorrect audio shape"):
        model.encoder(mel[:, :, :300])


@pytest.mark.parametrize("prompt", [None, LOAN_TYPE_PROMPT], ids=["no-prompt", "prompt"])
def test_decoding_matches_stock_whisper_token_for_token(
    random_test: Path, an4_wav: Path, prompt: str | None
) -> None:
    """Random weights decode arbitrary tokens: any divergence in our inference shows at once."""
    model = whisper.load_model(str(random_test), device="cpu")
    mel = log_mel_spectrogram(pad_or_trim(load_mono(an4_wav)))[None]
    options = DecodingOptions(
        language="en", without_timestamps=True, sample_len=12, fp16=False, prompt=prompt
    )
    with torch.inference_mode():
        (stock,) = whisper.decode(model, mel, options)
        (ours,) = decode_features(model, encode(model.encoder, mel), options)
        (ours_fp32,) = decode_features(
            model,
            encode(model.encoder, mel),
            options,
            projection=projection_weight(model, torch.float32),
        )
    assert len(stock.tokens) == 12
    assert ours.tokens == ours_fp32.tokens == stock.tokens
    assert ours.avg_logprob == pytest.approx(stock.avg_logprob, abs=1e-4)
    assert ours.no_speech_prob == pytest.approx(stock.no_speech_prob, abs=1e-5)
    assert ours.text == stock.text


def test_batched_answers_decode_like_single_ones(
    scripted_plain: Path, an4_clips: list[np.ndarray]
) -> None:
    model = whisper.load_model(str(scripted_plain), device="cpu")
    mels = [log_mel(clip, 500, n_mels=80, device=CPU) for clip in an4_clips[:3]]
    options = DecodingOptions(language="en", without_timestamps=True, sample_len=32, fp16=False)
    with torch.inference_mode():
        batch = decode_features(model, encode(model.encoder, torch.stack(mels)), options)
    assert [r.text for r in batch] == ["I would like to refinance my house in Texas."] * 3
