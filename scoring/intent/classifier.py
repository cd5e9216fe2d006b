"""Inference: the fine-tuned intent model, loaded once per process, calibrated, batched.

``IntentClassifier.load(folder).predict(texts)`` returns one :class:`IntentPrediction` per text.
Logits are divided by the temperature fitted on dev, so a 0.9 means right about nine times in
ten. Many texts are batched by length.

A short answer costs little arithmetic, so most of an eager forward pass is Python dispatch:
the model is traced once at load (TorchScript) and the trace is checked against the eager model
on texts of several lengths and a padded batch; if they disagree, the eager model is used.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from scoring.intent.artifacts import ModelSettings, load_weights, read_settings
from scoring.intent.base_model import quiet_transformers
from scoring.intent.calibration import softmax
from scoring.intent.encoding import encode, logits_of
from scoring.intent.labels import LABELS
from scoring.intent.prediction import IntentPrediction

log = logging.getLogger(__name__)

BATCH_SIZE = 32
WINDOW_WORDS = 150
"""About 200 word pieces: inside the model's 256-token limit with room for long words."""
TRACE_TOLERANCE = 1e-4
_PROBES = (
    "hello",
    "i want a quote on a thirty year fixed refinance",
    "my mom got a letter about her reverse mortgage and the escrow and she does not know if she "
    "has to pay it or the lender does",
)

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class IntentClassifier:
    """A loaded intent model; safe to call from several threads (nothing changes after load)."""

    def __init__(
        self, model: Any, tokenizer: Any, settings: ModelSettings, forward: Forward | None = None
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.forward = forward or _eager(model)

    @classmethod
    def load(
        cls, folder: str | Path, threads: int | None = None, trace: bool = True
    ) -> IntentClassifier:
        """Load ``models/intent`` (or another folder written by ``warmline train intent``)."""
        path = Path(folder)
        settings = read_settings(path)
        if threads is not None:
            torch.set_num_threads(threads)
        model, tokenizer = load_weights(path)
        forward = traced_forward(model, tokenizer, settings.max_tokens) if trace else None
        return cls(model, tokenizer, settings, forward)

    def logits(self, texts: Sequence[str]) -> Any:
        return logits_of(
            self.model, self.tokenizer, texts, BATCH_SIZE, self.settings.max_tokens, self.forward
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


def _eager(model: Any) -> Forward:
    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = model(input_ids=ids, attention_mask=mask).logits
        return logits

    return forward


def traced_forward(model: Any, tokenizer: Any, max_tokens: int) -> Forward | None:
    """A TorchScript trace of the model, or None when it does not match the eager model."""
    eager = _eager(model)
    example = encode(tokenizer, [_PROBES[1]], max_tokens)
    try:
        with torch.inference_mode(), warnings.catch_warnings(), quiet_transformers():
            warnings.simplefilter("ignore")  # tracer notes about Python branches it froze
            traced = torch.jit.trace(  # type: ignore[no-untyped-call]
                model, (example["input_ids"], example["attention_mask"]), strict=False
            )
            probes = [[text] for text in _PROBES] + [list(_PROBES)]
            for texts in probes:
                batch = encode(tokenizer, texts, max_tokens)
                ids, mask = batch["input_ids"], batch["attention_mask"]
                gap = (traced(ids, mask)["logits"] - eager(ids, mask)).abs().max().item()
                if gap > TRACE_TOLERANCE:
                    log.warning("traced intent model disagrees; using eager", extra={"gap": gap})
                    return None
    except Exception:  # tracing is an optimisation: any failure means the eager model
        log.warning("intent model could not be traced; using eager", exc_info=True)
        return None

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = traced(ids, mask)["logits"]
        return logits

    return forward
