"""Inference: the fine-tuned intent model, loaded once per process, calibrated, batched.

``IntentClassifier.load(folder).predict(texts)`` returns one :class:`IntentPrediction` per text.
Logits are divided by the temperature fitted on dev, so a 0.9 means right about nine times in
ten. A single short text skips padding and batching; many are batched by length.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from scoring.intent.artifacts import ModelSettings, load_weights, read_settings
from scoring.intent.calibration import softmax
from scoring.intent.encoding import logits_of
from scoring.intent.labels import LABELS
from scoring.intent.prediction import IntentPrediction

BATCH_SIZE = 32


class IntentClassifier:
    """A loaded intent model; thread-safe for inference (no state changes after load)."""

    def __init__(self, model: Any, tokenizer: Any, settings: ModelSettings) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings

    @classmethod
    def load(cls, folder: str | Path, threads: int | None = None) -> IntentClassifier:
        """Load ``models/intent`` (or another folder written by ``warmline train intent``)."""
        path = Path(folder)
        settings = read_settings(path)
        if threads is not None:
            torch.set_num_threads(threads)
        model, tokenizer = load_weights(path)
        return cls(model, tokenizer, settings)

    def logits(self, texts: Sequence[str]) -> Any:
        return logits_of(self.model, self.tokenizer, texts, BATCH_SIZE, self.settings.max_tokens)

    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]:
        """Calibrated probabilities for each text (an empty text reads as silence-like filler)."""
        if not texts:
            return []
        probabilities = softmax(self.logits([t or "..." for t in texts]), self.settings.temperature)
        return [
            IntentPrediction(dict(zip(LABELS, (float(p) for p in row), strict=True)))
            for row in probabilities
        ]
