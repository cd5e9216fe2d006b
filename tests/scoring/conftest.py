"""Shared fixtures: public speech clips and generated Whisper checkpoints (built once per session).

Checkpoints are built, never committed: "test" size (width 64, one layer, ~7 MB, ~0.1 s each) with
the real architecture, loaded through the real ``whisper.load_model``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from scoring.audio import Samples, load_mono
from scoring.transcripts import DOMAIN_PROMPT
from scoring.whisper_checkpoints import build_random_checkpoint, build_scripted_checkpoint
from scoring.whisper_model import clear_cache, set_torch_threads
from tests.support.data import AN4_ANSWER, shared_data

SENTENCE = "I would like to refinance my house in Texas."
RATE = 16_000


@pytest.fixture(scope="session")
def data_root() -> Path:
    return shared_data()


@pytest.fixture(scope="session")
def an4_wav(data_root: Path) -> Path:
    """AN4 an406-fcaw-b: 4.0 s, 16 kHz, "RUBOUT G M E F THREE NINE"."""
    return data_root / AN4_ANSWER


@pytest.fixture(scope="session")
def an4_clips(data_root: Path) -> list[Samples]:
    files = sorted((data_root / "an4_test" / "wav").glob("*/*/*.wav"))
    return [load_mono(f) for f in files[:12]]


@pytest.fixture(scope="session")
def fsdd_wav(data_root: Path) -> Path:
    """FSDD 7_jackson_0: a spoken "seven", 8 kHz 16-bit mono."""
    return data_root / "fsdd_test" / "recordings" / "7_jackson_0.wav"


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    set_torch_threads(2)
    return tmp_path_factory.mktemp("whisper")


@pytest.fixture(scope="session")
def scripted_domain(checkpoints: Path) -> Path:
    """Scripted for the default (domain) prompt: what Transcriber uses unless told otherwise."""
    return build_scripted_checkpoint(
        checkpoints / "scripted-domain.pt", SENTENCE, initial_prompt=DOMAIN_PROMPT
    )


@pytest.fixture(scope="session")
def scripted_plain(checkpoints: Path) -> Path:
    """Scripted for no prompt: what bare ``whisper.transcribe(model, audio)`` uses."""
    return build_scripted_checkpoint(checkpoints / "scripted-plain.pt", SENTENCE)


@pytest.fixture(scope="session")
def random_test(checkpoints: Path) -> Path:
    return build_random_checkpoint(checkpoints / "random-test.pt", "test")


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def noise(seconds: float, level_db: float, seed: int = 0) -> Samples:
    rng = np.random.default_rng(seed)
    amplitude = 10 ** (level_db / 20)
    return (rng.standard_normal(round(seconds * RATE)) * amplitude).astype(np.float32)
