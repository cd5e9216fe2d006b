"""The retry schedule: exponential, capped, jitter only ever shortening it."""

from __future__ import annotations

import pytest

from ivr.jobs import Backoff

pytestmark = pytest.mark.unit


def test_delays_double_up_to_the_cap() -> None:
    backoff = Backoff(base_s=2.0, factor=2.0, max_s=30.0, jitter=0.0)
    assert [backoff.delay_s(n, random=0.5) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_jitter_shortens_by_at_most_its_fraction() -> None:
    backoff = Backoff(base_s=10.0, factor=3.0, max_s=600.0, jitter=0.2)
    assert backoff.delay_s(2, random=0.0) == 30.0
    assert backoff.delay_s(2, random=0.5) == pytest.approx(27.0)
    assert backoff.delay_s(2, random=0.999999) == pytest.approx(24.0, abs=1e-4)


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="factor >= 1"):
        Backoff(factor=0.5)
    with pytest.raises(ValueError, match="jitter"):
        Backoff(jitter=1.5)
