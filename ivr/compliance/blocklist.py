"""Do-not-call and blocklisted numbers: callers who are refused at call start, never routed.

Operators keep the lists as UTF-8 text files, one number per line in any common format, with
``#`` comments. They are loaded at server start, where a bad line stops start-up with every problem
listed at once (``path:line: message``), so an operator fixes a file in one pass.

The lists change while the server runs, and a restart would drop live calls, so
:meth:`Blocklist.refresh` re-reads them when a file's ``(mtime_ns, size)`` changes. It costs one
``os.stat`` per file at most once per ``min_interval_s``, cheap enough to call at every call start
(and with ``force=True`` on SIGHUP). A bad edit never empties the list: the old one stays in force
and one warning is logged, so a typo cannot let blocked callers through.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ivr.logs import fields

log = logging.getLogger(__name__)

_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_DIGITS = frozenset("0123456789")
_PUNCTUATION = frozenset("().-")
_QUOTE_CHARS = 40

# (st_mtime_ns, st_size) of one file, or None when it could not be stat'ed (gone, unreadable).
_Signature = tuple[int, int] | None


class BlocklistError(ValueError):
    """Every bad line, each as ``path:line: message``."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))


def normalise(number: str) -> str | None:
    """The number in E.164 (``+15125550100``), or None when it is not a phone number.

    Without a ``+``, ten digits are a NANP number and eleven starting with 1 are NANP with its
    country code; any other length is ambiguous (which country?), so it is not guessed.
    """
    text = number.strip()
    international = text.startswith("+")
    body = text[1:] if international else text
    if not body or not all(c in _DIGITS or c in _PUNCTUATION or c.isspace() for c in body):
        return None
    digits = "".join(c for c in body if c in _DIGITS)
    if international:
        candidate = "+" + digits
    elif len(digits) == 10:
        candidate = "+1" + digits
    elif len(digits) == 11 and digits.startswith("1"):
        candidate = "+" + digits
    else:
        return None
    return candidate if _E164.fullmatch(candidate) else None


def _stat(path: Path) -> _Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _read_text(path: Path) -> str:
    """The file's text (a UTF-8 byte-order mark is allowed), or a BlocklistError saying why not."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BlocklistError([f"{path}: no such file"]) from None
    except UnicodeDecodeError as error:
        raise BlocklistError([f"{path}: not UTF-8 text (byte {error.start})"]) from None
    except OSError as error:
        raise BlocklistError([f"{path}: cannot read: {error.strerror}"]) from None


def _parse(path: Path, text: str) -> tuple[set[str], list[str]]:
    """The numbers in one file's text, and a problem for each line that is not a number."""
    numbers: set[str] = set()
    problems: list[str] = []
    # split("\n"), not splitlines(): form feeds and the like must not shift the line numbers.
    for line_number, line in enumerate(text.split("\n"), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        number = normalise(content)
        if number is None:
            quoted = content[:_QUOTE_CHARS]
            problems.append(f"{path}:{line_number}: not a phone number: {quoted!r}")
        else:
            numbers.add(number)
    return numbers, problems


def _read_all(paths: Sequence[Path]) -> frozenset[str]:
    """Every number in every file; raises BlocklistError listing every problem of every file."""
    numbers: set[str] = set()
    problems: list[str] = []
    for path in paths:
        try:
            text = _read_text(path)
        except BlocklistError as error:
            problems.extend(error.problems)
            continue
        found, bad = _parse(path, text)
        numbers |= found
        problems.extend(bad)
    if problems:
        raise BlocklistError(problems)
    return frozenset(numbers)


class Blocklist:
    """The numbers to refuse, from one or more files; reloadable in place.

    The object stays the same for the server's life; a reload swaps its internal frozenset in one
    assignment, so a check never sees a half-loaded list.
    """

    def __init__(
        self,
        *,
        paths: Sequence[Path],
        numbers: frozenset[str],
        signatures: tuple[_Signature, ...],
        min_interval_s: float,
        clock: Callable[[], float],
    ) -> None:
        if min_interval_s < 0:
            raise ValueError("min_interval_s must not be negative")
        self._paths = tuple(paths)
        self._numbers = numbers
        self._signatures = signatures
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._checked_at = clock()

    @classmethod
    def load(
        cls,
        paths: Sequence[Path],
        min_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> Blocklist:
        """Read every file; raises BlocklistError listing every bad line of every file at once."""
        paths = tuple(Path(p) for p in paths)
        # Stat before reading: an edit made while we read shows as a change at the next refresh.
        signatures = tuple(_stat(path) for path in paths)
        numbers = _read_all(paths)
        return cls(
            paths=paths,
            numbers=numbers,
            signatures=signatures,
            min_interval_s=min_interval_s,
            clock=clock,
        )

    @classmethod
    def empty(cls) -> Blocklist:
        """No files and no numbers: for deployments that configure no list."""
        return cls(
            paths=(),
            numbers=frozenset(),
            signatures=(),
            min_interval_s=0.0,
            clock=time.monotonic,
        )

    @property
    def paths(self) -> tuple[Path, ...]:
        return self._paths

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, str):
            return False
        normalised = normalise(number)
        return normalised is not None and normalised in self._numbers

    def __len__(self) -> int:
        return len(self._numbers)

    def __repr__(self) -> str:
        return f"<Blocklist of {len(self)} numbers from {len(self._paths)} files>"

    def refresh(self, force: bool = False) -> bool:
        """Reload if a file changed; True when a new list took effect.

        Stats the files at most once per ``min_interval_s`` unless ``force``. A change that does
        not load (a bad line, a file gone) keeps the old list and logs one warning; that state is
        remembered, so the warning is not repeated at every call until the files change again.
        """
        now = self._clock()
        if not force and now - self._checked_at < self._min_interval_s:
            return False
        self._checked_at = now
        signatures = tuple(_stat(path) for path in self._paths)
        if signatures == self._signatures:
            return False
        self._signatures = signatures
        try:
            numbers = _read_all(self._paths)
        except BlocklistError as error:
            log.warning(
                "blocklist reload failed; keeping the previous list",
                extra=fields(problems="; ".join(error.problems), kept=len(self._numbers)),
            )
            return False
        self._numbers = numbers
        log.info("blocklist reloaded", extra=fields(numbers=len(numbers), files=len(self._paths)))
        return True
