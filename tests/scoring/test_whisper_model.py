"""Loading: once per process, clear errors for missing weights, fetching with whisper's own code."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from scoring.errors import ModelUnavailable
from scoring.models import (
    ModelFetchError,
    fetch_command,
    fetch_whisper,
    whisper_checkpoint_file,
    whisper_root,
)
from scoring.whisper_model import (
    WhisperLoadError,
    WhisperWeightsMissing,
    load_whisper,
    pick_device,
    set_torch_threads,
)

pytestmark = [pytest.mark.models, pytest.mark.usefixtures("fresh_cache")]


def _offline(*args: object, **kwargs: object) -> None:
    raise urllib.error.URLError("network is unreachable (test)")


def test_official_names_map_to_whisper_file_names(tmp_path: Path) -> None:
    assert whisper_checkpoint_file("base.en", tmp_path) == tmp_path / "base.en.pt"
    assert whisper_checkpoint_file("tiny.en", tmp_path) == tmp_path / "tiny.en.pt"
    assert fetch_command("tiny.en") == "warmline models fetch whisper tiny.en"
    with pytest.raises(ValueError, match="unknown Whisper model 'tiny-en'"):
        whisper_checkpoint_file("tiny-en", tmp_path)


def test_root_defaults_to_models_whisper_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WARMLINE_WHISPER_ROOT", raising=False)
    assert whisper_root() == Path("models/whisper")
    monkeypatch.setenv("WARMLINE_WHISPER_ROOT", str(tmp_path))
    assert whisper_checkpoint_file("base.en") == tmp_path / "base.en.pt"


def test_missing_official_weights_name_the_path_and_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(WhisperWeightsMissing) as error:
        load_whisper("tiny.en", root=tmp_path)
    message = str(error.value)
    assert f"looked for {tmp_path / 'tiny.en.pt'}" in message
    assert "`warmline models fetch whisper tiny.en`" in message
    assert error.value.looked_for == tmp_path / "tiny.en.pt"
    assert isinstance(error.value, FileNotFoundError)
    assert isinstance(error.value, ModelUnavailable)


def test_missing_checkpoint_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(WhisperWeightsMissing) as error:
        load_whisper(tmp_path / "custom.pt")
    assert f"looked for {tmp_path / 'custom.pt'}" in str(error.value)
    assert "warmline models fetch whisper NAME" in str(error.value)
    with pytest.raises(WhisperWeightsMissing, match=r"fetch whisper base\.en"):
        load_whisper(tmp_path / "base.en.pt")


def test_unreadable_checkpoint_is_a_load_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(WhisperLoadError, match=f"could not load Whisper from {broken}"):
        load_whisper(broken)


def test_corrupt_official_file_is_refused_without_a_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """whisper would re-download on a checksum mismatch; without consent, we say what to do."""
    attempts: list[object] = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: attempts.append(a))
    (tmp_path / "tiny.en.pt").write_bytes(b"truncated download")
    with pytest.raises(WhisperLoadError) as error:
        load_whisper("tiny.en", root=tmp_path)
    assert "SHA-256 mismatch" in str(error.value)
    assert "re-fetch with `warmline models fetch whisper tiny.en`" in str(error.value)
    assert attempts == []


def test_fetch_offline_says_what_to_copy_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    with pytest.raises(ModelFetchError) as error:
        fetch_whisper("base.en", tmp_path / "weights")
    message = str(error.value)
    assert "could not download Whisper 'base.en'" in message
    assert (
        "copy base.en.pt (fetched elsewhere with `warmline models fetch whisper base.en`)"
        in message
    )
    assert f"into {tmp_path / 'weights'}/" in message
    assert (tmp_path / "weights").is_dir()


def test_model_is_loaded_once_per_process(random_test: Path) -> None:
    first = load_whisper(random_test)
    second = load_whisper(str(random_test))
    assert first is second
    assert first.device == torch.device("cpu") == pick_device()
    assert first.source == str(random_test.resolve())
    assert first.english_only
    assert first.fp16 is False
    assert first.projection_dtype in (torch.float32, torch.float16)
    assert first.warmup_seconds > 0.0


def test_projection_precision_can_be_forced(random_test: Path) -> None:
    loaded = load_whisper(random_test, projection="float32", warm_up=False)
    assert loaded.projection_dtype == torch.float32
    assert loaded.warmup_seconds == 0.0
    assert loaded.projection.shape == (51864, 64)


def test_torch_threads_are_set_once() -> None:
    threads = set_torch_threads()
    assert threads == torch.get_num_threads() == set_torch_threads(threads + 3)


@pytest.mark.parametrize("pinned", ["float32", "float16"])
def test_projection_precision_can_be_pinned(
    random_test: Path, pinned: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARMLINE_WHISPER_PROJECTION", pinned)
    loaded = load_whisper(random_test, warm_up=False)
    assert loaded.projection_dtype == getattr(torch, pinned)


def test_an_unknown_projection_setting_is_refused(
    random_test: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARMLINE_WHISPER_PROJECTION", "bfloat16")
    with pytest.raises(WhisperLoadError, match="WARMLINE_WHISPER_PROJECTION"):
        load_whisper(random_test, warm_up=False)
