"""Turning texts into model inputs: one tokenizer call, padded per batch, batches by length.

Shared by training, the frozen-encoder baseline and inference so they never disagree about
truncation or padding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

MAX_TOKENS = 256
"""all-MiniLM-L6-v2's own training length: a caller's story can come to the point only at its end,
so truncating shorter loses the intent. Batches pad to their longest text, so a short answer
costs no more for the higher limit."""


def encode(tokenizer: Any, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    """Token ids and attention mask for ``texts``, padded to the longest one."""
    batch: dict[str, Any] = tokenizer(
        list(texts),
        padding=True,
        truncation=True,
        max_length=max_tokens,
        return_tensors="pt",
    )
    batch.pop("token_type_ids", None)  # one segment: all zeros, and MiniLM does not need them
    return batch


def by_length(texts: Sequence[str], batch_size: int) -> Iterator[list[int]]:
    """Index batches of similar length (less padding), in a stable order."""
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def logits_of(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    batch_size: int = 64,
    max_tokens: int = MAX_TOKENS,
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> npt.NDArray[np.float64]:
    """The classifier's raw logits for every text, in the input order.

    ``forward`` maps (token ids, attention mask) to logits; by default the model's own call.
    """
    run = forward or (lambda ids, mask: model(input_ids=ids, attention_mask=mask).logits)
    out = np.zeros((len(texts), model.config.num_labels), dtype=np.float64)
    model.eval()
    with torch.inference_mode():
        for indices in by_length(texts, batch_size):
            batch = encode(tokenizer, [texts[i] for i in indices], max_tokens)
            out[indices] = run(batch["input_ids"], batch["attention_mask"]).double().numpy()
    return out


def mean_pooled(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sentence embeddings as sentence-transformers makes them: masked mean, L2-normalised."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(summed, dim=-1)
