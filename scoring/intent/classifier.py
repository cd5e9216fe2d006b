"""Inference: the fine-tuned intent model, loaded once per process, calibrated, batched.

``IntentClassifier.load(folder).predict(texts)`` returns one :class:`IntentPrediction` per text.
Logits are divided by the temperature fitted on dev, so a 0.9 means right about nine times in
ten. Many texts are batched by length.

The forward pass is chosen once at load (:mod:`scoring.intent.fast_forward`): traced, and in
bfloat16 where that is faster on this CPU and agrees with float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from scoring.intent.artifacts import ModelSettings, load_weights, read_settings
from scoring.intent.calibration import softmax
from scoring.intent.encoding import logits_of
from scoring.intent.fast_forward import ForwardPass, Precision, choose_forward, eager
from scoring.intent.labels import LABELS
from scoring.intent.prediction import IntentPrediction

BATCH_SIZE = 32
WINDOW_WORDS = 150
"""About 200 word pieces: inside the model's 256-token limit with room for long words."""


class IntentClassifier:
    """A loaded intent model; safe to call from several threads (nothing changes after load)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        settings: ModelSettings,
        forward: ForwardPass | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.forward = forward or eager(model)

    @classmethod
    def load(
        cls,
        folder: str | Path,
        threads: int | None = None,
        trace: bool = True,
        precision: Precision = "auto",
    ) -> IntentClassifier:
        """Load ``models/intent`` (or another folder written by ``warmline train intent``)."""
        path = Path(folder)
        settings = read_settings(path)
        if threads is not None:
            torch.set_num_threads(threads)
        model, tokenizer = load_weights(path)
        forward = choose_forward(model, tokenizer, settings.max_tokens, precision, trace)
        return cls(model, tokenizer, settings, forward)

    def logits(self, texts: Sequence[str]) -> Any:
        return logits_of(
            self.model,
            self.tokenizer,
            texts,
            BATCH_SIZE,
            self.settings.max_tokens,
            self.forward.run,
        )

    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]:
        """Calibrated probabilities for each text (an empty text reads as silence-like filler)."""
        if not texts:
            return []
        probabilities = softmax(self.logits([t or "..." for t in texts]), self.settings.temperature)
        return [
            IntentPrediction(dict(zip(LABELS, (float(p) for p in row), strict=True)))
            for row in probabilities
        ]

    def predict_long(self, text: str, window_words: int = WINDOW_WORDS) -> IntentPrediction:
        """A long text (a whole call's caller side): windows of ``window_words`` words, each
        classified, probabilities averaged by window length, so no part is cut off."""
        words = text.split()
        windows = [
            " ".join(words[start : start + window_words])
            for start in range(0, len(words), window_words)
        ] or [""]
        predictions = self.predict(windows)
        weights = [max(1, len(w.split())) for w in windows]
        total = sum(weights)
        return IntentPrediction(
            {
                label: sum(
                    p.probabilities[label] * w for p, w in zip(predictions, weights, strict=True)
                )
                / total
                for label in LABELS
            }
        )
