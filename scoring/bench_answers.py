"""Benchmark: a short answer through our trimmed-context path vs ``whisper.transcribe``.

    python -m scoring.bench_answers --clip /path/to/speech.wav [--seconds 3] [--repeats 7]

Builds tiny.en- and base.en-sized checkpoints in a temporary folder (real architecture, random
weights: compute cost does not depend on weight values; nothing is downloaded), then times, on the
same model and the same clip, interleaved, after one warm-up each:

* ours: ``Transcriber.transcribe_answer`` (VAD, crop, trimmed encoder, greedy decode);
* vanilla: ``whisper.transcribe(model, audio, temperature=0)``.

Rows per size: *scripted* (the decoder scripted to emit an 11-token sentence, so both paths decode
the same tokens — the fair comparison), the same with the domain prompt on both sides, and
*random* weights as they are (vanilla then decodes up to 224 garbage tokens, ours stops at the
32-token answer cap — the literal comparison, shown with token counts).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from whisper.transcribe import transcribe as whisper_transcribe

from scoring.audio import WHISPER_RATE, Samples, load_mono
from scoring.transcriber import Transcriber
from scoring.transcripts import DOMAIN_PROMPT
from scoring.whisper_checkpoints import Size, build_random_checkpoint, build_scripted_checkpoint
from scoring.whisper_model import Precision, clear_cache, set_torch_threads

SENTENCE = "I would like to refinance my house in Texas."  # 11 tokens


def _seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def compare(
    path: Path, clip: Samples, prompt: str | None, repeats: int, projection: Precision = "auto"
) -> dict[str, object]:
    """Median seconds of both paths on one checkpoint, interleaved so load drifts hit both."""
    clear_cache()
    ours = Transcriber.load(path, projection=projection)
    model = ours.loaded.model
    chosen = prompt or ""

    def run_ours() -> str:
        return ours.transcribe_answer(clip, initial_prompt=chosen).text

    def run_vanilla() -> str:
        result = whisper_transcribe(model, clip, temperature=0, fp16=False, initial_prompt=prompt)
        return str(result["text"]).strip()

    ours_text, vanilla_text = run_ours(), run_vanilla()
    vanilla_tokens = sum(
        len(s["tokens"])
        for s in whisper_transcribe(model, clip, temperature=0, fp16=False, initial_prompt=prompt)[
            "segments"
        ]
    )
    ours_times: list[float] = []
    vanilla_times: list[float] = []
    for _ in range(repeats):
        ours_times.append(_seconds(run_ours))
        vanilla_times.append(_seconds(run_vanilla))
    ours_s, vanilla_s = statistics.median(ours_times), statistics.median(vanilla_times)
    return {
        "ours_s": ours_s,
        "vanilla_s": vanilla_s,
        "ratio": vanilla_s / ours_s,
        "same_text": ours_text == vanilla_text,
        "vanilla_tokens": vanilla_tokens,
        "projection": str(ours.loaded.projection_dtype).removeprefix("torch."),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scoring.bench_answers")
    parser.add_argument("--clip", type=Path, required=True, help="a WAV with speech")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"], choices=["tiny", "base"])
    parser.add_argument("--skip-random", action="store_true")
    parser.add_argument("--projection", choices=["auto", "float32", "float16"], default="auto")
    args = parser.parse_args(argv)
    set_torch_threads(args.threads)
    clip = load_mono(args.clip)[: round(args.seconds * WHISPER_RATE)]
    print(f"clip {args.clip.name}, {clip.shape[0] / WHISPER_RATE:.2f} s; torch threads ", end="")
    print(f"{torch.get_num_threads()}; medians of {args.repeats}, interleaved")
    print("size | weights | prompt | vanilla tokens | ours s | vanilla s | ratio | same text")
    sizes: list[Size] = args.sizes
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            rows: list[tuple[str, Path, str | None]] = [
                (
                    "scripted",
                    build_scripted_checkpoint(Path(tmp, f"{size}-s.pt"), SENTENCE, size=size),
                    None,
                ),
                (
                    "scripted",
                    build_scripted_checkpoint(
                        Path(tmp, f"{size}-sp.pt"),
                        SENTENCE,
                        size=size,
                        initial_prompt=DOMAIN_PROMPT,
                    ),
                    DOMAIN_PROMPT,
                ),
            ]
            if not args.skip_random:
                rows.append(
                    ("random", build_random_checkpoint(Path(tmp, f"{size}-r.pt"), size), None)
                )
            for weights, path, prompt in rows:
                repeats = args.repeats if weights == "scripted" else max(1, args.repeats // 2)
                r = compare(path, clip, prompt, repeats, args.projection)
                print(
                    f"{size}.en-sized | {weights} | {'domain' if prompt else 'none'} | "
                    f"{r['vanilla_tokens']} | {r['ours_s']:.3f} | {r['vanilla_s']:.3f} | "
                    f"{r['ratio']:.2f}x | {r['same_text']} (projection {r['projection']})",
                    flush=True,
                )


if __name__ == "__main__":
    main()
