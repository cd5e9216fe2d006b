"""Loan type slot: refinance, cash-out refinance, purchase, HELOC or reverse mortgage.

The speech path reads phrases ("refi", "lower my payment", "take some equity out", "first time
home buyer", "home equity line of credit", "HECM"), drops the negated ones ("not a refinance,
a purchase"), and then decides:

- one type left -> that type;
- refinance and cash-out -> ``cash_out``: a cash-out refinance *is* a refinance, the more
  specific answer wins ("refinance and take cash out");
- any other mix ("refinance or maybe a HELOC") or only negated types ("I don't want to
  refinance") -> None, and the flow re-prompts instead of routing on a guess.

Keypad answers are not parsed here: "press 1 for refinance" belongs to the flow's keypad map,
so :meth:`LoanTypeParser.from_digits` always returns None.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from ivr.answers.text import PhraseTable, drop_hesitations, is_negated, tokens

__all__ = ["LOAN_TYPES", "PARSER", "LoanTypeParser"]

REFINANCE: Final = "refinance"
CASH_OUT: Final = "cash_out"
PURCHASE: Final = "purchase"
HELOC: Final = "heloc"
REVERSE: Final = "reverse"

LOAN_TYPES: Final[frozenset[str]] = frozenset({REFINANCE, CASH_OUT, PURCHASE, HELOC, REVERSE})

NEGATORS: Final[frozenset[str]] = frozenset(
    {"not", "no", "dont", "never", "without", "isnt", "arent", "wasnt", "doesnt", "neither", "nor"}
)


def _lower_my_payment() -> Iterator[str]:
    """ "lower my rate", "reduce the monthly payment", "lowering my interest rate" ..."""
    for verb in ("lower", "lowering", "reduce", "reducing"):
        for det in ("", "my ", "the ", "our "):
            for kind in ("", "interest ", "monthly ", "mortgage "):
                for noun in ("rate", "payment", "payments"):
                    yield f"{verb} {det}{kind}{noun}"


def _take_equity_out() -> Iterator[str]:
    """ "take some equity out", "pull cash out", "take out some of my equity" ..."""
    dets = ("", "some ", "my ", "the ", "some of my ", "some of the ", "a little ")
    for verb in ("take", "taking", "pull", "pulling", "get", "getting"):
        for det in dets:
            for thing in ("equity", "cash", "money"):
                yield f"{verb} {det}{thing} out"
                yield f"{verb} out {det}{thing}"


_PHRASES: Final[dict[str, str]] = {
    # refinance
    "refinance": REFINANCE,
    "refinancing": REFINANCE,
    "refinanced": REFINANCE,
    "refi": REFINANCE,
    "refis": REFINANCE,
    "refy": REFINANCE,
    "re fi": REFINANCE,
    "re finance": REFINANCE,
    "rate and term": REFINANCE,
    "rate term": REFINANCE,
    "better rate": REFINANCE,
    "better interest rate": REFINANCE,
    "streamline": REFINANCE,
    **dict.fromkeys(_lower_my_payment(), REFINANCE),
    # cash-out refinance
    "cash out": CASH_OUT,
    "cashout": CASH_OUT,
    "cash out refi": CASH_OUT,
    "cash out refinance": CASH_OUT,
    "cash out refinancing": CASH_OUT,
    **dict.fromkeys(_take_equity_out(), CASH_OUT),
    # purchase
    "purchase": PURCHASE,
    "purchasing": PURCHASE,
    "buy": PURCHASE,
    "buying": PURCHASE,
    "buyer": PURCHASE,
    "homebuyer": PURCHASE,
    "home buyer": PURCHASE,
    "first time home buyer": PURCHASE,
    "first time buyer": PURCHASE,
    "new home": PURCHASE,
    "new house": PURCHASE,
    "pre approved": PURCHASE,
    "preapproved": PURCHASE,
    "pre approval": PURCHASE,
    "preapproval": PURCHASE,
    # HELOC and home equity loans
    "heloc": HELOC,
    "helocs": HELOC,
    "helock": HELOC,
    "he lock": HELOC,
    "home equity line": HELOC,
    "home equity line of credit": HELOC,
    "equity line": HELOC,
    "equity line of credit": HELOC,
    "line of credit": HELOC,
    "home equity loan": HELOC,
    "home equity loans": HELOC,
    "equity loan": HELOC,
    "second mortgage": HELOC,
    # reverse mortgage
    "reverse": REVERSE,
    "reverse mortgage": REVERSE,
    "reverse mortgages": REVERSE,
    "hecm": REVERSE,
    "home equity conversion mortgage": REVERSE,
}

PHRASES: Final[PhraseTable[str]] = PhraseTable(_PHRASES)


class LoanTypeParser:
    """Reads which loan the caller wants."""

    name: str = "loan_type"
    values: frozenset[str] | None = LOAN_TYPES

    def from_speech(self, text: str) -> str | None:
        words = drop_hesitations(tokens(text))
        kept: set[str] = set()
        floor = 0
        for match in PHRASES.find(words):
            if not is_negated(words, match.start, NEGATORS, floor=floor):
                kept.add(match.value)
            floor = match.end
        if kept == {REFINANCE, CASH_OUT}:
            return CASH_OUT
        return kept.pop() if len(kept) == 1 else None

    def from_digits(self, digits: str) -> str | None:
        """Always None: keypad choices are mapped by the flow, not guessed here."""
        return None


PARSER: Final = LoanTypeParser()
