"""Spoken numbers to digit strings and integers.

Callers say numbers the way people read them aloud, and ASR writes them down either way:
"seven twenty", "seven hundred and twenty", "seven two zero", "seven oh five", "double five",
"720", "75 201". Everything here works on :func:`ivr.answers.text.tokens` output and reads
*runs*: maximal stretches of number words and digit strings, each run read as the digits a
person would key in. Pieces of a run are concatenated, which is what the reading means:
"seven twenty" is 7·20 -> "720", "seventy five two oh one" -> "75201".

Inside a run:
- ``zero``/``oh``/``o`` are 0; a token of only o's ("oo", from spelled letters) is that many 0s;
- ``double``/``triple`` repeat the next single digit;
- a tens word takes a following unit 1-9 ("twenty one" -> "21");
- "<unit> hundred [and] <below 100>" is one three-digit number ("seven hundred and five" -> 705).

``and`` only continues a run right after "hundred", so "six eighty and seven hundred" is two
runs. A run that is nothing but "oh" is dropped when other runs exist: "oh, about 720" is an
interjection, not a zero. Homophones ("to", "for", "won") are never read as digits: a missed
number means a re-prompt, a wrong one means a wrong answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from ivr.answers.text import drop_hesitations, tokens

__all__ = ["REPEATS", "TEENS", "TENS", "UNITS", "digit_string", "number_runs", "spoken_int"]

UNITS: Final[Mapping[str, int]] = {
    "zero": 0,
    "oh": 0,
    "o": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
TEENS: Final[Mapping[str, int]] = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS: Final[Mapping[str, int]] = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
REPEATS: Final[Mapping[str, int]] = {"double": 2, "triple": 3}

_OH_WORDS: Final = frozenset({"oh", "o"})


def _is_digits(word: str) -> bool:
    return bool(word) and word.isascii() and word.isdigit()


def _is_oh_run(word: str) -> bool:
    """ "oo", "ooo": spelled-letter collapsing turns "o o" into one token."""
    return len(word) > 1 and set(word) == {"o"}


def _single_digit(word: str) -> str | None:
    if word in UNITS:
        return str(UNITS[word])
    if _is_digits(word) and len(word) == 1:
        return word
    return None


def _below_hundred(words: Sequence[str], i: int) -> tuple[int, int] | None:
    """The 1-99 that may follow "hundred" (with an optional "and"): (value, words used)."""
    j = i + 1 if i < len(words) and words[i] == "and" else i
    if j >= len(words):
        return None
    w = words[j]
    nxt = words[j + 1] if j + 1 < len(words) else ""
    used = j - i + 1
    if w in TENS:
        if UNITS.get(nxt, 0) > 0:
            return TENS[w] + UNITS[nxt], used + 1
        return TENS[w], used
    if w in TEENS:
        return TEENS[w], used
    if UNITS.get(w, 0) > 0:
        return UNITS[w], used
    if _is_digits(w) and len(w) <= 2 and int(w) > 0:
        return int(w), used
    return None


def _read(words: Sequence[str], i: int) -> tuple[str, int] | None:
    """The digits of the number piece starting at ``words[i]`` and how many words it used."""
    w = words[i]
    nxt = words[i + 1] if i + 1 < len(words) else ""
    if _is_digits(w):
        return w, 1
    if _is_oh_run(w):
        return "0" * len(w), 1
    if w in REPEATS:
        digit = _single_digit(nxt)
        return (digit * REPEATS[w], 2) if digit is not None else None
    if w in UNITS:
        unit = UNITS[w]
        if unit > 0 and nxt == "hundred":
            rest = _below_hundred(words, i + 2)
            if rest is None:
                return str(unit * 100), 2
            value, used = rest
            return str(unit * 100 + value), 2 + used
        return str(unit), 1
    if w in TEENS:
        return str(TEENS[w]), 1
    if w in TENS:
        if UNITS.get(nxt, 0) > 0:
            return str(TENS[w] + UNITS[nxt]), 2
        return str(TENS[w]), 1
    return None


def number_runs(words: Sequence[str]) -> list[str]:
    """Each maximal run of number words as the digit string it reads as, left to right."""
    runs: list[tuple[str, bool]] = []
    pieces: list[str] = []
    only_oh = True
    i = 0
    while i < len(words):
        read = _read(words, i)
        if read is None:
            if pieces:
                runs.append(("".join(pieces), only_oh))
            pieces, only_oh = [], True
            i += 1
            continue
        piece, used = read
        only_oh = only_oh and used == 1 and (words[i] in _OH_WORDS or _is_oh_run(words[i]))
        pieces.append(piece)
        i += used
    if pieces:
        runs.append(("".join(pieces), only_oh))
    if any(not oh for _, oh in runs):
        return [digits for digits, oh in runs if not oh]
    return [digits for digits, _ in runs]


def digit_string(text: str) -> str | None:
    """All the digits said in an utterance, in order; None when there are none."""
    runs = number_runs(drop_hesitations(tokens(text)))
    return "".join(runs) or None


def spoken_int(text: str) -> int | None:
    """The one number said in an utterance; None for none or several."""
    runs = number_runs(drop_hesitations(tokens(text)))
    return int(runs[0]) if len(runs) == 1 else None
