"""What the classifier says about one text: calibrated probabilities over the five labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scoring.intent.labels import LABELS, Label


@dataclass(frozen=True)
class IntentPrediction:
    """Calibrated probabilities for every label (they sum to 1) and the most likely one."""

    probabilities: Mapping[Label, float]

    @property
    def label(self) -> Label:
        return max(LABELS, key=lambda name: self.probabilities[name])

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]
