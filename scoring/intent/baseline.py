"""The baseline the fine-tuned model must beat: frozen MiniLM embeddings and a linear head.

Sentence embeddings (masked mean pooling, as sentence-transformers makes them) feed a
multinomial logistic regression with L2, fitted by L-BFGS. It trains in seconds and shows what
fine-tuning the encoder itself adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from tqdm import tqdm

from scoring.intent.base_model import base_model_dir, offline
from scoring.intent.encoding import MAX_TOKENS, by_length, encode, mean_pooled
from scoring.intent.labels import LABELS
from scoring.intent.training import class_weights

L2 = 1e-3


@dataclass
class LinearHead:
    """A logistic-regression head over sentence embeddings."""

    weight: torch.Tensor
    bias: torch.Tensor

    def logits(self, embeddings: torch.Tensor) -> npt.NDArray[np.float64]:
        with torch.inference_mode():
            result: npt.NDArray[np.float64] = (
                (embeddings @ self.weight.T + self.bias).double().numpy()
            )
        return result


class FrozenEncoder:
    """MiniLM without gradients, turning texts into 384-dimensional sentence embeddings."""

    def __init__(self) -> None:
        offline()
        from transformers import AutoModel, AutoTokenizer

        folder = base_model_dir()
        self.tokenizer: Any = AutoTokenizer.from_pretrained(folder)
        self.model: Any = AutoModel.from_pretrained(folder)
        self.model.eval()

    def embed(
        self, texts: Sequence[str], batch_size: int = 64, progress: bool = False
    ) -> torch.Tensor:
        out = torch.zeros((len(texts), self.model.config.hidden_size))
        batches = list(by_length(texts, batch_size))
        with torch.inference_mode():
            for indices in tqdm(batches, desc="embed (frozen encoder)", disable=not progress):
                batch = encode(self.tokenizer, [texts[i] for i in indices], MAX_TOKENS)
                hidden = self.model(**batch).last_hidden_state
                out[indices] = mean_pooled(hidden, batch["attention_mask"])
        return out


def fit_head(embeddings: torch.Tensor, labels: Sequence[int], seed: int) -> LinearHead:
    """Multinomial logistic regression with class-balanced loss and L2, by L-BFGS."""
    torch.manual_seed(seed)
    features = embeddings.shape[1]
    weight = torch.zeros((len(LABELS), features), requires_grad=True)
    bias = torch.zeros(len(LABELS), requires_grad=True)
    target = torch.tensor(labels, dtype=torch.long)
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights(labels))
    optimizer = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=500, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(embeddings @ weight.T + bias, target) + L2 * (weight**2).sum()
        loss.backward()
        return loss  # type: ignore[no-any-return]

    optimizer.step(closure)  # type: ignore[no-untyped-call]
    return LinearHead(weight.detach(), bias.detach())
