"""Text normalisation and phrase matching shared by the answer parsers.

Spoken answers reach us as Twilio ``SpeechResult`` strings or Whisper transcripts: mixed case,
punctuation, hesitations ("uh", "um"), hedges ("I think", "you know"), letters spelled out
("T. X.", "t x", "h e l o c") and numbers as words. Every parser starts from the same token list,
so each speech path meets the keypad path on the same words.

Tokens are lowercase ASCII words or digit strings. A clause mark (``, ; : ! ?`` or a full stop
that ends a word of two or more characters) becomes the :data:`BOUNDARY` token: negation and
number runs stop there, so "No, a refinance." is not read as "no refinance". A full stop after a
single letter is an abbreviation ("D.C."), not a boundary.

Parsers look for phrases with :class:`PhraseTable`, a greedy longest-match over tokens: word
boundaries come for free ("kansas" never matches inside "arkansas") and a longer phrase beats the
words inside it ("west virginia" before "virginia", "not great" before "great"). No regular
expressions, so no pathological backtracking on odd input.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

__all__ = [
    "BOUNDARY",
    "DONT_KNOW",
    "HEDGES",
    "HESITATIONS",
    "PREAMBLES",
    "Match",
    "PhraseTable",
    "drop_fillers",
    "drop_hesitations",
    "is_negated",
    "normalize",
    "tokens",
]

V = TypeVar("V")

BOUNDARY: Final = ","
"""The token a clause mark becomes; never part of a phrase."""

_APOSTROPHES: Final = frozenset("'\u2018\u2019\u02bc`\u00b4")
_CLAUSE_MARKS: Final = frozenset(",;:!?")
_ARTICLE_LETTERS: Final = frozenset({"a", "i"})

HESITATIONS: Final[frozenset[str]] = frozenset(
    {"uh", "uhh", "uhm", "um", "umm", "er", "erm", "ah", "ahh", "hmm", "hm", "mmm", "eh"}
)
"""Sounds that carry no meaning in any answer (``mm``/``huh`` stay: "mm hmm", "uh huh")."""

DONT_KNOW: Final[tuple[str, ...]] = (
    "i dont know",
    "dont know",
    "i do not know",
    "not sure",
    "im not sure",
    "i am not sure",
    "no idea",
)
"""Ways of saying "I don't know": dropped as hedges, and never a yes or a no."""

HEDGES: Final[tuple[str, ...]] = (
    *DONT_KNOW,
    "let me see",
    "lets see",
    "let me think",
    "i mean",
    "you know",
    "i guess",
    "i think",
    "i believe",
    "i would say",
    "id say",
    "like",
)
"""Phrases that qualify an answer without changing it; dropped before matching.

They matter because several contain a negator ("I'm not sure, refinance" is not a negated
refinance) and because they stand between a code and "the whole utterance".
"""

PREAMBLES: Final[tuple[str, ...]] = (
    "its",
    "it is",
    "the property is in",
    "the property is located in",
    "property is in",
    "the house is in",
    "well",
    "so",
    "okay so",
)
"""Lead-ins that introduce an answer; dropped only where "the whole utterance" matters.

Parsers that read phrases keep them ("so so" is a credit band, "it is" may be part of a yes).
"""


def _raw_words(text: str) -> list[str]:
    """Split into lowercase ASCII words, digit strings and boundary tokens."""
    out: list[str] = []
    word: list[str] = []
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(ch):
            continue
        lower = ch.lower()
        if len(lower) == 1 and lower.isascii() and lower.isalnum():
            word.append(lower)
            continue
        if ch in _APOSTROPHES:  # "don't" -> "dont", "it's" -> "its"
            continue
        previous = "".join(word)
        if word:
            out.append(previous)
            word.clear()
        if ch in _CLAUSE_MARKS or (ch == "." and len(previous) > 1):
            out.append(BOUNDARY)
        elif ch == "&":
            out.append("and")
    if word:
        out.append("".join(word))
    return out


def _collapse_letters(words: Sequence[str]) -> list[str]:
    """Join runs of spelled letters: "t x" -> "tx", "h e l o c" -> "heloc".

    A leading "a" or "i" before two or more letters is kept apart, because it is far more
    often the article or the pronoun ("it's a t x" -> "a tx") than the first letter.
    """
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= 3 and run[0] in _ARTICLE_LETTERS:
            out.append(run[0])
            out.append("".join(run[1:]))
        elif len(run) >= 2:
            out.append("".join(run))
        else:
            out.extend(run)
        run.clear()

    for w in words:
        if len(w) == 1 and w.isalpha():
            run.append(w)
        else:
            flush()
            out.append(w)
    flush()
    return out


def _tidy_boundaries(words: Sequence[str]) -> tuple[str, ...]:
    """Drop leading, trailing and repeated boundaries so that positions mean something."""
    out: list[str] = []
    for w in words:
        if w == BOUNDARY and (not out or out[-1] == BOUNDARY):
            continue
        out.append(w)
    if out and out[-1] == BOUNDARY:
        out.pop()
    return tuple(out)


def tokens(text: str) -> tuple[str, ...]:
    """Normalised tokens of an utterance, the common input of every parser."""
    return _tidy_boundaries(_collapse_letters(_raw_words(text)))


def normalize(text: str) -> str:
    """The normalised utterance as one string (for logs, tests and table keys)."""
    return " ".join(tokens(text))


@dataclass(frozen=True, slots=True)
class Match(Generic[V]):
    """A phrase found at ``words[start:end]``."""

    start: int
    end: int
    value: V


class PhraseTable(Generic[V]):
    """Phrases (normalised, space-separated) mapped to values, matched longest first."""

    def __init__(self, entries: Mapping[str, V]) -> None:
        table: dict[tuple[str, ...], V] = {}
        for phrase, value in entries.items():
            key = tuple(phrase.split())
            if not key or " ".join(key) != phrase or normalize(phrase) != phrase:
                raise ValueError(f"phrase {phrase!r} is not in normalised form")
            table[key] = value
        self._table: Final = table
        self._longest: Final = max((len(k) for k in table), default=0)

    def __contains__(self, phrase: object) -> bool:
        return isinstance(phrase, str) and tuple(phrase.split()) in self._table

    def __len__(self) -> int:
        return len(self._table)

    def phrases(self) -> list[str]:
        """Every phrase, for tests that check the tables themselves."""
        return [" ".join(k) for k in self._table]

    def find(self, words: Sequence[str]) -> list[Match[V]]:
        """Non-overlapping matches, left to right, the longest phrase at each position."""
        found: list[Match[V]] = []
        i = 0
        n = len(words)
        while i < n:
            for length in range(min(self._longest, n - i), 0, -1):
                key = tuple(words[i : i + length])
                if key in self._table:
                    found.append(Match(i, i + length, self._table[key]))
                    i += length
                    break
            else:
                i += 1
        return found

    def remove(self, words: Sequence[str]) -> tuple[str, ...]:
        """The words with every matched phrase taken out."""
        covered: set[int] = set()
        for m in self.find(words):
            covered.update(range(m.start, m.end))
        return tuple(w for i, w in enumerate(words) if i not in covered)


_HEDGE_TABLE: Final = PhraseTable(dict.fromkeys(HEDGES, True))
_PREAMBLE_TABLE: Final = PhraseTable(dict.fromkeys(PREAMBLES, True))


def drop_hesitations(words: Sequence[str]) -> tuple[str, ...]:
    """Remove hesitations and hedges: they never change what the caller chose."""
    kept = _HEDGE_TABLE.remove([w for w in words if w not in HESITATIONS])
    return _tidy_boundaries(kept)


def drop_fillers(words: Sequence[str]) -> tuple[str, ...]:
    """Also remove lead-ins, leaving the bare answer ("uh it's in, um, TX" -> "in tx")."""
    return _tidy_boundaries(_PREAMBLE_TABLE.remove(drop_hesitations(words)))


SCOPE_BREAKERS: Final[frozenset[str]] = frozenset(
    {"but", "just", "rather", "instead", "only", "actually"}
)
"""Words after which an earlier negator no longer applies ("not X but Y")."""


def is_negated(
    words: Sequence[str],
    start: int,
    negators: frozenset[str],
    *,
    floor: int = 0,
    window: int = 4,
) -> bool:
    """Whether a negator governs the phrase starting at ``start``.

    The negator must be within ``window`` words before it, in the same clause, and after
    ``floor`` (the end of the previous phrase): a negator negates the next phrase only, so in
    "not a refinance a purchase" the purchase stands.
    """
    lowest = max(floor, start - window, 0)
    for i in range(start - 1, lowest - 1, -1):
        w = words[i]
        if w == BOUNDARY or w in SCOPE_BREAKERS:
            return False
        if w in negators:
            return True
    return False
