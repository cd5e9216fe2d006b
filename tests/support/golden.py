"""Golden files of bad configuration: each states the exact problems it must produce.

A file's leading comments give one ``# expect: LINE: MESSAGE`` per problem, or
``# expect: OTHER.yaml:LINE: MESSAGE`` for a problem in another file (relative to it).
"""

from __future__ import annotations

import re
from pathlib import Path

_EXPECT = re.compile(r"# expect: (?:(\S+\.yaml):)?(\d+): (.+)")


def expected_problems(path: Path) -> list[str]:
    """The ``path:line: message`` texts the file's leading comments promise."""
    expected: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if match := _EXPECT.fullmatch(line):
            where = path.parent / match[1] if match[1] else path
            expected.append(f"{where}:{match[2]}: {match[3]}")
    return expected
