"""A small intent model trained once per test session, through the real ``warmline`` command.

CI trains it from the committed data in under a minute (a label-balanced subset, few epochs):
big enough to beat the majority class clearly and to drive scored calls end to end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.services import warmline

SMALL_MODEL_ARGS = ("--per-label", "60", "--epochs", "4", "--seed", "13", "--quiet")
TRAINING_TIMEOUT_S = 600


def train_small_model(out: Path, *extra: str) -> Path:
    """``warmline train intent`` on the small subset, into ``out``; fails the test on error."""
    result = warmline(
        "train",
        "intent",
        "--out",
        str(out),
        *SMALL_MODEL_ARGS,
        *extra,
        timeout=TRAINING_TIMEOUT_S,
    )
    if result.returncode != 0:
        pytest.fail(f"training the test intent model failed:\n{result.stdout}\n{result.stderr}")
    return out
