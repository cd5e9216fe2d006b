"""The files of a trained intent model (``models/intent/``) and how they are written and read.

Written into a temporary sibling directory and renamed into place, so an interrupted run never
leaves a half-written model for the server to load. Weights are stored as float16 safetensors
(half the size; predictions after reload are the same) and loaded back as float32 for the CPU.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from scoring.errors import ModelUnavailable
from scoring.intent.base_model import offline, quiet_transformers
from scoring.intent.labels import LABELS

WEIGHTS = "model.safetensors"
SETTINGS = "intent.json"
METRICS = "metrics.json"
CARD = "MODEL_CARD.md"
BASELINE_HEAD = "baseline_head.safetensors"


@dataclass(frozen=True)
class ModelSettings:
    """What inference needs besides the weights: the label order and the fitted temperature."""

    labels: tuple[str, ...]
    temperature: float
    max_tokens: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }


def save_model(
    target: Path,
    model: Any,
    tokenizer: Any,
    settings: ModelSettings,
    metrics: Mapping[str, Any],
    card: str,
    baseline_head: Mapping[str, torch.Tensor] | None = None,
) -> Path:
    """Write every file of a trained model to ``target``, replacing what was there at once."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        state = {
            k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
        }
        save_file(state, str(staging / WEIGHTS), metadata={"format": "pt"})
        if baseline_head is not None:
            save_file(dict(baseline_head), str(staging / BASELINE_HEAD))
        _write_json(staging / SETTINGS, settings.as_dict())
        _write_json(staging / METRICS, metrics)
        (staging / CARD).write_text(card, encoding="utf-8")
        for path in staging.iterdir():
            path.chmod(0o644)
        staging.chmod(0o755)
        if target.exists():
            retired = target.with_name(f".{target.name}-old")
            shutil.rmtree(retired, ignore_errors=True)
            target.rename(retired)
            staging.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def read_settings(folder: Path) -> ModelSettings:
    path = folder / SETTINGS
    if not path.is_file():
        raise ModelUnavailable(
            f"no intent model in {folder}: train one with 'warmline train intent --out {folder}'"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    labels = tuple(data["labels"])
    if labels != LABELS:
        raise ModelUnavailable(
            f"{path}: labels {', '.join(labels)} are not this version's {', '.join(LABELS)}; "
            "retrain with 'warmline train intent'"
        )
    return ModelSettings(labels, float(data["temperature"]), int(data["max_tokens"]))


def load_weights(folder: Path) -> tuple[Any, Any]:
    """The fine-tuned model (float32, eval mode) and its tokenizer, from local files only."""
    offline()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    with quiet_transformers():
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, local_files_only=True, dtype=torch.float32
        )
    model.eval()
    return model, tokenizer


def read_metrics(folder: Path) -> dict[str, Any]:
    path = folder / METRICS
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return result


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
