"""The fixed train/dev/test splits: built once from the sources, committed, checked by tests.

Near-duplicates (see :mod:`scoring.intent.near_duplicates`) are grouped first and a group always
lands in one split, so a paraphrase in test never has its twin in train. Groups are ordered by a
hash of their text and dealt per label to whichever split is furthest below its share: the same
sources always give the same splits, with no random state to keep.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from scoring.intent.dataset import Utterance, read_utterances, write_utterances
from scoring.intent.hard_negatives import banking77_rows, nlupp_rows
from scoring.intent.labels import LABELS
from scoring.intent.near_duplicates import clusters, cross_pairs

SPLITS = ("train", "dev", "test")
SHORT_GOALS = "short_goals.jsonl"
"""Answers of a few words to the flow's own question ("in a few words, what would you like to
do?"), every label in one file: the long written rows alone left terse goals misread."""
SHARES = {"train": 0.8, "dev": 0.1, "test": 0.1}
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
"""``scoring/data``: the written utterances, the splits, the challenge set, the datasheet."""


@dataclass(frozen=True)
class Sources:
    """Where each part of the dataset is read from."""

    written: Path
    shared_data: Path

    @classmethod
    def default(cls, shared_data: Path) -> Sources:
        return cls(written=DATA_DIR / "written", shared_data=shared_data)


def source_rows(sources: Sources) -> list[Utterance]:
    """Every labelled row before splitting: ours first, then the mapped public rows."""
    rows: list[Utterance] = []
    for label in LABELS:
        written = read_utterances(sources.written / f"{label}.jsonl", default_source="warmline")
        rows.extend(
            replace(row, id=row.id or f"warmline-{label}-{index}")
            for index, row in enumerate(written)
        )
    short = read_utterances(sources.written / SHORT_GOALS, default_source="warmline")
    rows.extend(replace(row, id=row.id or f"warmline-short-{i}") for i, row in enumerate(short))
    rows.extend(nlupp_rows(sources.shared_data / "nlupp_banking"))
    rows.extend(banking77_rows(sources.shared_data / "banking77"))
    return rows


def assign_splits(rows: Sequence[Utterance], held_out: Sequence[str] = ()) -> list[Utterance]:
    """The rows with ``split`` set, near-duplicate groups kept together, shares kept per label.

    A group with a near-duplicate in ``held_out`` (the challenge set's texts) goes to test: it
    must never be trained on, and test is held out too.
    """
    group_of = clusters([row.text for row in rows])
    pinned = {group_of[i] for i, _, _ in cross_pairs([r.text for r in rows], held_out)}
    groups: dict[int, list[int]] = defaultdict(list)
    for index, group in enumerate(group_of):
        groups[group].append(index)
    by_label: dict[str, list[list[int]]] = defaultdict(list)
    for members in groups.values():
        by_label[rows[members[0]].label].append(members)
    split_of: dict[int, str] = {}
    for label in LABELS:
        counts = dict.fromkeys(SPLITS, 0)
        ordered = sorted(
            by_label[label], key=lambda m: (group_of[m[0]] not in pinned, _group_key(rows, m))
        )
        for members in ordered:
            total = sum(counts.values()) + len(members)
            if group_of[members[0]] in pinned:
                chosen = "test"
            else:
                chosen = max(SPLITS, key=lambda s: SHARES[s] * total - counts[s])
            counts[chosen] += len(members)
            split_of.update(dict.fromkeys(members, chosen))
    return [replace(row, split=split_of[index]) for index, row in enumerate(rows)]


def write_splits(rows: Sequence[Utterance], folder: Path) -> dict[str, int]:
    """One JSON Lines file per split; returns the row count of each."""
    return {
        split: write_utterances(folder / f"{split}.jsonl", (r for r in rows if r.split == split))
        for split in SPLITS
    }


def read_split(name: str, folder: Path | None = None) -> list[Utterance]:
    """A committed split (``train``, ``dev`` or ``test``)."""
    return read_utterances((folder or DATA_DIR / "splits") / f"{name}.jsonl")


def read_challenge() -> list[Utterance]:
    """Held-out text written differently, by another author: never trained or tuned on."""
    return read_utterances(DATA_DIR / "challenge.jsonl", default_source="challenge")


def _group_key(rows: Sequence[Utterance], members: list[int]) -> str:
    first = min(rows[i].text for i in members)
    return hashlib.sha256(first.encode()).hexdigest()
