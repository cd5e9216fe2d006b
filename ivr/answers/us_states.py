"""US state slot: the property's state as a USPS code, 50 states plus DC.

Speech, in order of trust:

1. **Names and spoken variants** anywhere in the utterance, matched as whole words, longest
   first: "west virginia" before "virginia", "arkansas" is never "kansas", "washington dc" /
   "district of columbia" / "the district" are DC while "washington (state)" is WA, "jersey"
   is NJ, and common ASR misspellings ("conneticut", "massachusets", "tennesee" ...) count.
2. **Postal codes inside a sentence**, only for codes that are not English words or common
   abbreviations ("tx", "fl", "ny", "dc" ...). "va" is left out on purpose: in this business it
   is far more often a VA loan than Virginia.
3. **A bare postal code**: any code, including the word-like ones (in, or, me, oh, hi, ok, la,
   pa, de, co, al, ma, md, va ...), counts only when it *is* the answer once fillers are gone:
   "OH", "T.X.", "t x", "uh, it's in PA". "I'm in Ohio" is OH, never IN.
4. **A spoken ZIP code** ("seven five two oh one"), when nothing else named a state.

Negated states are dropped ("not Texas, Florida" -> FL). Two different states -> None, unless
exactly one of them follows a word about the property ("I live in Ohio but the property is in
Texas" -> TX).

Decisions worth knowing:
- "Kansas City" alone -> None: the metro straddles Kansas and Missouri (most of it is in
  Missouri), and a licensing decision must not rest on a guess. "Kansas City, Kansas" -> KS,
  "Kansas City, Missouri" -> MO. Likewise "Carolina" or "Dakota" alone -> None.
- Cities are not states, with three unambiguous exceptions: "new york city", "nyc" and
  "washington dc". "LA" alone follows the postal-code rule (Louisiana), as the spec requires.

Keypad: a five-digit ZIP code, by :mod:`ivr.answers.zip_codes`. Anything else is None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from ivr.answers.numbers import number_runs
from ivr.answers.text import (
    BOUNDARY,
    Match,
    PhraseTable,
    drop_fillers,
    drop_hesitations,
    is_negated,
    tokens,
)
from ivr.answers.zip_codes import state_for_zip

__all__ = ["PARSER", "STATE_NAMES", "US_STATES", "UsStateParser"]

STATE_NAMES: Final[Mapping[str, str]] = {
    "AL": "alabama",
    "AK": "alaska",
    "AZ": "arizona",
    "AR": "arkansas",
    "CA": "california",
    "CO": "colorado",
    "CT": "connecticut",
    "DE": "delaware",
    "DC": "district of columbia",
    "FL": "florida",
    "GA": "georgia",
    "HI": "hawaii",
    "ID": "idaho",
    "IL": "illinois",
    "IN": "indiana",
    "IA": "iowa",
    "KS": "kansas",
    "KY": "kentucky",
    "LA": "louisiana",
    "ME": "maine",
    "MD": "maryland",
    "MA": "massachusetts",
    "MI": "michigan",
    "MN": "minnesota",
    "MS": "mississippi",
    "MO": "missouri",
    "MT": "montana",
    "NE": "nebraska",
    "NV": "nevada",
    "NH": "new hampshire",
    "NJ": "new jersey",
    "NM": "new mexico",
    "NY": "new york",
    "NC": "north carolina",
    "ND": "north dakota",
    "OH": "ohio",
    "OK": "oklahoma",
    "OR": "oregon",
    "PA": "pennsylvania",
    "RI": "rhode island",
    "SC": "south carolina",
    "SD": "south dakota",
    "TN": "tennessee",
    "TX": "texas",
    "UT": "utah",
    "VT": "vermont",
    "VA": "virginia",
    "WA": "washington",
    "WV": "west virginia",
    "WI": "wisconsin",
    "WY": "wyoming",
}
"""USPS code -> canonical spoken name (normalised form)."""

US_STATES: Final[frozenset[str]] = frozenset(STATE_NAMES)

_VARIANTS: Final[Mapping[str, str | None]] = {
    # DC and Washington
    "washington dc": "DC",
    "washington district of columbia": "DC",
    "the district": "DC",
    "dc": "DC",
    "washington state": "WA",
    # nicknames and partial names
    "jersey": "NJ",
    "new york city": "NY",
    "new york state": "NY",
    "nyc": "NY",
    "cali": "CA",
    "mass": "MA",
    "n carolina": "NC",
    "s carolina": "SC",
    "n dakota": "ND",
    "s dakota": "SD",
    "road island": "RI",
    "ar kansas": "AR",
    # ASR and spelling slips
    "alabamma": "AL",
    "arizonia": "AZ",
    "arkansaw": "AR",
    "arkansa": "AR",
    "californa": "CA",
    "califonia": "CA",
    "conneticut": "CT",
    "connecticutt": "CT",
    "conecticut": "CT",
    "connetticut": "CT",
    "deleware": "DE",
    "delware": "DE",
    "flordia": "FL",
    "hawai": "HI",
    "illinoise": "IL",
    "illinios": "IL",
    "ilinois": "IL",
    "illnois": "IL",
    "indianna": "IN",
    "kentuckey": "KY",
    "kentucy": "KY",
    "louisianna": "LA",
    "lousiana": "LA",
    "louisana": "LA",
    "massachusets": "MA",
    "massachussets": "MA",
    "massachussetts": "MA",
    "masachusetts": "MA",
    "michagan": "MI",
    "minnesotta": "MN",
    "minesota": "MN",
    "missisippi": "MS",
    "mississipi": "MS",
    "missisipi": "MS",
    "missourri": "MO",
    "misouri": "MO",
    "new jersy": "NJ",
    "jersy": "NJ",
    "new hamshire": "NH",
    "pensylvania": "PA",
    "pennsylvannia": "PA",
    "pensilvania": "PA",
    "tennesee": "TN",
    "tenessee": "TN",
    "tenesee": "TN",
    "virgina": "VA",
    "west virgina": "WV",
    "wisconson": "WI",
    "wisconsen": "WI",
    # not a state on their own: matched so that nothing shorter matches inside them
    "kansas city": None,
    "carolina": None,
    "carolinas": None,
    "dakota": None,
    "dakotas": None,
}

_SAFE_CODES: Final[frozenset[str]] = frozenset(
    {"tx", "fl", "ny", "nj", "ca", "nc", "sc", "nv", "az", "nh", "nm", "wv", "ky", "tn"}
    | {"ct", "vt", "ri", "wy", "ak", "ks", "mn", "ia", "ga", "nd", "sd", "dc"}
)
"""Codes that may count inside a sentence: none is an English word or a mortgage term."""


def _name_entries() -> dict[str, str | None]:
    entries: dict[str, str | None] = {name: code for code, name in STATE_NAMES.items()}
    entries.update(_VARIANTS)
    entries.update({code: code.upper() for code in _SAFE_CODES})
    return entries


NAMES: Final[PhraseTable[str | None]] = PhraseTable(_name_entries())

NEGATORS: Final[frozenset[str]] = frozenset({"not", "isnt", "wasnt", "arent", "never"})
"""No "no": "no, Texas" corrects the question, it does not refuse Texas."""

PROPERTY_WORDS: Final[frozenset[str]] = frozenset(
    {"property", "properties", "house", "condo", "townhouse", "located", "buying", "purchasing"}
)
"""Words after which a state is where the property is ("I live in Ohio, the house is in TX")."""

_ANCHOR_WINDOW: Final = 5

_CODE_PREFIXES: Final[tuple[tuple[str, ...], ...]] = (
    ("in",),
    ("im", "in"),
    ("i", "am", "in"),
    ("i", "live", "in"),
    ("in", "the", "state", "of"),
    ("the", "state", "of"),
    ("state", "of"),
)


def _bare_code(words: Sequence[str]) -> str | None:
    """The code when the utterance is just a code, possibly after "in" or "the state of"."""
    bare = [w for w in drop_fillers(words) if w != BOUNDARY]
    if bare and bare[-1] == "state":
        bare.pop()
    candidates = [bare]
    candidates += [bare[len(p) :] for p in _CODE_PREFIXES if tuple(bare[: len(p)]) == p]
    for rest in candidates:
        if len(rest) == 1 and rest[0].upper() in US_STATES:
            return rest[0].upper()
    return None


def _property_state(words: Sequence[str], mentions: Sequence[Match[str | None]]) -> str | None:
    """The one state named right after a property word, when several states were named."""
    anchored: set[str] = set()
    floor = 0
    for m in mentions:
        lowest = max(floor, m.start - _ANCHOR_WINDOW)
        for i in range(m.start - 1, lowest - 1, -1):
            if words[i] == BOUNDARY:
                break
            if words[i] in PROPERTY_WORDS and m.value is not None:
                anchored.add(m.value)
                break
        floor = m.end
    return anchored.pop() if len(anchored) == 1 else None


class UsStateParser:
    """Reads the property's state."""

    name: str = "us_state"
    values: frozenset[str] | None = US_STATES

    def from_speech(self, text: str) -> str | None:
        words = drop_hesitations(tokens(text))
        mentions = NAMES.find(words)
        kept: list[Match[str | None]] = []
        floor = 0
        for m in mentions:
            if not is_negated(words, m.start, NEGATORS, floor=floor):
                kept.append(m)
            floor = m.end
        states = {m.value for m in kept if m.value is not None}
        if len(states) == 1:
            return states.pop()
        if len(states) > 1:
            return _property_state(words, kept)
        if mentions:  # only negated states, or "Kansas City" on its own
            return None
        code = _bare_code(words)
        if code is not None:
            return code
        runs = number_runs(words)
        if len(runs) == 1:
            return state_for_zip(runs[0])
        return None

    def from_digits(self, digits: str) -> str | None:
        """A five-digit ZIP code -> its state; menu digits are the flow's business."""
        return state_for_zip(digits)


PARSER: Final = UsStateParser()
