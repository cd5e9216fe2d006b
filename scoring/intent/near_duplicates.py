"""Near-duplicate detection, so no utterance is tested on a paraphrase of one it trained on.

Two texts are near-duplicates when their word unigram+bigram sets overlap by a Jaccard index of
at least :data:`THRESHOLD` after normalisation (lowercase, no punctuation, no filler words): it
catches copies that differ by an "um", a comma, a number or a word or two. Computed as one sparse
matrix product, so a few thousand rows take well under a second.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import numpy as np
from scipy import sparse

THRESHOLD = 0.7
FILLERS = frozenset({"um", "uh", "uhm", "erm", "er", "ah", "hmm", "mm", "like", "yeah", "so"})
_WORD = re.compile(r"[a-z0-9']+")


def normalise(text: str) -> list[str]:
    """The words that matter for similarity: lowercase, no punctuation, no fillers."""
    words = _WORD.findall(text.lower().replace("-", " "))
    return [w for w in words if w not in FILLERS]


def shingles(text: str) -> frozenset[str]:
    words = normalise(text)
    return frozenset(words) | frozenset(f"{a} {b}" for a, b in itertools.pairwise(words))


def similarity_matrix(texts: Sequence[str]) -> sparse.csr_matrix:
    """Pairwise Jaccard similarity of the texts' shingle sets (upper triangle, sparse)."""
    vocabulary: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for index, text in enumerate(texts):
        for shingle in shingles(text):
            rows.append(index)
            cols.append(vocabulary.setdefault(shingle, len(vocabulary)))
    data = np.ones(len(rows), dtype=np.float32)
    matrix = sparse.csr_matrix((data, (rows, cols)), shape=(len(texts), max(len(vocabulary), 1)))
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    overlap = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    union = sizes[overlap.row] + sizes[overlap.col] - overlap.data
    jaccard = np.divide(overlap.data, union, out=np.zeros_like(overlap.data), where=union > 0)
    return sparse.csr_matrix((jaccard, (overlap.row, overlap.col)), shape=(len(texts),) * 2)


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = THRESHOLD
) -> list[tuple[int, int, float]]:
    """Index pairs ``(i, j)``, ``i < j``, whose similarity is at least ``threshold``."""
    matrix = similarity_matrix(texts).tocoo()
    keep = matrix.data >= threshold
    return sorted(
        (int(i), int(j), float(s))
        for i, j, s in zip(matrix.row[keep], matrix.col[keep], matrix.data[keep], strict=True)
    )


def clusters(texts: Sequence[str], threshold: float = THRESHOLD) -> list[int]:
    """A cluster id per text: near-duplicates (and chains of them) share one."""
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in near_duplicate_pairs(texts, threshold):
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(len(texts))]


def cross_pairs(
    left: Sequence[str], right: Sequence[str], threshold: float = THRESHOLD
) -> list[tuple[int, int, float]]:
    """Near-duplicate pairs with one text from each list: ``(index in left, index in right)``."""
    texts = [*left, *right]
    offset = len(left)
    return [
        (i, j - offset, s) for i, j, s in near_duplicate_pairs(texts, threshold) if i < offset <= j
    ]
