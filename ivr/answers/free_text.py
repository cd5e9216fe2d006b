"""Open free-form answers: the caller's own words, kept as they said them.

For questions such as "In a few words, what would you like to do?", whose answer is read later
by the intent classifier (a flow's ``score`` step) rather than matched against a table. Any
utterance with at least one word besides hesitations and hedges ("um", "you know", "I don't
know") is accepted, and the value is the transcript itself with its spacing tidied, so the
classifier reads natural text. Keypad digits are never words: always None.
"""

from __future__ import annotations

from typing import Final

from ivr.answers.text import BOUNDARY, drop_hesitations, tokens

__all__ = ["MAX_CHARACTERS", "PARSER", "FreeTextParser"]

MAX_CHARACTERS: Final = 1000
"""Longer transcripts are cut here: the call state stays small and the classifier reads less."""


class FreeTextParser:
    """Accepts any meaningful words."""

    name: str = "free_text"
    values: frozenset[str] | None = None

    def from_speech(self, text: str) -> str | None:
        if not any(word != BOUNDARY for word in drop_hesitations(tokens(text))):
            return None
        return " ".join(text.split())[:MAX_CHARACTERS]

    def from_digits(self, digits: str) -> str | None:
        return None


PARSER: Final = FreeTextParser()
