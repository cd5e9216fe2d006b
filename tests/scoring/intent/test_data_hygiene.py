"""The committed intent data: enough of it, balanced, varied, and no leaks between splits."""

from __future__ import annotations

from collections import Counter

import pytest
from click.testing import CliRunner

from ivr.cli import main
from scoring.intent.dataset import Utterance
from scoring.intent.labels import LABELS
from scoring.intent.near_duplicates import cross_pairs
from scoring.intent.splits import SPLITS, read_challenge, read_split
from tests.support.data import shared_data

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def splits() -> dict[str, list[Utterance]]:
    return {name: read_split(name) for name in SPLITS}


def _ours(splits: dict[str, list[Utterance]]) -> list[Utterance]:
    return [r for rows in splits.values() for r in rows if r.source == "warmline"]


def test_at_least_2000_written_utterances_balanced_across_labels(
    splits: dict[str, list[Utterance]],
) -> None:
    counts = Counter(r.label for r in _ours(splits))
    assert sum(counts.values()) >= 2000
    assert set(counts) == set(LABELS)
    assert max(counts.values()) <= 1.2 * min(counts.values())


def test_every_label_but_not_interested_covers_every_loan_type(
    splits: dict[str, list[Utterance]],
) -> None:
    for label in ("ready", "shopping", "researching"):
        loan_types = Counter(r.loan_type for r in _ours(splits) if r.label == label)
        for loan_type in ("purchase", "refinance", "cash_out", "heloc", "reverse"):
            assert loan_types[loan_type] >= 40, (label, loan_type)


def test_callers_speak_for_themselves_and_for_others(splits: dict[str, list[Utterance]]) -> None:
    for label in LABELS:
        speakers = Counter(r.speaker for r in _ours(splits) if r.label == label)
        assert speakers["on_behalf"] >= 0.12 * sum(speakers.values()), label


def test_every_split_has_every_label_in_proportion(splits: dict[str, list[Utterance]]) -> None:
    total = sum(len(rows) for rows in splits.values())
    assert len(splits["train"]) / total == pytest.approx(0.8, abs=0.02)
    for name in ("dev", "test"):
        labels = Counter(r.label for r in splits[name])
        assert set(labels) == set(LABELS) and min(labels.values()) >= 30, name


@pytest.mark.parametrize(("left", "right"), [("train", "dev"), ("train", "test"), ("dev", "test")])
def test_no_near_duplicates_across_splits(
    splits: dict[str, list[Utterance]], left: str, right: str
) -> None:
    pairs = cross_pairs([r.text for r in splits[left]], [r.text for r in splits[right]])
    leaks = [(splits[left][i].text, splits[right][j].text) for i, j, _ in pairs]
    assert leaks == []


def test_the_challenge_set_is_held_out_and_balanced(splits: dict[str, list[Utterance]]) -> None:
    challenge = read_challenge()
    assert Counter(r.label for r in challenge) == dict.fromkeys(LABELS, 80)
    trained = [r.text for r in splits["train"]]
    assert cross_pairs(trained, [r.text for r in challenge]) == []


def test_the_committed_splits_are_what_the_sources_build() -> None:
    result = CliRunner().invoke(
        main, ["data", "intent-splits", "--check", "--shared-data", str(shared_data())]
    )
    assert result.exit_code == 0, result.output
    assert "splits are current" in result.output
