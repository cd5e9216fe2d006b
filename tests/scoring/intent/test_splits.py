"""How rows are dealt into splits: shares per label, groups kept whole, held-out twins to test."""

from __future__ import annotations

from collections import Counter

import pytest

from scoring.intent.dataset import Utterance
from scoring.intent.splits import assign_splits

pytestmark = pytest.mark.unit


def _rows(label: str, count: int) -> list[Utterance]:
    return [Utterance(f"{label} caller number {i} says thing {i * 7}", label) for i in range(count)]  # type: ignore[arg-type]


@pytest.mark.parametrize(("label", "total"), [("ready", 50), ("servicing", 30)])
def test_each_label_is_dealt_eighty_ten_ten(label: str, total: int) -> None:
    counts = Counter(r.split for r in assign_splits(_rows(label, total)))
    assert counts == {"train": total * 8 // 10, "dev": total // 10, "test": total // 10}


def test_near_duplicates_land_in_one_split() -> None:
    twins = [
        Utterance("we got the offer accepted and need the loan started now", "ready"),
        Utterance("um we got the offer accepted and need the loan started now", "ready"),
    ]
    dealt = assign_splits(twins + _rows("ready", 40))
    assert dealt[0].split == dealt[1].split


def test_a_row_like_a_held_out_one_is_never_trained_on() -> None:
    rows = _rows("ready", 40)
    held_out = [rows[3].text + " okay", rows[17].text]
    dealt = assign_splits(rows, held_out=held_out)
    assert (dealt[3].split, dealt[17].split) == ("test", "test")
    assert assign_splits(rows) == assign_splits(rows)  # deterministic
