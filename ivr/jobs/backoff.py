"""How long a failed job waits before its next attempt."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: ``base_s * factor ** (attempt - 1)``, capped at ``max_s``.

    Jitter only ever shortens the delay (by up to ``jitter`` of it), so a retry never comes later
    than the nominal schedule, never earlier than ``1 - jitter`` of it, and jobs that failed
    together (a dependency went down) do not all come back in the same instant.
    """

    base_s: float = 2.0
    factor: float = 2.0
    max_s: float = 600.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.factor < 1 or self.max_s < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("backoff needs base_s >= 0, factor >= 1, max_s >= 0, 0 <= jitter <= 1")

    def delay_s(self, attempt: int, random: float) -> float:
        """The wait after failed attempt number ``attempt`` (1-based); ``random`` in [0, 1)."""
        nominal = min(self.max_s, self.base_s * self.factor ** max(attempt - 1, 0))
        return nominal * (1.0 - self.jitter * random)
