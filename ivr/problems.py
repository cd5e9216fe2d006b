"""One shape for every configuration error: ``path:line: message``.

Flows, the deployment file and their graph checks all report through :class:`Problem`, so
``warmline validate``, server start-up and the tests see the same text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """A single thing wrong with a configuration file, located by line."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"

    def as_dict(self) -> dict[str, str | int]:
        return {"path": self.path, "line": self.line, "message": self.message}


class InvalidConfig(Exception):
    """Raised with every problem found, never only the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))
