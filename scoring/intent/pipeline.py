"""``warmline train intent`` end to end: data → fine-tune → calibrate → baseline → evaluate → save.

Figures are only ever reported on rows the model neither trained nor was tuned on: the test
split and the challenge set (text written differently, by another author). Dev is used once, to
fit the temperature. QA verdicts passed with ``--extra`` join the training rows, minus any that
nearly duplicate a dev, test or challenge row.
"""

from __future__ import annotations

import hashlib
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scoring.intent.artifacts import ModelSettings, save_model
from scoring.intent.base_model import BASE_MODEL_NAME, BASE_MODEL_PACKAGE, BASE_MODEL_SHA256
from scoring.intent.baseline import FrozenEncoder, fit_head
from scoring.intent.calibration import fit_temperature, softmax
from scoring.intent.dataset import Utterance, label_counts, read_utterances
from scoring.intent.encoding import logits_of
from scoring.intent.labels import LABELS
from scoring.intent.metrics import evaluate, majority_probabilities
from scoring.intent.model_card import render_card
from scoring.intent.near_duplicates import cross_pairs
from scoring.intent.splits import DATA_DIR, read_challenge, read_split
from scoring.intent.training import TrainingConfig, fine_tune


@dataclass(frozen=True)
class TrainingData:
    """The rows of one training run, by role."""

    train: list[Utterance]
    dev: list[Utterance]
    test: list[Utterance]
    challenge: list[Utterance]
    extra_added: int = 0
    extra_dropped: int = 0

    def held_out(self) -> dict[str, list[Utterance]]:
        return {"test": self.test, "challenge": self.challenge}


def load_training_data(
    splits_dir: Path | None = None,
    extra: Sequence[Path] = (),
    per_label: int | None = None,
) -> TrainingData:
    """The committed splits (optionally the first ``per_label`` train rows of each label, by
    hash), the challenge set, and extra labelled rows folded into training."""
    train = read_split("train", splits_dir)
    dev = read_split("dev", splits_dir)
    test = read_split("test", splits_dir)
    challenge = read_challenge() if (DATA_DIR / "challenge.jsonl").is_file() else []
    if per_label is not None:
        train = subset(train, per_label)
    added = dropped = 0
    for path in extra:
        rows = [replace(r, source=r.source or "extra") for r in read_utterances(path)]
        kept = without_near_duplicates(rows, [*dev, *test, *challenge])
        train.extend(kept)
        added += len(kept)
        dropped += len(rows) - len(kept)
    return TrainingData(train, dev, test, challenge, added, dropped)


def subset(rows: Sequence[Utterance], per_label: int) -> list[Utterance]:
    """A fixed, label-balanced sample: the ``per_label`` rows of each label hashing lowest."""
    chosen: list[Utterance] = []
    for label in LABELS:
        members = [r for r in rows if r.label == label]
        members.sort(key=lambda r: hashlib.sha256(r.text.encode()).hexdigest())
        chosen.extend(members[:per_label])
    return chosen


def without_near_duplicates(
    rows: Sequence[Utterance], held_out: Sequence[Utterance]
) -> list[Utterance]:
    """``rows`` minus any that nearly duplicate a held-out row (it would leak into the test)."""
    leaking = {i for i, _, _ in cross_pairs([r.text for r in rows], [r.text for r in held_out])}
    return [row for index, row in enumerate(rows) if index not in leaking]


def truth(rows: Sequence[Utterance]) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.array([LABELS.index(r.label) for r in rows], dtype=np.int64)


def train_intent(
    out: Path,
    data: TrainingData,
    config: TrainingConfig,
    *,
    baseline: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Train, calibrate and evaluate; write the model to ``out``; return its metrics."""
    started = time.perf_counter()
    texts = [r.text for r in data.train]
    labels = truth(data.train).tolist()
    run = fine_tune(texts, labels, config, progress=progress)

    def logits(rows: Sequence[Utterance]) -> np.ndarray[Any, np.dtype[np.float64]]:
        return logits_of(run.model, run.tokenizer, [r.text for r in rows], 32, config.max_tokens)

    dev_logits = logits(data.dev)
    temperature = fit_temperature(dev_logits, truth(data.dev))
    fine_tuned: dict[str, Any] = {"temperature": temperature}
    for name, rows in data.held_out().items():
        if rows:
            raw = logits(rows)
            fine_tuned[name] = evaluate(truth(rows), softmax(raw, temperature)).as_dict()
            fine_tuned[f"{name}_ece_before_calibration"] = evaluate(truth(rows), softmax(raw)).ece
    metrics: dict[str, Any] = {"fine_tuned": fine_tuned}
    head_tensors = None
    if baseline:
        metrics["baseline"], head_tensors = _baseline(data, labels, config, progress)
    metrics["majority"] = {
        name: evaluate(truth(rows), majority_probabilities(labels, len(rows))).as_dict()
        for name, rows in data.held_out().items()
        if rows
    }
    metrics["training"] = _training_facts(data, config, run.epoch_seconds, run.epoch_loss)
    metrics["training"]["total_seconds"] = round(time.perf_counter() - started, 1)
    settings = ModelSettings(LABELS, temperature, config.max_tokens)
    card = render_card(metrics, examples(data.dev))
    save_model(out, run.model, run.tokenizer, settings, metrics, card, head_tensors)
    return metrics


def examples(rows: Sequence[Utterance], per_label: int = 2) -> dict[str, list[str]]:
    """A few of our own utterances per label, for the model card."""
    return {
        label: [r.text for r in rows if r.label == label and r.source == "warmline"][:per_label]
        for label in LABELS
    }


def _baseline(
    data: TrainingData, labels: list[int], config: TrainingConfig, progress: bool
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The frozen-encoder + linear-head baseline, calibrated and evaluated the same way."""
    started = time.perf_counter()
    encoder = FrozenEncoder()
    head = fit_head(
        encoder.embed([r.text for r in data.train], progress=progress), labels, config.seed
    )
    dev_logits = head.logits(encoder.embed([r.text for r in data.dev]))
    temperature = fit_temperature(dev_logits, truth(data.dev))
    result: dict[str, Any] = {"temperature": temperature}
    for name, rows in data.held_out().items():
        if rows:
            probabilities = softmax(head.logits(encoder.embed([r.text for r in rows])), temperature)
            result[name] = evaluate(truth(rows), probabilities).as_dict()
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result, {"weight": head.weight.contiguous(), "bias": head.bias.contiguous()}


def _training_facts(
    data: TrainingData, config: TrainingConfig, epoch_seconds: list[float], losses: list[float]
) -> dict[str, Any]:
    import transformers

    digest = hashlib.sha256()
    for row in data.train:
        digest.update(row.as_json().encode())
    sources: dict[str, int] = {}
    for row in data.train:
        sources[row.source] = sources.get(row.source, 0) + 1
    return {
        "config": asdict(config),
        "epoch_seconds": [round(s, 1) for s in epoch_seconds],
        "epoch_loss": [round(v, 4) for v in losses],
        "rows": {
            "train": len(data.train),
            "dev": len(data.dev),
            "test": len(data.test),
            "challenge": len(data.challenge),
            "extra_added": data.extra_added,
            "extra_dropped_as_near_duplicates": data.extra_dropped,
        },
        "train_labels": label_counts(data.train),
        "train_sources": dict(sorted(sources.items())),
        "train_sha256": digest.hexdigest(),
        "base_model": {
            "name": BASE_MODEL_NAME,
            "package": BASE_MODEL_PACKAGE,
            "sha256": BASE_MODEL_SHA256,
        },
        "software": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
    }
