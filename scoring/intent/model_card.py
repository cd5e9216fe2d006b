"""The model card written next to every trained intent model, from that run's own metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scoring.intent.labels import DEFINITIONS, LABELS


def render_card(metrics: Mapping[str, Any], examples: Mapping[str, list[str]]) -> str:
    """Markdown: what the model is for, its labels, data, training, results and limits."""
    training = metrics["training"]
    rows = training["rows"]
    config = training["config"]
    lines = [
        "# Warmline intent classifier — model card",
        "",
        "Fine-tuned `all-MiniLM-L6-v2` (22.7 M parameters) that reads what a caller said on a "
        "mortgage lead line and gives calibrated probabilities over five intents. Warmline "
        "combines them with the prequalification answers into the qualification score.",
        "",
        "## Labels",
        "",
        "| label | definition | examples (from the dev split) |",
        "|---|---|---|",
    ]
    for label in LABELS:
        shown = "<br>".join(f"“{text}”" for text in examples.get(label, []))
        lines.append(f"| `{label}` | {DEFINITIONS[label]} | {shown} |")
    lines += [
        "",
        "## Data",
        "",
        f"- Train {rows['train']} rows, dev {rows['dev']}, test {rows['test']}; challenge set "
        f"{rows['challenge']} rows (held out, written differently by another author).",
        f"- Training rows by source: {_pairs(training['train_sources'])}.",
        f"- Training rows by label: {_pairs(training['train_labels'])}.",
        f"- Extra rows folded in: {rows['extra_added']} "
        f"({rows['extra_dropped_as_near_duplicates']} dropped as near-duplicates of held-out "
        "rows).",
        "- How the data was made, and the mapping of the public banking rows: "
        "`scoring/data/DATASHEET.md`.",
        f"- Training data SHA-256: `{training['train_sha256']}`.",
        "",
        "## Training",
        "",
        f"- Base: `{training['base_model']['name']}` from `{training['base_model']['package']}` "
        f"(weights SHA-256 `{training['base_model']['sha256'][:16]}…`), loaded offline.",
        f"- Full fine-tune, {config['epochs']} epochs, batch {config['batch_size']}, AdamW "
        f"lr {config['learning_rate']}, weight decay {config['weight_decay']}, linear warm-up "
        f"{config['warmup_share']:.0%} then decay, class-balanced cross-entropy, max "
        f"{config['max_tokens']} tokens, seed {config['seed']}, {config['threads']} threads.",
        f"- Seconds per epoch: {', '.join(str(s) for s in training['epoch_seconds'])} "
        f"({training['machine']}); whole run {training.get('total_seconds', '?')} s.",
        "- Calibration: temperature scaling on dev, "
        f"T = {metrics['fine_tuned']['temperature']:.3f}.",
        f"- Software: {_pairs(training['software'])}.",
        "",
        "## Results (held-out rows only)",
        "",
        "| model | test macro-F1 | test accuracy | test ECE | challenge macro-F1 | challenge ECE |",
        "|---|---|---|---|---|---|",
    ]
    for key, name in (
        ("fine_tuned", "fine-tuned MiniLM"),
        ("baseline", "frozen MiniLM + linear head"),
        ("majority", "majority class"),
    ):
        if key in metrics:
            lines.append(_result_row(name, metrics[key]))
    fine = metrics["fine_tuned"]
    if "test_ece_before_calibration" in fine:
        lines += [
            "",
            f"Calibration error on test before temperature scaling: "
            f"{fine['test_ece_before_calibration']:.3f}; after: {fine['test']['ece']:.3f}.",
        ]
    for name in ("test", "challenge"):
        if name in fine:
            lines += ["", f"### Fine-tuned, {name} set, per label", "", *_per_label(fine[name])]
    lines += [
        "",
        "## Intended use and limits",
        "",
        "- For ranking and routing inbound mortgage calls and for QA review, always with the "
        "prequalification answers; not for credit decisions or anything about a person's "
        "eligibility for a loan.",
        "- English only. Trained mostly on text written to read like phone transcripts, plus "
        "public banking questions; real callers and real speech recognisers will differ. Review "
        "scored calls (QA verdicts fold back in with `warmline train intent --extra`).",
        "- Reproduce: `warmline train intent` (seeded; same data, seed and thread count give the "
        "same weights). Evaluate: `warmline eval intent`.",
        "",
    ]
    return "\n".join(lines)


def _result_row(name: str, result: Mapping[str, Any]) -> str:
    test = result.get("test", {})
    challenge = result.get("challenge", {})
    return (
        f"| {name} | {_num(test, 'macro_f1')} | {_num(test, 'accuracy')} | {_num(test, 'ece')} "
        f"| {_num(challenge, 'macro_f1')} | {_num(challenge, 'ece')} |"
    )


def _per_label(report: Mapping[str, Any]) -> list[str]:
    lines = ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, s in report["per_label"].items():
        lines.append(
            f"| `{label}` | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} "
            f"| {s['support']} |"
        )
    lines += ["", "Confusion (rows true, columns predicted, in label order):", "", "```"]
    lines += [" ".join(f"{c:5d}" for c in row) for row in report["confusion"]]
    lines.append("```")
    return lines


def _num(report: Mapping[str, Any], key: str) -> str:
    value = report.get(key)
    return f"{value:.3f}" if isinstance(value, int | float) else "–"


def _pairs(mapping: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in mapping.items())
