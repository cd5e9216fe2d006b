"""Generated checkpoints load through the real ``whisper.load_model`` and behave as built."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import whisper
from whisper.transcribe import transcribe as whisper_transcribe

from scoring.audio import load_mono
from scoring.whisper_checkpoints import (
    build_scripted_checkpoint,
    dimensions,
    english_tokenizer,
    main,
    prompt_length,
    script_tokens,
)
from tests.scoring.conftest import SENTENCE

pytestmark = pytest.mark.models


def test_random_test_checkpoint_is_small_and_loads(random_test: Path) -> None:
    assert 5_000_000 < random_test.stat().st_size < 9_000_000
    model = whisper.load_model(str(random_test), device="cpu")
    assert model.dims == dimensions("test")
    assert (model.dims.n_mels, model.dims.n_audio_ctx, model.dims.n_vocab) == (80, 1500, 51864)
    assert (model.dims.n_text_ctx, model.dims.n_audio_state, model.dims.n_text_layer) == (
        448,
        64,
        1,
    )
    assert not model.is_multilingual
    assert bool(torch.isfinite(model.decoder.positional_embedding).all())


def test_sizes_match_the_published_models() -> None:
    tiny, base = dimensions("tiny"), dimensions("base")
    assert (tiny.n_audio_state, tiny.n_audio_head, tiny.n_audio_layer) == (384, 6, 4)
    assert (base.n_text_state, base.n_text_head, base.n_text_layer) == (512, 8, 6)


def test_scripted_checkpoint_makes_vanilla_transcribe_say_the_sentence(
    scripted_plain: Path, an4_wav: Path
) -> None:
    model = whisper.load_model(str(scripted_plain), device="cpu")
    result = whisper_transcribe(model, load_mono(an4_wav), temperature=0, fp16=False)
    assert result["text"].strip() == SENTENCE
    (segment,) = result["segments"]
    assert (segment["start"], segment["end"]) == (0.0, 1.0)
    assert segment["no_speech_prob"] < 1e-6


def test_script_layout() -> None:
    tok = english_tokenizer()
    tokens = script_tokens("Texas.", end_seconds=2.0)
    assert tokens == [tok.timestamp_begin, 3936, 13, tok.timestamp_begin + 100, tok.eot]
    assert tok.decode(tokens[:-1]) == " Texas."  # timestamps are not text
    assert prompt_length(None) == 0
    assert prompt_length("HELOC, FHA.") == 1 + len(tok.encoding.encode(" HELOC, FHA."))


def test_sentences_with_suppressed_symbols_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="suppresses"):
        build_scripted_checkpoint(tmp_path / "x.pt", "call me at #5")
    with pytest.raises(ValueError, match="empty"):
        build_scripted_checkpoint(tmp_path / "x.pt", "  ")


def test_command_line_builds_a_loadable_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cli.pt"
    main(["scripted", str(target), "--sentence", "Purchase.", "--size", "test"])
    assert capsys.readouterr().out.strip() == str(target)
    model = whisper.load_model(str(target), device="cpu")
    audio = np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.1
    assert whisper_transcribe(model, audio, temperature=0, fp16=False)["text"] == " Purchase."
