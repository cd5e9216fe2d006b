"""The free_text answer parser: the caller's own words, for the intent classifier."""

from __future__ import annotations

import pytest

from ivr.answers import get_parser
from ivr.answers.free_text import MAX_CHARACTERS

pytestmark = pytest.mark.unit

PARSER = get_parser("free_text")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want to refinance", "I want to refinance"),
        ("  um,  I'd like to   lower my payment. ", "um, I'd like to lower my payment."),
        ("escrow", "escrow"),
        ("Stop calling me!", "Stop calling me!"),
        ("", None),
        ("   ", None),
        ("um", None),
        ("uh, um... hmm", None),
        ("I don't know", None),
        ("you know, like", None),
        ("?!", None),
    ],
)
def test_any_meaningful_words_are_kept_as_said(text: str, expected: str | None) -> None:
    assert PARSER.from_speech(text) == expected


@pytest.mark.parametrize("digits", ["1", "0", "75201", "#"])
def test_keys_are_never_words(digits: str) -> None:
    assert PARSER.from_digits(digits) is None


def test_a_long_transcript_is_cut() -> None:
    value = PARSER.from_speech("word " * 1000)
    assert value is not None and len(value) == MAX_CHARACTERS


def test_free_text_is_open() -> None:
    assert PARSER.values is None
