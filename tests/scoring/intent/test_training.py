"""Training, calibration and evaluation through the real commands, on a small subset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scoring.intent.artifacts import CARD, METRICS, SETTINGS, WEIGHTS
from scoring.intent.base_model import file_sha256
from scoring.intent.classifier import IntentClassifier
from scoring.intent.fast_forward import BFLOAT16_TOLERANCE, TRACE_TOLERANCE
from scoring.intent.labels import LABELS
from scoring.intent.splits import read_split
from tests.support.intent import TRAINING_TIMEOUT_S
from tests.support.services import warmline

pytestmark = [pytest.mark.models, pytest.mark.timeout(TRAINING_TIMEOUT_S)]


def test_the_small_model_beats_the_majority_class_by_a_clear_margin(intent_model: Path) -> None:
    metrics = json.loads((intent_model / METRICS).read_text())
    for held_out in ("test", "challenge"):
        tuned = metrics["fine_tuned"][held_out]
        majority = metrics["majority"][held_out]
        assert tuned["rows"] == majority["rows"] > 250
        assert tuned["macro_f1"] >= majority["macro_f1"] + 0.4, held_out
        assert tuned["accuracy"] >= majority["accuracy"] + 0.3, held_out
    assert metrics["baseline"]["test"]["macro_f1"] > metrics["majority"]["test"]["macro_f1"]
    assert metrics["training"]["rows"]["train"] == 5 * 60
    assert len(metrics["training"]["epoch_seconds"]) == 4


def test_the_model_folder_holds_weights_tokenizer_settings_metrics_and_a_card(
    intent_model: Path,
) -> None:
    for name in (WEIGHTS, "tokenizer.json", "config.json", SETTINGS, METRICS, CARD):
        path = intent_model / name
        assert path.is_file(), name
        assert path.stat().st_mode & 0o044 == 0o044, f"{name} is not readable by the server"
    settings = json.loads((intent_model / SETTINGS).read_text())
    assert settings["labels"] == list(LABELS)
    assert 0.05 <= settings["temperature"] <= 20
    card = (intent_model / CARD).read_text()
    for label in LABELS:
        assert f"`{label}`" in card
    assert "| fine-tuned MiniLM |" in card and "| frozen MiniLM + linear head |" in card


def test_the_classifier_gives_calibrated_probabilities_per_text(intent_model: Path) -> None:
    classifier = IntentClassifier.load(intent_model)
    texts = [
        "stop calling me this is the wrong number",
        "i need a payoff statement for my current mortgage and my escrow went up",
        "",
    ]
    predictions = classifier.predict(texts)
    assert len(predictions) == 3
    for prediction in predictions:
        assert set(prediction.probabilities) == set(LABELS)
        assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    assert predictions[0].label == "not_interested"
    assert predictions[1].label == "servicing"
    # one text alone and the same text in a batch give the same probabilities (to bfloat16's
    # rounding, on CPUs where the classifier runs in it: padding changes the sums' order)
    (alone,) = classifier.predict([texts[1]])
    assert alone.probabilities["servicing"] == pytest.approx(
        predictions[1].probabilities["servicing"], abs=1e-3
    )


def test_eval_prints_per_label_scores_confusion_and_calibration(
    intent_model: Path, tmp_path: Path
) -> None:
    data = tmp_path / "rows.jsonl"
    rows = read_split("test")[:40]
    data.write_text("".join(r.as_json() + "\n" for r in rows))
    result = warmline("eval", "intent", "--model", str(intent_model), "--data", str(data))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"{data}: 40 rows" in out
    for label in LABELS:
        assert label in out
    assert "macro-F1" in out and "calibration error (ECE)" in out
    assert "confusion (rows: true, columns: predicted)" in out

    as_json = warmline(
        "eval", "intent", "--model", str(intent_model), "--data", str(data), "--json"
    )
    report = json.loads(as_json.stdout)[str(data)]
    assert report["rows"] == 40
    assert sum(map(sum, report["confusion"])) == 40


def test_eval_without_a_model_says_how_to_train_one(tmp_path: Path) -> None:
    result = warmline("eval", "intent", "--model", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "no intent model in" in result.stderr and "warmline train intent" in result.stderr


def test_training_is_reproducible_from_its_seed(tmp_path: Path) -> None:
    tiny = ("--per-label", "8", "--epochs", "1", "--no-baseline", "--quiet")
    for name in ("a", "b"):
        result = warmline("train", "intent", "--out", str(tmp_path / name), *tiny, timeout=300)
        assert result.returncode == 0, result.stderr
    assert file_sha256(tmp_path / "a" / WEIGHTS) == file_sha256(tmp_path / "b" / WEIGHTS)


def test_extra_rows_are_folded_in_unless_they_copy_a_held_out_row(tmp_path: Path) -> None:
    held_out = read_split("test")[0]
    extra = tmp_path / "qa.jsonl"
    extra.write_text(
        json.dumps({"text": held_out.text + " okay", "label": held_out.label, "source": "qa"})
        + "\n"
        + json.dumps({"text": "the qa team heard this caller lock a rate", "label": "ready"})
        + "\n"
    )
    result = warmline(
        "train",
        "intent",
        "--out",
        str(tmp_path / "m"),
        "--extra",
        str(extra),
        "--per-label",
        "5",
        "--epochs",
        "1",
        "--no-baseline",
        "--quiet",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "extra rows: 1 added, 1 dropped as near-duplicates of held-out rows" in result.stderr
    metrics = json.loads((tmp_path / "m" / METRICS).read_text())
    assert metrics["training"]["rows"]["train"] == 5 * 5 + 1
    assert metrics["training"]["train_sources"]["qa"] == 1


def test_the_traced_model_gives_the_eager_models_logits(intent_model: Path) -> None:
    texts = [r.text for r in read_split("test")[:24]]
    eager = IntentClassifier.load(intent_model, trace=False, precision="float32")
    assert eager.forward.name == "eager float32"
    traced = IntentClassifier.load(intent_model, precision="float32")
    assert traced.forward.name == "traced float32"
    assert abs(traced.logits(texts) - eager.logits(texts)).max() < TRACE_TOLERANCE
    # whatever "auto" picks on this CPU stays within its tolerance of float32, on unseen texts
    fastest = IntentClassifier.load(intent_model)
    assert fastest.forward.name in ("traced float32", "traced bfloat16")
    assert abs(fastest.logits(texts) - eager.logits(texts)).max() < BFLOAT16_TOLERANCE


def test_a_long_transcript_is_read_in_windows_none_cut_off(intent_model: Path) -> None:
    classifier = IntentClassifier.load(intent_model)
    filler = "yeah um okay so " * 75  # 300 words, two windows of nothing before the point
    point = "i need the payoff amount on my current mortgage and my escrow statement"
    whole = classifier.predict_long(filler + point, window_words=150)
    assert sum(whole.probabilities.values()) == pytest.approx(1.0)
    (last_window,) = classifier.predict([point])
    assert last_window.label == "servicing"
    # the servicing window counts for its length: present in the whole, not dominant
    assert 0 < whole.probabilities["servicing"] < last_window.probabilities["servicing"]
