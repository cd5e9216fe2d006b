"""Table-driven tests of the answer parsers: speech and keypad reach the same slot values."""

from __future__ import annotations

import itertools

import pytest

from ivr.answers import PARSERS, SlotParser, get_parser
from ivr.answers.credit_band import SCORE_BANDS, band_for_score
from ivr.answers.us_states import US_STATES

pytestmark = pytest.mark.unit

LOAN_SPEECH: list[tuple[str, str | None]] = [
    # refinance
    ("refinance", "refinance"),
    ("Refinance.", "refinance"),
    ("REFINANCING", "refinance"),
    ("refi", "refinance"),
    ("re-fi", "refinance"),
    ("Re fi please", "refinance"),
    ("I want to lower my rate", "refinance"),
    ("uh, lower my payment", "refinance"),
    ("we'd like to lower our monthly payment", "refinance"),
    ("rate and term", "refinance"),
    ("a rate-and-term refi", "refinance"),
    ("I'm not sure, refinance I guess", "refinance"),
    ("no cash out, just a refinance", "refinance"),
    ("refinance without cash out", "refinance"),
    ("a streamline", "refinance"),
    # cash-out
    ("cash out", "cash_out"),
    ("cash-out refi", "cash_out"),
    ("Cash out refinance.", "cash_out"),
    ("I want to take some equity out", "cash_out"),
    ("take cash out of my house", "cash_out"),
    ("refinance and take cash out", "cash_out"),
    ("refinance, and pull some cash out", "cash_out"),
    ("get some money out of the house", "cash_out"),
    ("take out some of my equity", "cash_out"),
    # purchase
    ("purchase", "purchase"),
    ("I'm looking to buy a home", "purchase"),
    ("buy a house", "purchase"),
    ("we're buying a condo", "purchase"),
    ("first-time home buyer", "purchase"),
    ("a new home", "purchase"),
    ("I'm pre-approved to buy", "purchase"),
    ("not a refinance, a purchase", "purchase"),
    ("not a refinance a purchase", "purchase"),
    ("I don't want to refinance, I want to buy", "purchase"),
    # HELOC
    ("heloc", "heloc"),
    ("HELOC", "heloc"),
    ("h e l o c", "heloc"),
    ("H.E.L.O.C.", "heloc"),
    ("a home equity line of credit", "heloc"),
    ("home equity line", "heloc"),
    ("home equity loan", "heloc"),
    ("an equity line", "heloc"),
    ("I want a heloc, not a refinance", "heloc"),
    # reverse
    ("reverse mortgage", "reverse"),
    ("reverse", "reverse"),
    ("HECM", "reverse"),
    ("h e c m", "reverse"),
    ("um, I'm 68 and want a reverse mortgage", "reverse"),
    ("I don't want a reverse mortgage, I want a heloc", "heloc"),
    # no match
    ("I don't want to refinance", None),
    ("not a refinance", None),
    ("refinance or maybe a heloc", None),
    ("purchase or reverse", None),
    ("a mortgage", None),
    ("I don't know", None),
    ("", None),
    ("equity", None),
    ("cash out or a heloc", None),
]

STATE_SPEECH: list[tuple[str, str | None]] = [
    # names
    ("texas", "TX"),
    ("Texas.", "TX"),
    ("TEXAS", "TX"),
    ("uh it's in texas", "TX"),
    ("the property is in um florida", "FL"),
    ("I'm in Ohio", "OH"),
    ("California", "CA"),
    ("new york", "NY"),
    ("New Jersey", "NJ"),
    ("Jersey", "NJ"),
    ("new mexico", "NM"),
    ("New Hampshire", "NH"),
    ("north carolina", "NC"),
    ("South Carolina", "SC"),
    ("north dakota", "ND"),
    ("south dakota", "SD"),
    ("virginia", "VA"),
    ("West Virginia", "WV"),
    ("kansas", "KS"),
    ("arkansas", "AR"),
    ("Arkansas.", "AR"),
    ("rhode island", "RI"),
    ("Hawaii", "HI"),
    ("maine", "ME"),
    ("oregon", "OR"),
    ("indiana", "IN"),
    ("oklahoma", "OK"),
    ("Louisiana", "LA"),
    ("Pennsylvania", "PA"),
    # Washington and DC
    ("Washington", "WA"),
    ("washington state", "WA"),
    ("the state of Washington", "WA"),
    ("Washington DC", "DC"),
    ("Washington D.C.", "DC"),
    ("washington d c", "DC"),
    ("D C", "DC"),
    ("DC", "DC"),
    ("district of columbia", "DC"),
    ("the district", "DC"),
    ("it's in the district", "DC"),
    # postal codes
    ("TX", "TX"),
    ("tx", "TX"),
    ("T.X.", "TX"),
    ("t x", "TX"),
    ("F L", "FL"),
    ("n y", "NY"),
    ("uh, TX", "TX"),
    ("it's in T.X.", "TX"),
    ("the property is in tx", "TX"),
    ("PA", "PA"),
    ("it's in PA", "PA"),
    # word-like codes: only as the whole answer
    ("oh", "OH"),
    ("OH.", "OH"),
    ("in", "IN"),
    ("i n", "IN"),
    ("or", "OR"),
    ("me", "ME"),
    ("hi", "HI"),
    ("OK", "OK"),
    ("LA", "LA"),
    ("co", "CO"),
    ("md", "MD"),
    ("V.A.", "VA"),
    ("in me", "ME"),
    ("call me", None),
    ("ok so what now", None),
    ("hi I am calling about a loan", None),
    ("I live in a nice area", None),
    ("oh, Ohio", "OH"),
    ("a VA loan in texas", "TX"),
    # misspellings
    ("conneticut", "CT"),
    ("massachusets", "MA"),
    ("pensylvania", "PA"),
    ("tennesee", "TN"),
    ("missisippi", "MS"),
    ("louisianna", "LA"),
    ("illinoise", "IL"),
    ("arkansaw", "AR"),
    ("virgina", "VA"),
    ("west virgina", "WV"),
    ("road island", "RI"),
    # two states
    ("texas or oklahoma", None),
    ("I'm moving from Ohio to Texas", None),
    ("I live in Ohio but the property is in Texas", "TX"),
    ("the house is in Georgia, I live in Florida", "GA"),
    ("not texas, florida", "FL"),
    ("it's not in Virginia, it's in West Virginia", "WV"),
    ("texas, yes, texas", "TX"),
    # Kansas City and partial names
    ("kansas city", None),
    ("Kansas City, Kansas", "KS"),
    ("kansas city missouri", "MO"),
    ("carolina", None),
    ("dakota", None),
    # spoken ZIP
    ("seven five two oh one", "TX"),
    ("my zip is 10001", "NY"),
    # no match
    ("", None),
    ("I don't know", None),
    ("mexico", None),
    ("puerto rico", None),
    ("not texas", None),
]

STATE_DIGITS: list[tuple[str, str | None]] = [
    ("75201", "TX"),
    ("73301", "TX"),
    ("88510", "TX"),
    ("10001", "NY"),
    ("00501", "NY"),
    ("90210", "CA"),
    ("33101", "FL"),
    ("60601", "IL"),
    ("20001", "DC"),
    ("20500", "DC"),
    ("20147", "VA"),
    ("22201", "VA"),
    ("21201", "MD"),
    ("02108", "MA"),
    ("05501", "MA"),
    ("02903", "RI"),
    ("03301", "NH"),
    ("04101", "ME"),
    ("05401", "VT"),
    ("06103", "CT"),
    ("07102", "NJ"),
    ("19103", "PA"),
    ("19901", "DE"),
    ("25301", "WV"),
    ("27601", "NC"),
    ("29201", "SC"),
    ("30301", "GA"),
    ("39817", "GA"),
    ("35203", "AL"),
    ("37201", "TN"),
    ("39501", "MS"),
    ("40202", "KY"),
    ("43215", "OH"),
    ("46204", "IN"),
    ("48226", "MI"),
    ("50309", "IA"),
    ("53202", "WI"),
    ("55401", "MN"),
    ("57501", "SD"),
    ("58501", "ND"),
    ("59601", "MT"),
    ("64101", "MO"),
    ("66101", "KS"),
    ("68501", "NE"),
    ("70112", "LA"),
    ("72201", "AR"),
    ("73102", "OK"),
    ("80202", "CO"),
    ("82001", "WY"),
    ("83702", "ID"),
    ("84101", "UT"),
    ("85001", "AZ"),
    ("87101", "NM"),
    ("89101", "NV"),
    ("94103", "CA"),
    ("96813", "HI"),
    ("97201", "OR"),
    ("98101", "WA"),
    ("99501", "AK"),
    # territories, military, unassigned, malformed
    ("00601", None),
    ("00802", None),
    ("09001", None),
    ("34001", None),
    ("96201", None),
    ("96910", None),
    ("00000", None),
    ("26901", None),
    ("7520", None),
    ("752011", None),
    ("1", None),
    ("", None),
    ("7520a", None),
    ("75201#", None),
]

CREDIT_SPEECH: list[tuple[str, str | None]] = [
    # band words
    ("excellent", "excellent"),
    ("Excellent!", "excellent"),
    ("great", "excellent"),
    ("very good", "excellent"),
    ("exceptional", "excellent"),
    ("really good credit", "excellent"),
    ("good", "good"),
    ("it's good", "good"),
    ("decent", "good"),
    ("pretty good", "good"),
    ("I think it's pretty good", "good"),
    ("fair", "fair"),
    ("okay", "fair"),
    ("average", "fair"),
    ("not great", "fair"),
    ("so-so", "fair"),
    ("not bad", "fair"),
    ("bad", "poor"),
    ("poor", "poor"),
    ("terrible", "poor"),
    ("not good", "poor"),
    ("below average", "poor"),
    ("good, maybe excellent", None),
    ("bad or fair", None),
    # scores
    ("seven twenty", "good"),
    ("about seven twenty", "good"),
    ("seven hundred and sixty", "excellent"),
    ("six fifty", "fair"),
    ("around 800", "excellent"),
    ("five eighty", "fair"),
    ("five seventy nine", "poor"),
    ("seven two zero", "good"),
    ("seven oh five", "good"),
    ("720", "good"),
    ("my score is like 740", "excellent"),
    ("seven thirty nine", "good"),
    ("six sixty nine", "fair"),
    ("six seventy", "good"),
    ("eight fifty", "excellent"),
    ("three hundred", "poor"),
    ("five hundred", "poor"),
    ("eight hundred and fifty", "excellent"),
    ("uh, about six-forty", "fair"),
    ("oh, about 720", "good"),
    ("two late payments, score about 700", "good"),
    ("pretty good, around six eighty", "good"),
    ("excellent, like 650", "fair"),
    # ranges
    ("between six eighty and seven hundred", "good"),
    ("between six fifty and seven hundred", None),
    ("seven forty to seven sixty", "excellent"),
    ("seven twenty or seven thirty", "good"),
    # out of range, unknown
    ("two fifty", None),
    ("nine hundred", None),
    ("eight sixty", None),
    ("1000", None),
    ("seven", None),
    ("I don't know", None),
    ("no idea", None),
    ("", None),
]

CREDIT_DIGITS: list[tuple[str, str | None]] = [
    ("720", "good"),
    ("850", "excellent"),
    ("740", "excellent"),
    ("739", "good"),
    ("670", "good"),
    ("669", "fair"),
    ("580", "fair"),
    ("579", "poor"),
    ("300", "poor"),
    ("299", None),
    ("851", None),
    ("999", None),
    ("072", None),
    ("1", None),
    ("72", None),
    ("7200", None),
    ("", None),
    ("72#", None),
]

YES_NO_SPEECH: list[tuple[str, str | None]] = [
    ("yes", "yes"),
    ("Yes.", "yes"),
    ("YES!", "yes"),
    ("yeah", "yes"),
    ("yep", "yes"),
    ("yup", "yes"),
    ("sure", "yes"),
    ("correct", "yes"),
    ("that's right", "yes"),
    ("uh huh", "yes"),
    ("uh-huh", "yes"),
    ("mm-hmm", "yes"),
    ("absolutely", "yes"),
    ("of course", "yes"),
    ("please do", "yes"),
    ("okay", "yes"),
    ("yeah, that's correct", "yes"),
    ("I think so", "yes"),
    ("no", "no"),
    ("No.", "no"),
    ("nope", "no"),
    ("nah", "no"),
    ("not really", "no"),
    ("no thanks", "no"),
    ("No, thank you.", "no"),
    ("I don't", "no"),
    ("negative", "no"),
    ("of course not", "no"),
    ("absolutely not", "no"),
    ("that's not right", "no"),
    ("I don't think so", "no"),
    ("I agree", "yes"),
    ("yes, I agree", "yes"),
    ("I consent", "yes"),
    ("I don't agree", "no"),
    ("I do not agree", "no"),
    ("I disagree", "no"),
    ("don't record me", "no"),
    ("yes no", None),
    ("yeah, no", None),
    ("I don't know", None),
    ("not sure", None),
    ("maybe", None),
    ("hello?", None),
    ("", None),
]

DIGITS_SPEECH: list[tuple[str, str | None]] = [
    ("five five five one two one two", "5551212"),
    ("Five, five, five. One two one two.", "5551212"),
    ("five five five uh one two one two", "5551212"),
    ("oh", "0"),
    ("seven five two oh one", "75201"),
    ("seven five two o one", "75201"),
    ("double five", "55"),
    ("triple seven", "777"),
    ("double oh seven", "007"),
    ("75201", "75201"),
    ("75 201", "75201"),
    ("seventy five two oh one", "75201"),
    ("nine eleven", "911"),
    ("twenty one", "21"),
    ("zero", "0"),
    ("one eight hundred", "1800"),
    ("it's 2 1 2", "212"),
    ("hello", None),
    ("", None),
    ("no", None),
]

DIGITS_KEYPAD: list[tuple[str, str | None]] = [
    ("1", "1"),
    ("0", "0"),
    ("75201", "75201"),
    ("0123456789", "0123456789"),
    ("", None),
    ("12#", None),
    ("*9", None),
    ("12 3", None),
    ("١٢٣", None),
]

KEYPAD_IS_FLOW_BUSINESS: list[tuple[str, str]] = [
    ("loan_type", "1"),
    ("loan_type", "5"),
    ("yes_no", "1"),
    ("yes_no", "2"),
    ("credit_band", "1"),
]

SAME_SLOT_BOTH_WAYS: list[tuple[str, str, str, str]] = [
    ("us_state", "75201", "texas", "TX"),
    ("us_state", "75201", "seven five two oh one", "TX"),
    ("us_state", "20001", "Washington D.C.", "DC"),
    ("us_state", "98101", "Washington state", "WA"),
    ("us_state", "43215", "oh", "OH"),
    ("us_state", "46204", "Indiana", "IN"),
    ("credit_band", "720", "seven twenty", "good"),
    ("credit_band", "760", "seven hundred and sixty", "excellent"),
    ("credit_band", "650", "six fifty", "fair"),
    ("credit_band", "550", "bad", "poor"),
    ("digits", "5551212", "five five five one two one two", "5551212"),
    ("digits", "02108", "oh two one oh eight", "02108"),
]


@pytest.mark.parametrize(("text", "expected"), LOAN_SPEECH)
def test_loan_type_from_speech(text: str, expected: str | None) -> None:
    assert get_parser("loan_type").from_speech(text) == expected


@pytest.mark.parametrize(("text", "expected"), STATE_SPEECH)
def test_us_state_from_speech(text: str, expected: str | None) -> None:
    assert get_parser("us_state").from_speech(text) == expected


@pytest.mark.parametrize(("digits", "expected"), STATE_DIGITS)
def test_us_state_from_zip(digits: str, expected: str | None) -> None:
    assert get_parser("us_state").from_digits(digits) == expected


@pytest.mark.parametrize(("text", "expected"), CREDIT_SPEECH)
def test_credit_band_from_speech(text: str, expected: str | None) -> None:
    assert get_parser("credit_band").from_speech(text) == expected


@pytest.mark.parametrize(("digits", "expected"), CREDIT_DIGITS)
def test_credit_band_from_digits(digits: str, expected: str | None) -> None:
    assert get_parser("credit_band").from_digits(digits) == expected


@pytest.mark.parametrize(("text", "expected"), YES_NO_SPEECH)
def test_yes_no_from_speech(text: str, expected: str | None) -> None:
    assert get_parser("yes_no").from_speech(text) == expected


@pytest.mark.parametrize(("text", "expected"), DIGITS_SPEECH)
def test_digits_from_speech(text: str, expected: str | None) -> None:
    assert get_parser("digits").from_speech(text) == expected


@pytest.mark.parametrize(("digits", "expected"), DIGITS_KEYPAD)
def test_digits_from_keypad(digits: str, expected: str | None) -> None:
    assert get_parser("digits").from_digits(digits) == expected


@pytest.mark.parametrize(("name", "digits"), KEYPAD_IS_FLOW_BUSINESS)
def test_menu_digits_are_left_to_the_flow(name: str, digits: str) -> None:
    assert get_parser(name).from_digits(digits) is None


@pytest.mark.parametrize(("name", "digits", "text", "expected"), SAME_SLOT_BOTH_WAYS)
def test_keypad_and_speech_reach_the_same_value(
    name: str, digits: str, text: str, expected: str
) -> None:
    parser = get_parser(name)
    assert parser.from_digits(digits) == expected
    assert parser.from_speech(text) == expected


TABLES: dict[str, list[tuple[str, str | None]]] = {
    "loan_type": LOAN_SPEECH,
    "us_state": STATE_SPEECH + STATE_DIGITS,
    "credit_band": CREDIT_SPEECH + CREDIT_DIGITS,
    "yes_no": YES_NO_SPEECH,
}
ALL_INPUTS: list[str] = sorted(
    {text for table in (*TABLES.values(), DIGITS_SPEECH, DIGITS_KEYPAD) for text, _ in table}
)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_values_cover_everything_the_parser_returns(name: str) -> None:
    parser = get_parser(name)
    assert parser.values is not None
    expected = {value for _, value in TABLES[name] if value is not None}
    assert expected <= parser.values
    for text in ALL_INPUTS:  # every utterance of every table, through every closed parser
        for result in (parser.from_speech(text), parser.from_digits(text)):
            assert result is None or result in parser.values, (text, result)


def test_closed_value_sets_are_the_documented_ones() -> None:
    assert PARSERS["loan_type"].values == frozenset(
        {"refinance", "cash_out", "purchase", "heloc", "reverse"}
    )
    assert PARSERS["credit_band"].values == frozenset({"excellent", "good", "fair", "poor"})
    assert PARSERS["yes_no"].values == frozenset({"yes", "no"})
    assert PARSERS["digits"].values is None
    assert PARSERS["free_text"].values is None
    assert len(US_STATES) == 51
    assert "DC" in US_STATES
    assert all(len(code) == 2 and code.isupper() for code in US_STATES)


def test_registry_names_match_parsers() -> None:
    assert sorted(PARSERS) == [
        "credit_band",
        "digits",
        "free_text",
        "loan_type",
        "us_state",
        "yes_no",
    ]
    for name, parser in PARSERS.items():
        assert parser.name == name
        checked: SlotParser = parser
        assert get_parser(name) is checked


def test_unknown_parser_is_a_clear_key_error() -> None:
    with pytest.raises(
        KeyError, match=r"unknown slot parser 'zipcode'.*known parsers: credit_band"
    ):
        get_parser("zipcode")


def test_score_table_covers_300_to_850_without_gaps() -> None:
    ordered = sorted(SCORE_BANDS, key=lambda row: row[1])
    assert ordered[0][1] == 300
    assert ordered[-1][2] == 850
    for (_, _, high), (_, low, _) in itertools.pairwise(ordered):
        assert low == high + 1
    assert [band_for_score(s) for s in (299, 300, 579, 580, 669, 670, 739, 740, 850, 851)] == [
        None,
        "poor",
        "poor",
        "fair",
        "fair",
        "good",
        "good",
        "excellent",
        "excellent",
        None,
    ]
