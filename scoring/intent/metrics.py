"""Classification metrics: per-label precision/recall/F1, macro-F1, confusion, calibration error.

Plain NumPy over label indices and probability rows, so the fine-tuned model, the frozen-encoder
baseline and the majority-class floor are all measured by the same code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.intent.labels import LABELS

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class LabelScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Report:
    """How well predicted probabilities match the true labels of one set of rows."""

    rows: int
    accuracy: float
    macro_f1: float
    per_label: dict[str, LabelScores]
    confusion: list[list[int]]
    """``confusion[true][predicted]``, in :data:`LABELS` order."""
    ece: float
    """Expected calibration error of the top label, over equal-width confidence bins."""
    nll: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(truth: npt.ArrayLike, probabilities: npt.ArrayLike) -> Report:
    """Score probability rows (one per example, :data:`LABELS` order) against true indices."""
    y = np.asarray(truth, dtype=np.int64)
    p = np.asarray(probabilities, dtype=np.float64)
    predicted = p.argmax(axis=1)
    size = len(LABELS)
    confusion = np.zeros((size, size), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    per_label: dict[str, LabelScores] = {}
    for index, label in enumerate(LABELS):
        hits = int(confusion[index, index])
        said = int(confusion[:, index].sum())
        support = int(confusion[index].sum())
        precision = hits / said if said else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = LabelScores(precision, recall, f1, support)
    present = [s.f1 for s in per_label.values() if s.support]
    picked = p[np.arange(len(y)), y] if len(y) else np.array([])
    return Report(
        rows=len(y),
        accuracy=float((predicted == y).mean()) if len(y) else 0.0,
        macro_f1=float(np.mean(present)) if present else 0.0,
        per_label=per_label,
        confusion=confusion.tolist(),
        ece=expected_calibration_error(y, p),
        nll=float(-np.log(np.clip(picked, 1e-12, 1.0)).mean()) if len(y) else 0.0,
    )


def expected_calibration_error(
    truth: npt.NDArray[np.int64], probabilities: npt.NDArray[np.float64]
) -> float:
    """Σ over bins of (share of rows) × |accuracy − mean confidence| for the top label."""
    if not len(truth):
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, CALIBRATION_BINS - 1)
    error = 0.0
    for b in range(CALIBRATION_BINS):
        members = bins == b
        if members.any():
            gap = abs(correct[members].mean() - confidence[members].mean())
            error += members.mean() * gap
    return float(error)


def format_report(report: Report, title: str) -> str:
    """The report as a fixed-width table, as ``warmline eval intent`` prints it."""
    width = max(len(label) for label in LABELS)
    lines = [
        f"{title}: {report.rows} rows",
        f"  {'label':<{width}}  precision  recall     f1  support",
    ]
    for label, s in report.per_label.items():
        lines.append(
            f"  {label:<{width}}  {s.precision:9.3f}  {s.recall:6.3f}  {s.f1:5.3f}  {s.support:7d}"
        )
    lines.append(
        f"  macro-F1 {report.macro_f1:.3f}   accuracy {report.accuracy:.3f}   "
        f"calibration error (ECE) {report.ece:.3f}   NLL {report.nll:.3f}"
    )
    short = [label[:6] for label in LABELS]
    lines.append("  confusion (rows: true, columns: predicted)")
    lines.append(f"  {'':<{width}}  " + " ".join(f"{s:>6}" for s in short))
    for label, counts in zip(LABELS, report.confusion, strict=True):
        lines.append(f"  {label:<{width}}  " + " ".join(f"{c:6d}" for c in counts))
    return "\n".join(lines)


def majority_probabilities(train_truth: npt.ArrayLike, rows: int) -> npt.NDArray[np.float64]:
    """The floor every model must clear: always the most common training label."""
    counts = np.bincount(np.asarray(train_truth, dtype=np.int64), minlength=len(LABELS))
    probabilities = np.zeros((rows, len(LABELS)))
    probabilities[:, int(counts.argmax())] = 1.0
    return probabilities
