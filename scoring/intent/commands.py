"""``warmline train intent``, ``warmline eval intent`` and ``warmline data intent-splits``.

Registered on the main command by :mod:`ivr.cli`; torch and transformers are imported inside the
commands, so the rest of the command line stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

DEFAULT_MODEL_DIR = Path("models/intent")
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@click.group()
def train() -> None:
    """Train a model."""


@click.group(name="eval")
def evaluate() -> None:
    """Evaluate a trained model."""


@click.group()
def data() -> None:
    """Build the datasets models are trained on."""


@train.command("intent")
@click.option(
    "--out", type=click.Path(path_type=Path), default=DEFAULT_MODEL_DIR, show_default=True
)
@click.option("--epochs", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option(
    "--per-label",
    type=click.IntRange(5, None),
    help="Train on this many rows per label only (a quick, smaller model).",
)
@click.option(
    "--extra",
    "extra",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="More labelled rows (JSON Lines, e.g. exported QA verdicts) to train on.",
)
@click.option("--seed", type=int, default=13, show_default=True)
@click.option("--threads", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option(
    "--baseline/--no-baseline",
    default=True,
    show_default=True,
    help="Also train and report the frozen-encoder + linear-head baseline.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train_intent_command(
    out: Path,
    epochs: int,
    per_label: int | None,
    extra: tuple[Path, ...],
    seed: int,
    threads: int,
    baseline: bool,
    quiet: bool,
) -> None:
    """Fine-tune all-MiniLM-L6-v2 on the intent data and write models/intent/."""
    from scoring.errors import ModelUnavailable
    from scoring.intent.dataset import DatasetError
    from scoring.intent.pipeline import load_training_data, train_intent
    from scoring.intent.training import TrainingConfig

    try:
        training_data = load_training_data(extra=extra, per_label=per_label)
    except DatasetError as error:
        raise click.ClickException(str(error)) from None
    if extra:
        click.echo(
            f"extra rows: {training_data.extra_added} added, "
            f"{training_data.extra_dropped} dropped as near-duplicates of held-out rows",
            err=True,
        )
    config = TrainingConfig(epochs=epochs, seed=seed, threads=threads)
    try:
        metrics = train_intent(out, training_data, config, baseline=baseline, progress=not quiet)
    except ModelUnavailable as error:  # the MiniLM package missing or not the published weights
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {out}")
    for key, name in (
        ("fine_tuned", "fine-tuned"),
        ("baseline", "baseline"),
        ("majority", "majority class"),
    ):
        for split in ("test", "challenge"):
            report = metrics.get(key, {}).get(split)
            if report:
                click.echo(
                    f"  {name:<15} {split:<9} macro-F1 {report['macro_f1']:.3f}  "
                    f"accuracy {report['accuracy']:.3f}  ECE {report['ece']:.3f}"
                )


@evaluate.command("intent")
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_MODEL_DIR,
    show_default=True,
)
@click.option(
    "--data",
    "data_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labelled JSON Lines to evaluate on (default: the test split and the challenge set).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
def eval_intent_command(model_dir: Path, data_files: tuple[Path, ...], as_json: bool) -> None:
    """Per-label precision/recall/F1, macro-F1, confusion matrix and calibration error."""
    from scoring.errors import ModelUnavailable
    from scoring.intent.classifier import IntentClassifier
    from scoring.intent.dataset import DatasetError, read_utterances
    from scoring.intent.labels import LABELS
    from scoring.intent.metrics import evaluate as score
    from scoring.intent.metrics import format_report
    from scoring.intent.pipeline import truth
    from scoring.intent.splits import read_challenge, read_split

    try:
        classifier = IntentClassifier.load(model_dir)
        sets = (
            {str(path): read_utterances(path) for path in data_files}
            if data_files
            else {"test split": read_split("test"), "challenge set": read_challenge()}
        )
    except (ModelUnavailable, DatasetError) as error:
        raise click.ClickException(str(error)) from None
    reports = {}
    for name, rows in sets.items():
        predictions = classifier.predict([r.text for r in rows])
        probabilities = [[p.probabilities[label] for label in LABELS] for p in predictions]
        reports[name] = score(truth(rows), probabilities)
    if as_json:
        click.echo(json.dumps({k: r.as_dict() for k, r in reports.items()}, indent=2))
        return
    click.echo(
        f"model {model_dir} (temperature {classifier.settings.temperature:.3f}, "
        f"{classifier.forward.name})"
    )
    for name, report in reports.items():
        click.echo(format_report(report, name))


@data.command("intent-splits")
@click.option(
    "--shared-data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DEFAULT_SHARED_DATA,
    show_default=True,
    help="The public data folder (NLU++ banking, BANKING77).",
)
@click.option("--check", is_flag=True, help="Only check that the committed splits are current.")
def intent_splits_command(shared_data: Path, check: bool) -> None:
    """Rebuild scoring/data/splits/ from the written utterances and the mapped public rows."""
    import tempfile

    from scoring.intent.dataset import DatasetError
    from scoring.intent.splits import (
        DATA_DIR,
        Sources,
        assign_splits,
        read_challenge,
        source_rows,
        write_splits,
    )

    try:
        challenge = [row.text for row in read_challenge()]
        rows = assign_splits(source_rows(Sources.default(shared_data)), held_out=challenge)
    except DatasetError as error:
        raise click.ClickException(str(error)) from None
    target = DATA_DIR / "splits"
    if not check:
        counts = write_splits(rows, target)
        click.echo(", ".join(f"{name} {count}" for name, count in counts.items()))
        return
    with tempfile.TemporaryDirectory() as scratch:
        write_splits(rows, Path(scratch))
        stale = [
            name
            for name in ("train", "dev", "test")
            if (Path(scratch) / f"{name}.jsonl").read_bytes()
            != (target / f"{name}.jsonl").read_bytes()
        ]
    if stale:
        raise click.ClickException(
            f"splits out of date: {', '.join(stale)}; run 'warmline data intent-splits'"
        )
    click.echo("splits are current")
