"""Transcription speed: short answers (ours vs vanilla ``whisper.transcribe``), recordings, workers.

What it does, in one run, for each model size (``--sizes``, default tiny and base):

1. **checkpoint**: a tiny.en- or base.en-sized Whisper (the published architecture: 80 mels, 30 s
   audio context, the English vocabulary, 384x4 or 512x6) with random weights, built in a
   temporary folder by ``scoring.whisper_checkpoints.build_random_checkpoint`` and loaded through
   the real ``whisper.load_model`` path. Nothing is downloaded. Compute cost does not depend on
   the weights' values, so the speed figures are honest; the text is garbage.
2. **answers**: ``--clips`` real AN4 utterances of 2.0-3.0 s (16 kHz) transcribed by ours
   (``Transcriber.transcribe_answer``: VAD, crop, trimmed encoder, greedy decode) and by vanilla
   ``whisper.transcribe(model, audio, temperature=0, condition_on_previous_text=False,
   sample_len=CAP, initial_prompt=..., fp16=False)`` on the same model and the same samples; one
   warm-up of each, then ``--repeats`` rounds over the clips, ours and vanilla interleaved (the
   order rotates each round). Medians; ratio = vanilla / ours. Rows: each decoding cap, with
   no prompt and with the domain prompt (~170 tokens, what ``transcribe_answer`` sends by
   default) on both sides. Clip groups (one clip through every path) during which the rest of
   the machine used more than 0.25 cores are left out when at least a third were quiet.
   Ours runs twice per clip, with its vocabulary projection in float16 and in float32: the model
   loads with "auto" (as shipped), which times the two once at load and keeps the faster, and
   the choice changes ours a lot, so both are shown and the pick is printed.
3. **recording**: real-time factor of ``Transcriber.transcribe_recording`` on a 60 s
   two-channel recording assembled from AN4 utterances (officer and caller taking turns with
   pauses, each on a channel of its own, a -70 dBFS noise floor), written as the 8 kHz 16-bit
   stereo WAV Twilio delivers and passed as a file path (decoding and resampling included).
4. **worker**: ``--worker-jobs`` jobs naming that file, added to a Redis stream and drained by a
   real ``ivr.jobs.Worker`` (consumer group, leases, acks) whose handler runs
   ``transcribe_recording`` in a thread with the model loaded once; recordings per minute is jobs
   over the wall time from the worker's start to the last ack.

**The decoding cap.** Random weights never emit end-of-text, so every decode would run to
Whisper's 224-token limit and measure the limit, not the model. Both sides decode at most the
same number of tokens: ours through ``TranscriberConfig(answer_sample_len=CAP)``, vanilla through
``sample_len=CAP``. Each cap in ``--sample-lens`` is a row. The default 12 is what a real model
decodes for these clips at most (AN4's 2-3 s utterances' transcripts are 4-10 tokens, median 6,
plus end-of-text; vanilla would also emit two timestamp tokens, which the common cap denies it,
in vanilla's favour); 32 is the answer path's own configured maximum, the worst case of a model
that babbles. Decoding costs the same per token on both sides, so the more tokens, the closer
the ratio comes to 1: the 12-token row is the realistic one, the 32-token row the floor.
Recordings have no decoding option, so for this benchmark ``whisper.transcribe`` as
``scoring.transcriber`` calls it is wrapped to add ``sample_len=--recording-sample-len``
(default 32: about what 8 s of speech decodes to; the assembled turns hold at most 8 s each;
0 leaves whisper's 224; nothing in scoring/ is edited). The decoder steps each side actually ran
are counted (forward hooks on the decoder's final layer norm) and printed, so the caps can be
checked.

**Retries.** ``transcribe_recording`` decodes a window again at temperature 0.4 when the first
pass looks degenerate (average log-probability under -1, or repetitive). Random weights' output
always does, so the configured ``(0.0, 0.4)`` doubles every window here; on clean speech a real
model rarely retries. Both are reported: *first pass* (``recording_temperatures=(0.0,)``, the
clean-speech case; the worker phase uses it) and *with retry* (the configuration as shipped, the
worst case).

Torch runs with ``--threads`` intra-op threads (default 2, this machine's cores). The ``other``
column is CPU the rest of the machine used meanwhile (``/proc/stat`` minus this process), in
cores; above 0.25 the figures are pessimistic.

    .venv/bin/python benchmarks/transcribe.py                       # both sizes, ~4.5 min quiet
    .venv/bin/python benchmarks/transcribe.py --sizes tiny --json transcribe.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import wave
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.signal import resample_poly
from webhook_load import machine, machine_busy_seconds
from whisper.model import Whisper
from whisper.transcribe import transcribe as whisper_transcribe

import scoring.transcriber as transcriber_module
from scoring.audio import WHISPER_RATE, Samples, load_mono
from scoring.short_context import projection_weight
from scoring.transcriber import Transcriber, TranscriberConfig
from scoring.transcripts import DOMAIN_PROMPT
from scoring.whisper_checkpoints import Size, build_random_checkpoint
from scoring.whisper_model import LoadedWhisper, clear_cache, set_torch_threads

ROOT = Path(__file__).resolve().parents[1]
AN4 = ROOT.parent / "shared" / "data" / "an4_test" / "wav"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
SPEED_UP_TARGET = 3.0
BUSY_MACHINE_CORES = 0.25
PHONE_RATE = 8000
RECORDING_SECONDS = 60.0
MAX_TURN_SPEECH_S = 8.0


# -- measuring -----------------------------------------------------------------------------------


class OtherCpu:
    """Cores the rest of the machine kept busy between `start` and `stop` (None: unknown)."""

    def __init__(self) -> None:
        self.machine = machine_busy_seconds()
        self.ours = time.process_time()
        self.wall = time.perf_counter()
        self.cores: float | None = None

    def stop(self) -> float | None:
        busy = machine_busy_seconds()
        wall = time.perf_counter() - self.wall
        if busy is not None and self.machine is not None and wall > 0:
            ours = time.process_time() - self.ours
            self.cores = max(0.0, busy - self.machine - ours) / wall
        return self.cores


class Steps:
    """Counts encoder passes, decoder steps and ``model.decode`` calls by temperature."""

    def __init__(self, model: Whisper) -> None:
        self.model = model
        self.encoder = 0
        self.decoder = 0
        self.decodes: Counter[float] = Counter()
        self._hooks = [
            model.encoder.ln_post.register_forward_hook(self._encoded),
            model.decoder.ln.register_forward_hook(self._decoded),
        ]
        original = model.decode

        def counted(mel: torch.Tensor, options: Any = None, **kwargs: Any) -> Any:
            if options is not None:
                self.decodes[float(options.temperature)] += 1
                return original(mel, options, **kwargs)
            return original(mel, **kwargs)

        model.decode = counted  # type: ignore[method-assign]

    def _encoded(self, *_: object) -> None:
        self.encoder += 1

    def _decoded(self, *_: object) -> None:
        self.decoder += 1

    def reset(self) -> None:
        self.encoder = self.decoder = 0
        self.decodes.clear()

    def close(self) -> None:
        for hook in self._hooks:
            hook.remove()
        del self.model.decode


@contextlib.contextmanager
def capped_recordings(sample_len: int) -> Iterator[None]:
    """``whisper.transcribe`` as ``scoring.transcriber`` calls it, with ``sample_len`` added."""
    original = transcriber_module.whisper_transcribe
    if sample_len <= 0:  # uncapped: whisper's own limit (224 tokens a window)
        yield
        return

    def capped(*args: Any, **kwargs: Any) -> Any:
        return original(*args, sample_len=sample_len, **kwargs)

    transcriber_module.whisper_transcribe = capped
    try:
        yield
    finally:
        transcriber_module.whisper_transcribe = original


def seconds_of(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


# -- audio ---------------------------------------------------------------------------------------


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def an4_files() -> list[tuple[Path, float]]:
    files = sorted(AN4.rglob("*.wav"))
    if not files:
        raise SystemExit(f"no AN4 audio under {AN4}")
    return [(path, wav_seconds(path)) for path in files]


def answer_clips(count: int) -> list[tuple[str, Samples]]:
    """`count` AN4 utterances of 2.0-3.0 s, spread over the sorted list (deterministic)."""
    eligible = [path for path, seconds in an4_files() if 2.0 <= seconds <= 3.0]
    count = min(count, len(eligible))
    step = len(eligible) / count
    picked = [eligible[int(i * step + step / 2)] for i in range(count)]
    return [(path.name, load_mono(path)) for path in picked]


def build_recording(path: Path, seed: int) -> dict[str, Any]:
    """A 60 s two-channel call (left caller, right officer) as an 8 kHz 16-bit stereo WAV."""
    rng = random.Random(seed)
    utterances = [p for p, seconds in an4_files() if seconds <= MAX_TURN_SPEECH_S]
    total = round(RECORDING_SECONDS * WHISPER_RATE)
    channels = np.zeros((2, total), dtype=np.float32)
    speech = [0.0, 0.0]
    turns = 0
    at = 0.6
    speaker = 1  # the officer greets first
    while True:
        parts: list[Samples] = []
        length = 0.0
        for _ in range(rng.randint(1, 3)):
            clip = load_mono(rng.choice(utterances))
            gap = np.zeros(round(rng.uniform(0.2, 0.5) * WHISPER_RATE), dtype=np.float32)
            added = (clip.shape[0] + (gap.shape[0] if parts else 0)) / WHISPER_RATE
            if parts and length + added > MAX_TURN_SPEECH_S:
                break
            parts.extend([gap, clip] if parts else [clip])
            length += added
        turn = np.concatenate(parts)
        start = round(at * WHISPER_RATE)
        if start + turn.shape[0] > total - round(0.4 * WHISPER_RATE):
            break
        channels[speaker, start : start + turn.shape[0]] = turn
        speech[speaker] += turn.shape[0] / WHISPER_RATE
        turns += 1
        at += turn.shape[0] / WHISPER_RATE + rng.uniform(0.5, 1.5)
        speaker = 1 - speaker
    noise = np.random.default_rng(seed).normal(0.0, 3e-4, channels.shape).astype(np.float32)
    phone = resample_poly(channels + noise, PHONE_RATE, WHISPER_RATE, axis=1)
    pcm = (np.clip(phone, -1.0, 1.0) * 32767).round().astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(PHONE_RATE)
        out.writeframes(pcm.T.tobytes())
    return {
        "seconds": RECORDING_SECONDS,
        "channels": 2,
        "sample_rate": PHONE_RATE,
        "turns": turns,
        "caller_turn_seconds": round(speech[0], 1),
        "officer_turn_seconds": round(speech[1], 1),
    }


# -- the three measurements ----------------------------------------------------------------------


PROJECTIONS = {"float16": torch.float16, "float32": torch.float32}


def bench_answers(
    loaded: LoadedWhisper,
    steps: Steps,
    clips: list[tuple[str, Samples]],
    prompt: str | None,
    cap: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Ours with each vocabulary projection, and vanilla, interleaved over the clips."""
    model = loaded.model
    config = TranscriberConfig(answer_sample_len=cap)

    def ours(projection: torch.dtype) -> Callable[[Samples], object]:
        with_projection = replace(loaded, projection=projection_weight(model, projection))
        transcriber = Transcriber(with_projection, config)
        return lambda clip: transcriber.transcribe_answer(clip, initial_prompt=prompt or "")

    def vanilla(clip: Samples) -> object:
        return whisper_transcribe(
            model,
            clip,
            verbose=None,
            temperature=0.0,
            condition_on_previous_text=False,
            sample_len=cap,
            initial_prompt=prompt,
            fp16=False,
        )

    paths: dict[str, Callable[[Samples], object]] = {
        **{f"ours_{name}": ours(dtype) for name, dtype in PROJECTIONS.items()},
        "vanilla": vanilla,
    }
    for run in paths.values():
        run(clips[0][1])  # warm-up
    names = list(paths)
    times: dict[str, list[float]] = {name: [] for name in names}
    decoder_steps: dict[str, list[int]] = {name: [] for name in names}
    encoder_passes: dict[str, list[int]] = {name: [] for name in names}
    group_other: list[float | None] = []
    other = OtherCpu()
    for round_index in range(args.repeats):
        shift = round_index % len(names)
        order = names[shift:] + names[:shift]  # each path goes first in turn
        for _, clip in clips:
            meter = OtherCpu()
            for name in order:
                steps.reset()
                times[name].append(seconds_of(partial(paths[name], clip)))
                decoder_steps[name].append(steps.decoder)
                encoder_passes[name].append(steps.encoder)
            group_other.append(meter.stop())
    other.stop()
    quiet = [i for i, cores in enumerate(group_other) if (cores or 0.0) <= BUSY_MACHINE_CORES]
    chosen = quiet if len(quiet) >= max(3, len(group_other) // 3) else list(range(len(group_other)))
    median = {name: statistics.median(times[name][i] for i in chosen) for name in names}
    row: dict[str, Any] = {
        "sample_len": cap,
        "prompt": "domain" if prompt else "none",
        "groups": len(group_other),
        "quiet_groups": len(quiet),
        "quiet_only": chosen is quiet,
        "vanilla_ms": median["vanilla"] * 1000,
        "vanilla_decoder_steps": statistics.median(decoder_steps["vanilla"]),
        "vanilla_encoder_passes": statistics.median(encoder_passes["vanilla"]),
        "other_cores": other.cores,
        "group_other_cores": group_other,
        "seconds": times,
    }
    for projection in PROJECTIONS:
        name = f"ours_{projection}"
        pairs = [times["vanilla"][i] / times[name][i] for i in chosen]
        row[projection] = {
            "ours_ms": median[name] * 1000,
            "ratio": median["vanilla"] / median[name],
            "pairwise_ratio_min": min(pairs),
            "pairwise_ratio_max": max(pairs),
            "decoder_steps": statistics.median(decoder_steps[name]),
            "encoder_passes": statistics.median(encoder_passes[name]),
            "target_met": median["vanilla"] / median[name] >= SPEED_UP_TARGET,
        }
    return row


def bench_recording(
    transcriber: Transcriber, steps: Steps, path: Path, runs: int, label: str
) -> dict[str, Any]:
    times: list[float] = []
    run_other: list[float | None] = []
    segments = 0
    for _ in range(runs):
        steps.reset()
        meter = OtherCpu()
        started = time.perf_counter()
        segments = len(transcriber.transcribe_recording(path))
        times.append(time.perf_counter() - started)
        run_other.append(meter.stop())
    quiet = [(cores or 0.0) <= BUSY_MACHINE_CORES for cores in run_other]
    kept = quiet if any(quiet) else [True] * runs
    median = statistics.median(t for t, used in zip(times, kept, strict=True) if used)
    other = statistics.median(c or 0.0 for c, used in zip(run_other, kept, strict=True) if used)
    return {
        "decoding": label,
        "runs": runs,
        "seconds": times,
        "run_other_cores": run_other,
        "quiet_runs": sum(quiet),
        "median_s": median,
        "rtf": median / RECORDING_SECONDS,
        "windows": steps.decodes.get(0.0, 0),
        "decodes": sum(steps.decodes.values()),
        "decoder_steps": steps.decoder,
        "segments": segments,
        "other_cores": other,
    }


async def bench_worker(
    transcriber: Transcriber, path: Path, jobs: int, redis_url: str
) -> dict[str, Any]:
    from redis.asyncio import Redis

    from ivr.jobs import JobQueue, Worker, blocking_handler

    redis = Redis.from_url(redis_url)
    stream = f"warmline:bench:recordings:{secrets.token_hex(4)}"
    queue = JobQueue(redis, stream, "bench-transcribe")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled: list[float] = []

    def transcribe(job: Any) -> None:
        started = time.perf_counter()
        transcriber.transcribe_recording(job.fields["path"])
        handled.append(time.perf_counter() - started)
        if len(handled) >= jobs:
            loop.call_soon_threadsafe(stop.set)

    try:
        await queue.ensure_group()
        for index in range(jobs):
            await queue.enqueue({"path": str(path)}, key=f"bench-{index}")
        worker = Worker(
            queue, {"recording": blocking_handler(transcribe)}, "bench-worker", poll_ms=200
        )
        other = OtherCpu()
        started = time.perf_counter()
        await asyncio.wait_for(worker.run(stop), timeout=jobs * 600)
        wall = time.perf_counter() - started
        other.stop()
        stats = (await queue.stats()).as_dict()
    finally:
        await redis.delete(stream, queue.delayed_key, queue.dead_stream)
        await redis.aclose()
    return {
        "jobs": jobs,
        "done": len(handled),
        "wall_s": wall,
        "recordings_per_minute": len(handled) / wall * 60 if wall else math.nan,
        "seconds_per_recording": wall / len(handled) if handled else math.nan,
        "handler_seconds": handled,
        "queue_after": stats,
        "other_cores": other.cores,
    }


# -- the run -------------------------------------------------------------------------------------


def run_size(
    size: Size,
    workdir: Path,
    clips: list[tuple[str, Samples]],
    recording: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    print(f"\n[{size}.en-sized] building and loading the checkpoint", file=sys.stderr, flush=True)
    checkpoint = build_random_checkpoint(workdir / f"{size}-random.pt", size, seed=args.seed)
    clear_cache()
    loaded = Transcriber.load(checkpoint).loaded
    steps = Steps(loaded.model)
    result: dict[str, Any] = {
        "size": f"{size}.en",
        "parameters_m": sum(p.numel() for p in loaded.model.parameters()) / 1e6,
        "load_s": loaded.load_seconds,
        "warmup_s": loaded.warmup_seconds,
        "auto_projection": str(loaded.projection_dtype).removeprefix("torch."),
    }
    try:
        print(f"[{size}.en-sized] short answers", file=sys.stderr, flush=True)
        result["answers"] = [
            bench_answers(loaded, steps, clips, prompt, cap, args)
            for cap in args.sample_lens
            for prompt in (None, DOMAIN_PROMPT)
        ]
        print(f"[{size}.en-sized] 60 s recording", file=sys.stderr, flush=True)
        first_pass = Transcriber(loaded, TranscriberConfig(recording_temperatures=(0.0,)))
        shipped = Transcriber(loaded, TranscriberConfig())
        with capped_recordings(args.recording_sample_len):
            result["recording"] = [
                bench_recording(first_pass, steps, recording, args.recording_runs, "first pass")
            ]
            if args.retry_runs:
                result["recording"].append(
                    bench_recording(shipped, steps, recording, args.retry_runs, "with retry")
                )
            if args.worker_jobs:
                print(f"[{size}.en-sized] worker", file=sys.stderr, flush=True)
                result["worker"] = asyncio.run(
                    bench_worker(first_pass, recording, args.worker_jobs, args.redis_url)
                )
    finally:
        steps.close()
        clear_cache()
    return result


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def report(args: argparse.Namespace, result: dict[str, Any]) -> None:
    info = result["machine"]
    rec = result["recording_audio"]
    print(
        "\ntranscription benchmark: random-weight checkpoints of the published sizes, torch "
        f"threads {result['settings']['torch_threads']}, decoding capped (cap column) at the "
        "same length on both sides"
    )
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB, "
        f"Python {info['python']}, torch {torch.__version__}, load average at start "
        f"{info['load_average_at_start'][0]}"
    )
    print(
        f"\nshort answers: {len(result['clips'])} AN4 clips of 2.0-3.0 s "
        f"({', '.join(result['clips'])}), {args.repeats} rounds, medians"
    )
    print(
        f"{'size':<9}{'cap':>4} {'prompt':<8}{'quiet':>6}{'vanilla ms':>11}"
        f"{'ours f16':>10}{'ratio':>7}{'ours f32':>10}{'ratio':>7}{'steps':>7}{'other':>7}"
    )
    for size in result["sizes"]:
        for row in size["answers"]:
            f16, f32 = row["float16"], row["float32"]
            quiet = f"{row['quiet_groups']}/{row['groups']}"
            steps = f"{f16['decoder_steps']:g}"
            if len({f16["decoder_steps"], f32["decoder_steps"], row["vanilla_decoder_steps"]}) > 1:
                steps = f"{steps}/{f32['decoder_steps']:g}/{row['vanilla_decoder_steps']:g}"
            print(
                f"{size['size']:<9}{row['sample_len']:>4} {row['prompt']:<8}{quiet:>6}"
                f"{row['vanilla_ms']:>11.0f}{f16['ours_ms']:>10.0f}{f16['ratio']:>6.1f}x"
                f"{f32['ours_ms']:>10.0f}{f32['ratio']:>6.1f}x{steps:>7}"
                f"{_fmt(row['other_cores'], '.2f'):>7}"
            )
    autos = ", ".join(f"{size['size']} {size['auto_projection']}" for size in result["sizes"])
    print(
        "ms: medians; ours f16/f32: the answer path with a float16 / float32 vocabulary "
        "projection (auto picked at load:\n"
        f"{autos}); cap: tokens decoded at most, both sides; quiet: clip groups used; steps: "
        "decoder forward passes"
    )
    print(
        f"\nrecording: {rec['seconds']:g} s, {rec['channels']} channels, {rec['sample_rate']} Hz "
        f"WAV, {rec['turns']} turns (caller {rec['caller_turn_seconds']} s, officer "
        f"{rec['officer_turn_seconds']} s of turns), decoding capped at "
        + (f"{args.recording_sample_len} tokens" if args.recording_sample_len > 0 else "224 (none)")
        + " per window"
    )
    print(
        f"{'size':<9}{'decoding':<12}{'quiet':>6}{'median s':>10}{'RTF':>7}{'windows':>9}"
        f"{'decodes':>9}{'steps':>7}{'other':>7}"
    )
    for size in result["sizes"]:
        for row in size["recording"]:
            print(
                f"{size['size']:<9}{row['decoding']:<12}{row['quiet_runs']:>4}/{row['runs']}"
                f"{row['median_s']:>10.2f}"
                f"{row['rtf']:>7.3f}{row['windows']:>9}{row['decodes']:>9}"
                f"{row['decoder_steps']:>7}{_fmt(row['other_cores'], '.2f'):>7}"
            )
    print(
        "windows/decodes/steps: of the last run (decodes include 0.4 retries; steps = decoder "
        "forward passes)"
    )
    if any("worker" in size for size in result["sizes"]):
        print(
            "\nworker: jobs on a Redis stream, one ivr.jobs.Worker (concurrency 1), "
            "transcribe_recording first pass, model loaded once"
        )
        print(f"{'size':<9}{'jobs':>5}{'wall s':>9}{'rec/min':>9}{'s/rec':>8}{'other':>7}")
        for size in result["sizes"]:
            if "worker" in size:
                w = size["worker"]
                print(
                    f"{size['size']:<9}{w['done']:>5}{w['wall_s']:>9.1f}"
                    f"{w['recordings_per_minute']:>9.1f}{w['seconds_per_recording']:>8.2f}"
                    f"{_fmt(w['other_cores'], '.2f'):>7}"
                )
    print()
    for size in result["sizes"]:
        for row in size["answers"]:
            verdicts = ", ".join(
                f"{row[p]['ratio']:.1f}x with {p} ({'met' if row[p]['target_met'] else 'MISSED'})"
                for p in PROJECTIONS
            )
            print(
                f"target: 2-3 s answer >= {SPEED_UP_TARGET:g}x vanilla's speed, {size['size']}, "
                f"{row['sample_len']} tokens, prompt {row['prompt']}: {verdicts}"
            )
    busy = [
        (size["size"], what, row["other_cores"])
        for size in result["sizes"]
        for what, rows in (("answers", size["answers"]), ("recording", size["recording"]))
        for row in rows
        if (row["other_cores"] or 0) > BUSY_MACHINE_CORES
    ]
    for name, what, cores in busy:
        print(
            f"note: during {name} {what} the rest of the machine kept {cores:.2f} cores busy: "
            "those figures are pessimistic"
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Whisper speed: answers (ours vs vanilla), a 60 s recording, a worker.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"], choices=["tiny", "base"])
    parser.add_argument("--clips", type=int, default=4, help="AN4 answers of 2-3 s")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the clips")
    parser.add_argument(
        "--sample-lens",
        type=int,
        nargs="+",
        default=[12, 32],
        help="answer decoding caps (tokens), the same on both sides; a row each",
    )
    parser.add_argument(
        "--recording-sample-len",
        type=int,
        default=32,
        help="decoding cap per recording window (0: none, whisper's 224)",
    )
    parser.add_argument("--recording-runs", type=int, default=2, help="first-pass runs")
    parser.add_argument("--retry-runs", type=int, default=1, help="runs as shipped (0.4 retry)")
    parser.add_argument("--worker-jobs", type=int, default=3, help="0 skips the worker")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=1, help="weights and the recording")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("WARMLINE_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis for the worker's stream (deleted afterwards)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if min(args.clips, args.repeats, args.recording_runs, *args.sample_lens) < 1:
        parser.error("--clips, --repeats, --sample-lens and --recording-runs must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    threads = set_torch_threads(args.threads)
    info = machine()
    clips = answer_clips(args.clips)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="warmline-transcribe-") as tmp:
        recording = Path(tmp) / "call-60s-2ch-8k.wav"
        audio = build_recording(recording, args.seed)
        sizes = [run_size(size, Path(tmp), clips, recording, args) for size in args.sizes]
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": info,
        "settings": {
            "torch_threads": threads,
            "torch": torch.__version__,
            "answer_sample_lens": args.sample_lens,
            "recording_sample_len": args.recording_sample_len,
            "repeats": args.repeats,
            "recording_runs": args.recording_runs,
            "retry_runs": args.retry_runs,
            "worker_jobs": args.worker_jobs,
            "seed": args.seed,
        },
        "clips": [name for name, _ in clips],
        "clip_seconds": [round(c.shape[0] / WHISPER_RATE, 2) for _, c in clips],
        "recording_audio": audio,
        "sizes": sizes,
        "wall_s": time.perf_counter() - started,
    }
    report(args, result)
    print(f"(run took {result['wall_s']:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
