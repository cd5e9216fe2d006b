"""Intent classifier speed: latency per utterance (alone and batched) and training time per epoch.

What it does:

1. **single**: loads the trained model (``--model``, default ``models/intent``) once, as the
   server does, with ``--threads`` torch threads (default 2, this machine's cores), warms up,
   then times ``IntentClassifier.predict([text])`` — tokenising, the forward pass, calibration
   and building the prediction — for every short utterance (at most 15 words, the length of an
   answer to "in a few words…") of the test split, ``--rounds`` times over. p50 and p99 in ms.
2. **batched**: the same model on batches of ``--batch`` test rows of any length (as the worker
   scores several transcripts at once): ms per batch and per utterance.
   The forward pass is the one the server would choose (``precision`` auto: traced, bfloat16
   where faster and faithful); ``--no-trace`` and ``--precision`` force others, to compare.
3. **training**: one fine-tuning epoch on the full train split (``--train``; about a minute on
   two cores) with the configuration ``warmline train intent`` uses; without ``--train`` the
   epoch times recorded in the model's own ``metrics.json`` are printed.

The ``other`` figure is CPU the rest of the machine used meanwhile (``/proc/stat`` minus this
process), in cores; above 0.25 the latencies are pessimistic.

    .venv/bin/python benchmarks/intent.py
    .venv/bin/python benchmarks/intent.py --train --json intent.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring.intent.artifacts import read_metrics
from scoring.intent.classifier import IntentClassifier
from scoring.intent.labels import LABELS
from scoring.intent.splits import read_split
from scoring.intent.training import TrainingConfig, fine_tune

SHORT_WORDS = 15


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def busy_cores() -> tuple[float, float]:
    """(machine CPU seconds, this process's CPU seconds) so far."""
    with open("/proc/stat") as handle:
        fields = [float(x) for x in handle.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    busy = (sum(fields) - fields[3] - fields[4]) / ticks
    return busy, time.process_time()


def other_cores(before: tuple[float, float], seconds: float) -> float:
    after = busy_cores()
    return max(0.0, ((after[0] - before[0]) - (after[1] - before[1])) / seconds)


def time_single(classifier: IntentClassifier, texts: list[str], rounds: int) -> dict[str, Any]:
    for text in texts[:20]:
        classifier.predict([text])
    samples: list[float] = []
    before, started = busy_cores(), time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            begun = time.perf_counter()
            classifier.predict([text])
            samples.append((time.perf_counter() - begun) * 1000)
    wall = time.perf_counter() - started
    return {
        "utterances": len(samples),
        "median_words": statistics.median(len(t.split()) for t in texts),
        "p50_ms": percentile(samples, 0.5),
        "p99_ms": percentile(samples, 0.99),
        "other_cores": other_cores(before, wall),
    }


def time_batched(classifier: IntentClassifier, texts: list[str], size: int) -> dict[str, Any]:
    batches = [texts[i : i + size] for i in range(0, len(texts) - size + 1, size)]
    classifier.predict(batches[0])
    samples: list[float] = []
    before, started = busy_cores(), time.perf_counter()
    for batch in batches:
        begun = time.perf_counter()
        classifier.predict(batch)
        samples.append((time.perf_counter() - begun) * 1000)
    wall = time.perf_counter() - started
    return {
        "batch": size,
        "batches": len(batches),
        "p50_ms_per_batch": percentile(samples, 0.5),
        "p99_ms_per_batch": percentile(samples, 0.99),
        "ms_per_utterance": statistics.median(samples) / size,
        "other_cores": other_cores(before, wall),
    }


def time_training_epoch(threads: int) -> dict[str, Any]:
    rows = read_split("train")
    config = TrainingConfig(epochs=1, threads=threads)
    run = fine_tune([r.text for r in rows], [LABELS.index(r.label) for r in rows], config)
    return {"rows": len(rows), "epoch_seconds": run.epoch_seconds[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/intent"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--train", action="store_true", help="Time one fine-tuning epoch.")
    parser.add_argument(
        "--no-trace", action="store_true", help="Run the eager model (no TorchScript trace)."
    )
    parser.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()

    classifier = IntentClassifier.load(
        args.model, threads=args.threads, trace=not args.no_trace, precision=args.precision
    )
    test = [r.text for r in read_split("test")]
    short = [t for t in test if len(t.split()) <= SHORT_WORDS]
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "threads": args.threads,
        "forward": classifier.forward.name,
        "single": time_single(classifier, short, args.rounds),
        "batched": time_batched(classifier, test, args.batch),
    }
    single, batched = results["single"], results["batched"]
    print(
        f"machine: {results['machine']}, torch threads {args.threads}, "
        f"forward pass: {classifier.forward.name}"
    )
    print(
        f"single utterance ({single['utterances']} predictions, median "
        f"{single['median_words']:g} words): p50 {single['p50_ms']:.1f} ms, "
        f"p99 {single['p99_ms']:.1f} ms (other {single['other_cores']:.2f} cores)"
    )
    print(
        f"batches of {batched['batch']} ({batched['batches']} batches): p50 "
        f"{batched['p50_ms_per_batch']:.0f} ms, p99 {batched['p99_ms_per_batch']:.0f} ms, "
        f"{batched['ms_per_utterance']:.1f} ms per utterance "
        f"(other {batched['other_cores']:.2f} cores)"
    )
    if args.train:
        results["training"] = time_training_epoch(args.threads)
        print(
            f"training: one epoch over {results['training']['rows']} rows in "
            f"{results['training']['epoch_seconds']:.1f} s"
        )
    else:
        recorded = read_metrics(args.model).get("training", {})
        results["training_recorded"] = recorded.get("epoch_seconds")
        print(
            f"training (recorded in metrics.json): seconds per epoch {results['training_recorded']}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
