"""Fine-tuning MiniLM as a five-way sequence classifier, seeded so a run can be repeated.

A plain PyTorch loop (AdamW, linear warm-up and decay, class-balanced cross-entropy, batches of
similar length) rather than a trainer framework: it is short, shows a progress bar per epoch,
and nothing in it reaches the network.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from scoring.intent.base_model import base_model_dir, offline, quiet_transformers
from scoring.intent.encoding import MAX_TOKENS, by_length, encode
from scoring.intent.labels import LABELS

_PUNCTUATION = re.compile(r"[^\w\s']")


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of a fine-tuning run; recorded in the model's metrics and card."""

    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 8e-5
    weight_decay: float = 0.01
    warmup_share: float = 0.1
    max_tokens: int = MAX_TOKENS
    seed: int = 13
    threads: int = 2


@dataclass
class TrainingRun:
    """What training produced: the model, its tokenizer and the time each epoch took."""

    model: Any
    tokenizer: Any
    epoch_seconds: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)


def seed_everything(seed: int, threads: int) -> None:
    """Same seed, same data, same thread count: the same weights."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def load_base_classifier() -> tuple[Any, Any]:
    """MiniLM with a fresh five-way classification head, and its tokenizer (offline)."""
    offline()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = base_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with quiet_transformers():  # the new head is "missing" from the checkpoint: expected
        model = AutoModelForSequenceClassification.from_pretrained(
            folder,
            num_labels=len(LABELS),
            id2label=dict(enumerate(LABELS)),
            label2id={label: i for i, label in enumerate(LABELS)},
        )
    return model, tokenizer


def learning_rate_factor(step: int, total: int, warmup: float) -> float:
    """Linear warm-up over the first ``warmup`` share of steps, then linear decay to zero."""
    warmup_steps = max(1, int(total * warmup))
    rising = (step + 1) / warmup_steps
    falling = (total - step) / max(1, total - warmup_steps)
    return max(0.0, min(rising, falling))


def as_recognised(text: str, rng: random.Random) -> str:
    """Half the time, the text as a speech recogniser prints it: no punctuation, no capitals.

    Carrier speech results, Whisper and human transcripts punctuate differently; training on
    both forms keeps the model from reading intent into a full stop.
    """
    if rng.random() < 0.5:
        return text
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def class_weights(labels: Sequence[int]) -> torch.Tensor:
    """Inverse-frequency weights (mean 1): every label counts the same in the loss."""
    counts = np.bincount(np.asarray(labels), minlength=len(LABELS)).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (len(LABELS) * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def fine_tune(
    texts: Sequence[str],
    labels: Sequence[int],
    config: TrainingConfig,
    progress: bool = True,
) -> TrainingRun:
    """Fine-tune every layer of MiniLM on ``texts`` (label indices in :data:`LABELS` order)."""
    seed_everything(config.seed, config.threads)
    model, tokenizer = load_base_classifier()
    batches_per_epoch = -(-len(texts) // config.batch_size)
    total_steps = batches_per_epoch * config.epochs
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, partial(learning_rate_factor, total=total_steps, warmup=config.warmup_share)
    )
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights(labels))
    target = torch.tensor(labels, dtype=torch.long)
    run = TrainingRun(model, tokenizer)
    batches = list(by_length(texts, config.batch_size))
    shuffler = random.Random(config.seed)  # noqa: S311 - reproducible order, not a secret
    for epoch in range(config.epochs):
        model.train()
        started = time.perf_counter()
        shuffler.shuffle(batches)
        losses: list[float] = []
        bar = tqdm(
            batches, desc=f"fine-tune epoch {epoch + 1}/{config.epochs}", disable=not progress
        )
        for indices in bar:
            variants = [as_recognised(texts[i], shuffler) for i in indices]
            batch = encode(tokenizer, variants, config.max_tokens)
            loss = loss_fn(model(**batch).logits, target[indices])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        run.epoch_seconds.append(time.perf_counter() - started)
        run.epoch_loss.append(float(np.mean(losses)))
    model.eval()
    return run
