"""Near-duplicate detection: fillers, case and punctuation do not make a new utterance."""

from __future__ import annotations

import pytest

from scoring.intent.near_duplicates import clusters, cross_pairs, near_duplicate_pairs, normalise

pytestmark = pytest.mark.unit


def test_normalising_drops_case_punctuation_and_fillers() -> None:
    assert normalise("Um, I want to RE-finance... uh, you know?") == [
        "i",
        "want",
        "to",
        "re",
        "finance",
        "you",
        "know",
    ]


def test_a_copy_with_fillers_and_a_changed_word_is_a_near_duplicate() -> None:
    texts = [
        "i want to refinance my house and get a lower rate this month",
        "Um, I want to refinance my house and, uh, get a lower rate this month!",
        "i want to refinance my home and get a lower rate this month",
        "what is the payoff amount on my heloc",
    ]
    pairs = {(i, j) for i, j, _ in near_duplicate_pairs(texts)}
    assert pairs == {(0, 1), (0, 2), (1, 2)}


def test_different_requests_with_shared_words_are_not_near_duplicates() -> None:
    texts = ["i want a quote for a refinance", "i want to stop paying my refinance"]
    assert near_duplicate_pairs(texts) == []


def test_chains_of_near_duplicates_form_one_cluster() -> None:
    texts = [
        "we got the house under contract and need a loan",
        "we got the house under contract and need a loan fast",
        "we got the house under contract and need a loan fast please",
        "stop calling me",
    ]
    group = clusters(texts)
    assert group[0] == group[1] == group[2] != group[3]


def test_cross_pairs_only_pair_across_the_two_lists() -> None:
    left = ["stop calling this number", "stop calling this number now"]
    right = ["Stop calling this number!", "what are your rates"]
    assert [(i, j) for i, j, _ in cross_pairs(left, right)] == [(0, 0), (1, 0)]
