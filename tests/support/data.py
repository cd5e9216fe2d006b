"""The public speech data beside the checkout (``../shared/data``), found one way for all tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.services import ROOT

AN4_ANSWER = Path("an4_test/wav/an4test_clstk/fcaw/an406-fcaw-b.wav")
"""4.0 s, 16 kHz: "RUBOUT G M E F THREE NINE"."""


def shared_data() -> Path:
    """The folder with ``an4_test/`` and ``fsdd_test/``; fails the test (never skips) without it."""
    candidates = [Path(p) for p in [os.environ.get("WARMLINE_TEST_DATA", "")] if p]
    candidates += [ROOT / "shared" / "data", ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if (candidate / "an4_test").is_dir() and (candidate / "fsdd_test").is_dir():
            return candidate
    pytest.fail(
        "public test audio not found (an4_test/, fsdd_test/); looked in "
        + ", ".join(str(c) for c in candidates)
        + "; set WARMLINE_TEST_DATA to the folder that holds them"
    )
