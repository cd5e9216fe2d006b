"""Credit band slot: excellent, good, fair or poor, from a band word or a FICO-style score.

The bands (inclusive score ranges, FICO 8 scale 300-850):

=========  =========
band       score
=========  =========
excellent  740-850
good       670-739
fair       580-669
poor       300-579
=========  =========

Speech: a score said as digits or words ("about seven twenty", "seven hundred and sixty",
"around 800") decides by the table; several scores ("between six eighty and seven hundred")
must all fall in one band, or the answer is None. Only three-digit numbers are scores, so "two
late payments, score about 700" still reads 700; a three-digit number outside 300-850 makes the
answer None rather than a guess. When a score is given it wins over a band word ("excellent,
like 650" -> fair): the number is what a lender checks. Without a score, band words and their
synonyms decide ("pretty good" -> good, "okay" / "average" / "not great" -> fair, "bad" ->
poor); two different bands -> None, and "I don't know" -> None.

Keypad: a three-digit score 300-850 -> its band. One-digit menu choices ("press 1 for
excellent") belong to the flow's keypad map, so they are None here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ivr.answers.numbers import number_runs
from ivr.answers.text import PhraseTable, drop_hesitations, tokens

__all__ = ["CREDIT_BANDS", "MAX_SCORE", "MIN_SCORE", "PARSER", "SCORE_BANDS", "band_for_score"]

EXCELLENT: Final = "excellent"
GOOD: Final = "good"
FAIR: Final = "fair"
POOR: Final = "poor"

MIN_SCORE: Final = 300
MAX_SCORE: Final = 850

SCORE_BANDS: Final[tuple[tuple[str, int, int], ...]] = (
    (EXCELLENT, 740, 850),
    (GOOD, 670, 739),
    (FAIR, 580, 669),
    (POOR, 300, 579),
)
"""(band, lowest score, highest score), inclusive; the table in the module docstring."""

CREDIT_BANDS: Final[frozenset[str]] = frozenset(band for band, _, _ in SCORE_BANDS)

_WORDS: Final[Mapping[str, str]] = {
    # excellent
    "excellent": EXCELLENT,
    "exceptional": EXCELLENT,
    "outstanding": EXCELLENT,
    "great": EXCELLENT,
    "very good": EXCELLENT,
    "really good": EXCELLENT,
    "super good": EXCELLENT,
    "perfect": EXCELLENT,
    "amazing": EXCELLENT,
    # good
    "good": GOOD,
    "pretty good": GOOD,
    "decent": GOOD,
    "solid": GOOD,
    "above average": GOOD,
    # fair
    "fair": FAIR,
    "okay": FAIR,
    "ok": FAIR,
    "alright": FAIR,
    "all right": FAIR,
    "average": FAIR,
    "so so": FAIR,
    "medium": FAIR,
    "mediocre": FAIR,
    "not great": FAIR,
    "not so great": FAIR,
    "not the best": FAIR,
    "not the greatest": FAIR,
    "not bad": FAIR,
    "not too bad": FAIR,
    "not that good": FAIR,
    "could be better": FAIR,
    # poor
    "poor": POOR,
    "bad": POOR,
    "pretty bad": POOR,
    "really bad": POOR,
    "very bad": POOR,
    "terrible": POOR,
    "awful": POOR,
    "horrible": POOR,
    "low": POOR,
    "below average": POOR,
    "not good": POOR,
    "not very good": POOR,
    "not so good": POOR,
    "not too good": POOR,
    "no good": POOR,
}

WORDS: Final[PhraseTable[str]] = PhraseTable(_WORDS)


def band_for_score(score: int) -> str | None:
    """The band of a score by :data:`SCORE_BANDS`; None outside 300-850."""
    for band, low, high in SCORE_BANDS:
        if low <= score <= high:
            return band
    return None


def _score_band(digits: str) -> str | None:
    if len(digits) != 3 or digits[0] == "0":
        return None
    return band_for_score(int(digits))


class CreditBandParser:
    """Reads the caller's credit band."""

    name: str = "credit_band"
    values: frozenset[str] | None = CREDIT_BANDS

    def from_speech(self, text: str) -> str | None:
        words = drop_hesitations(tokens(text))
        scores = [run for run in number_runs(words) if len(run) == 3]
        if scores:
            bands = {_score_band(run) for run in scores}
            return bands.pop() if len(bands) == 1 else None  # a None in the set stays None
        named = {m.value for m in WORDS.find(words)}
        return named.pop() if len(named) == 1 else None

    def from_digits(self, digits: str) -> str | None:
        """A keyed three-digit score -> its band."""
        if not (digits.isascii() and digits.isdigit()):
            return None
        return _score_band(digits)


PARSER: Final = CreditBandParser()
