"""A clock that moves only when the test says so: time as an injected value, never a sleep."""

from __future__ import annotations


class FakeClock:
    """Seconds (epoch or monotonic, as the code under test reads them)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
