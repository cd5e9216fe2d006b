"""Answer ("slot") parsers: keypad digits and spoken answers to canonical slot values.

Each prequalification question has a parser that turns what the caller keyed or said into one
canonical value (``"refinance"``, ``"TX"``, ``"good"``, ``"yes"``, ``"75201"``), so the keypad
and speech paths reach the same slot; ``free_text`` keeps the caller's own words, for the
intent classifier. A parser that does not understand returns None (a "no match" for the flow,
which re-prompts); it never guesses between readings.

Parsers are pure and stateless; look them up by slot name with :func:`get_parser`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Protocol

from ivr.answers import credit_band, digits, free_text, loan_type, us_states, yes_no

__all__ = ["PARSERS", "SlotParser", "get_parser", "suggest_value"]


class SlotParser(Protocol):
    """What a flow's ``ask`` step needs from a slot."""

    name: str
    """The slot name flows refer to ("loan_type", "us_state", ...)."""
    values: frozenset[str] | None
    """The closed set of canonical values; None for open-ended slots (digits)."""

    def from_speech(self, text: str) -> str | None:
        """The canonical value of a transcript, or None for no match."""
        ...

    def from_digits(self, digits: str) -> str | None:
        """The canonical value of keypad digits, or None for no match."""
        ...


def _registry(*parsers: SlotParser) -> Mapping[str, SlotParser]:
    table: dict[str, SlotParser] = {}
    for parser in parsers:
        if parser.name in table:
            raise ValueError(f"two slot parsers are named {parser.name!r}")
        table[parser.name] = parser
    return MappingProxyType(table)


PARSERS: Final[Mapping[str, SlotParser]] = _registry(
    loan_type.PARSER,
    us_states.PARSER,
    credit_band.PARSER,
    yes_no.PARSER,
    digits.PARSER,
    free_text.PARSER,
)
"""Every slot parser by name."""


def get_parser(name: str) -> SlotParser:
    """The parser for a slot; a KeyError that lists the known slots otherwise."""
    try:
        return PARSERS[name]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise KeyError(f"unknown slot parser {name!r}; known parsers: {known}") from None


def suggest_value(parser_name: str, word: str) -> str | None:
    """The value ``word`` was most likely meant to be, for a did-you-mean in configuration.

    What a caller saying it would mean comes first ('Texas' → TX, 'ca' → CA, 'refi' →
    refinance), then the closest spelling among the parser's values.
    """
    parser = get_parser(parser_name)
    heard = parser.from_speech(word)
    if heard is not None:
        return heard
    close = difflib.get_close_matches(word, sorted(parser.values or ()), n=1, cutoff=0.6)
    return close[0] if close else None
