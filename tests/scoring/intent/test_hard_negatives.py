"""The public banking rows and how they map onto Warmline's labels."""

from __future__ import annotations

from collections import Counter

import pytest

from scoring.intent.hard_negatives import (
    BANKING77_PER_CATEGORY,
    NLUPP_OVERRIDES,
    banking77_rows,
    nlupp_label,
    nlupp_rows,
)
from tests.support.data import shared_data

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "intents", "label"),
    [
        (
            "When exactly is my next mortgage payment due?",
            ["mortgage", "transfer_payment_deposit", "when"],
            "servicing",
        ),
        ("i want to get a mortgage.", ["make_open_apply_setup_get_activate", "mortgage"], "ready"),
        (
            "I need more info on your loan rates and fees",
            ["fees_interests", "loan", "request_info"],
            "shopping",
        ),
        ("tell me about mortgages", ["mortgage", "request_info"], "researching"),
        ("It's about a student loan", ["loan"], "not_interested"),
        ("No, it's not a mortgage", ["deny", "mortgage"], "not_interested"),
        ("thanks a lot", ["thank"], "not_interested"),
        ("its a mortgage", ["mortgage"], None),
        ("my card was declined", ["card", "wrong_notworking_notshowing"], None),
    ],
)
def test_nlupp_rules(text: str, intents: list[str], label: str | None) -> None:
    assert nlupp_label(text, intents) == label


def test_nlupp_rows_apply_the_hand_read_overrides() -> None:
    rows = {row.id: row for row in nlupp_rows(shared_data() / "nlupp_banking")}
    for row_id, label in NLUPP_OVERRIDES.items():
        if label is None:
            assert row_id not in rows
        else:
            assert rows[row_id].label == label
    assert {row.source for row in rows.values()} == {"nlupp_banking"}
    counts = Counter(row.label for row in rows.values())
    assert counts["servicing"] > 30 and counts["researching"] > 25 and counts["ready"] >= 5


def test_banking77_gives_a_fixed_sample_per_category() -> None:
    rows = banking77_rows(shared_data() / "banking77")
    assert len(rows) == 77 * BANKING77_PER_CATEGORY
    assert {row.label for row in rows} == {"not_interested"}
    assert rows == banking77_rows(shared_data() / "banking77")
