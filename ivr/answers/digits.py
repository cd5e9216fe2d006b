"""Open-ended digits slot: phone numbers, ZIP codes, account or loan numbers.

Keypad digits pass through unchanged when they are only 0-9 (an empty or odd string is None).
Speech goes through :mod:`ivr.answers.numbers`: "five five five one two one two" -> "5551212",
"oh" -> "0", "double five" -> "55", "triple seven" -> "777", "75201" -> "75201". Every number
said is kept, in order, so "five five five, uh, one two one two" is one answer. Length and
format checks belong to the flow step that asked (a ZIP wants five digits, a phone ten).
"""

from __future__ import annotations

from typing import Final

from ivr.answers.numbers import digit_string

__all__ = ["PARSER", "DigitsParser"]

_KEYPAD_DIGITS: Final = frozenset("0123456789")


class DigitsParser:
    """Reads a string of digits."""

    name: str = "digits"
    values: frozenset[str] | None = None

    def from_speech(self, text: str) -> str | None:
        return digit_string(text)

    def from_digits(self, digits: str) -> str | None:
        """The keyed digits as they are; None unless every character is 0-9."""
        if digits and all(ch in _KEYPAD_DIGITS for ch in digits):
            return digits
        return None


PARSER: Final = DigitsParser()
