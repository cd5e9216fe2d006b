"""Table-driven tests of the normalisation and spoken-number helpers behind the parsers."""

from __future__ import annotations

import pytest

from ivr.answers import credit_band, loan_type, us_states, yes_no
from ivr.answers.numbers import digit_string, number_runs, spoken_int
from ivr.answers.text import (
    PhraseTable,
    drop_fillers,
    drop_hesitations,
    is_negated,
    normalize,
    tokens,
)
from ivr.answers.us_states import STATE_NAMES
from ivr.answers.zip_codes import ZIP3_TO_STATE, state_for_zip

pytestmark = pytest.mark.unit

NORMALIZE: list[tuple[str, str]] = [
    ("Texas", "texas"),
    ("  TEXAS!!  ", "texas"),
    ("T.X.", "tx"),
    ("t x", "tx"),
    ("t. x.", "tx"),
    ("h e l o c", "heloc"),
    ("H.E.L.O.C.", "heloc"),
    ("it's a t x", "its a tx"),
    ("Washington D.C.", "washington dc"),
    ("I don't know", "i dont know"),
    ("I don\u2019t know", "i dont know"),
    ("re-fi", "re fi"),
    ("cash-out", "cash out"),
    ("No, a refinance.", "no , a refinance"),
    ("Yes. No.", "yes , no"),
    ("uh-huh", "uh huh"),
    ("Rate & term", "rate and term"),
    ("Montr\u00e9al", "montreal"),
    ("seven-twenty", "seven twenty"),
    ("", ""),
    (",,,", ""),
]

FILLERS: list[tuple[str, str]] = [
    ("uh it's in texas", "in texas"),
    ("the property is in um florida", "florida"),
    ("um, you know, I think it's TX", "tx"),
    ("well, so, it is in, uh, PA", "in pa"),
    ("I don't know", ""),
    ("like, ohio", "ohio"),
]

RUNS: list[tuple[str, list[str]]] = [
    ("seven twenty", ["720"]),
    ("seven hundred and twenty", ["720"]),
    ("seven hundred twenty five", ["725"]),
    ("seven two zero", ["720"]),
    ("seven oh five", ["705"]),
    ("eight hundred", ["800"]),
    ("double five", ["55"]),
    ("triple seven", ["777"]),
    ("double", []),
    ("six eighty and seven hundred", ["680", "700"]),
    ("oh, about 720", ["720"]),
    ("oh", ["0"]),
    ("seven o o one", ["7001"]),
    ("twenty twenty", ["2020"]),
    ("twenty oh", ["200"]),
    ("ninety nine", ["99"]),
    ("fourteen", ["14"]),
    ("one hundred", ["100"]),
    ("hundred", []),
    ("one two, three four", ["12", "34"]),
    ("no numbers here", []),
]

SPOKEN_INT: list[tuple[str, int | None]] = [
    ("about seven twenty", 720),
    ("seven hundred and sixty", 760),
    ("around 800", 800),
    ("six eighty and seven hundred", None),
    ("nothing", None),
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZE)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(("text", "expected"), FILLERS)
def test_drop_fillers(text: str, expected: str) -> None:
    assert " ".join(w for w in drop_fillers(tokens(text)) if w != ",") == expected


def test_drop_hesitations_keeps_lead_ins() -> None:
    assert drop_hesitations(tokens("uh it's um so so")) == ("its", "so", "so")


@pytest.mark.parametrize(("text", "expected"), RUNS)
def test_number_runs(text: str, expected: list[str]) -> None:
    assert number_runs(tokens(text)) == expected


@pytest.mark.parametrize(("text", "expected"), SPOKEN_INT)
def test_spoken_int(text: str, expected: int | None) -> None:
    assert spoken_int(text) == expected


def test_digit_string_joins_every_run() -> None:
    assert digit_string("area code two one two, then five five five one two one two") == (
        "2125551212"
    )


def test_phrase_table_prefers_the_longest_phrase() -> None:
    table = PhraseTable({"virginia": "VA", "west virginia": "WV", "new york": "NY"})
    found = table.find(tokens("west virginia or virginia new york"))
    assert [(m.start, m.end, m.value) for m in found] == [(0, 2, "WV"), (3, 4, "VA"), (4, 6, "NY")]


def test_phrase_table_refuses_unnormalised_phrases() -> None:
    with pytest.raises(ValueError, match="normalised"):
        PhraseTable({"West Virginia": "WV"})


@pytest.mark.parametrize(
    ("text", "start", "expected"),
    [
        ("i dont want to refinance", 4, True),
        ("not a refinance", 2, True),
        ("not , a refinance", 3, False),
        ("not this but a refinance", 4, False),
        ("i am not really looking at a refinance", 7, False),
    ],
)
def test_is_negated(text: str, start: int, expected: bool) -> None:
    words = text.split()
    assert is_negated(words, start, frozenset({"not", "dont"})) is expected


@pytest.mark.parametrize(
    "table",
    [loan_type.PHRASES, us_states.NAMES, credit_band.WORDS, yes_no.PHRASES],
    ids=["loan_type", "us_state", "credit_band", "yes_no"],
)
def test_phrase_tables_are_normalised(table: PhraseTable[str | None] | PhraseTable[str]) -> None:
    phrases = table.phrases()
    assert phrases
    assert all(normalize(p) == p for p in phrases)


def test_every_state_name_parses_to_its_code() -> None:
    parser = us_states.PARSER
    assert {parser.from_speech(name) for name in STATE_NAMES.values()} == set(STATE_NAMES)
    for code, name in STATE_NAMES.items():
        assert parser.from_speech(name) == code
        assert parser.from_speech(name.title()) == code
        assert parser.from_speech(code) == code


def test_zip_table_maps_only_to_states() -> None:
    assert set(ZIP3_TO_STATE.values()) == set(STATE_NAMES)
    assert all(len(prefix) == 3 and prefix.isdigit() for prefix in ZIP3_TO_STATE)
    for military_or_territory in ("006", "008", "009", "090", "099", "340", "962", "966", "969"):
        assert military_or_territory not in ZIP3_TO_STATE
    assert state_for_zip("75201-1234") is None
