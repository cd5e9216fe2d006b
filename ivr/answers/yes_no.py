"""Yes/no slot, for confirmations ("Did I get that right?") and consent questions.

Phrases are matched longest first on the normalised words, so "of course not" is a no and
"not sure" is neither. Hesitations are *not* stripped first: "uh huh" and "mm hmm" are yeses.
Don't-know phrases ("I don't know", "not sure", "maybe") are matched so that their words cannot
count ("don't" alone is a no), and carry no answer. A yes and a no in one utterance ("yes no",
"yeah no") -> None: the flow asks again rather than pick one.

Keypad: None; "press 1 for yes" is the flow's keypad map.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ivr.answers.text import DONT_KNOW, PhraseTable, tokens

__all__ = ["PARSER", "YES_NO", "YesNoParser"]

YES: Final = "yes"
NO: Final = "no"
YES_NO: Final[frozenset[str]] = frozenset({YES, NO})

_YES_PHRASES: Final = (
    "yes",
    "yeah",
    "yea",
    "ya",
    "yah",
    "yep",
    "yup",
    "yes sir",
    "yes maam",
    "yes please",
    "sure",
    "sure thing",
    "correct",
    "thats correct",
    "that is correct",
    "right",
    "thats right",
    "that is right",
    "uh huh",
    "mm hmm",
    "mhm",
    "absolutely",
    "definitely",
    "certainly",
    "of course",
    "please do",
    "go ahead",
    "okay",
    "ok",
    "alright",
    "all right",
    "affirmative",
    "i do",
    "i am",
    "i think so",
    "i guess so",
    "sounds good",
    "no problem",
    # consent questions ("To agree to being recorded, press 1 or say yes")
    "agree",
    "i agree",
    "i consent",
    "i accept",
)

_NO_PHRASES: Final = (
    "no",
    "nope",
    "nah",
    "no thanks",
    "no thank you",
    "not really",
    "not at all",
    "not",
    "never",
    "negative",
    "i dont",
    "i do not",
    "dont",
    "please dont",
    "im not",
    "i am not",
    "of course not",
    "absolutely not",
    "definitely not",
    "certainly not",
    "not correct",
    "incorrect",
    "thats not right",
    "thats not correct",
    "that is not right",
    "not right",
    "wrong",
    "thats wrong",
    "i dont think so",
    "uh uh",
    "nuh uh",
    "disagree",
    "i disagree",
    "dont agree",
    "i dont agree",
    "i do not agree",
    "i dont consent",
    "i do not consent",
)

_NEITHER: Final = (
    *DONT_KNOW,
    "maybe",
    "i dont remember",
)

_ENTRIES: Final[Mapping[str, str | None]] = (
    dict.fromkeys(_YES_PHRASES, YES) | dict.fromkeys(_NO_PHRASES, NO) | dict.fromkeys(_NEITHER)
)

PHRASES: Final[PhraseTable[str | None]] = PhraseTable(_ENTRIES)


class YesNoParser:
    """Reads a yes or a no."""

    name: str = "yes_no"
    values: frozenset[str] | None = YES_NO

    def from_speech(self, text: str) -> str | None:
        said = {m.value for m in PHRASES.find(tokens(text)) if m.value is not None}
        return said.pop() if len(said) == 1 else None

    def from_digits(self, digits: str) -> str | None:
        """Always None: keypad choices are mapped by the flow."""
        return None


PARSER: Final = YesNoParser()
