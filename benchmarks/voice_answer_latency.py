"""Voice answer latency: from the spoken answer's `<Record>` action to the next prompt's TwiML.

What it does, for each model size (``--sizes``, default tiny and base):

1. builds a Whisper checkpoint of that size in a temporary folder (the published tiny.en or
   base.en architecture; nothing is downloaded). ``--weights scripted`` (the default): random
   weights with the decoder scripted by ``scoring.whisper_checkpoints.build_scripted_checkpoint``
   to say "It's in Texas." for any audio, so the answer parses and the flow moves on to its next
   prompt, and the decoder runs 7 steps (the sentence's 5 tokens, an end timestamp, end-of-text),
   as a short real answer would (the compute is that of the real model: the scripting only
   zeroes some projections and rewrites the decoder's positional embedding).
   ``--weights random``: plain random weights; their text is garbage, the answer does not parse,
   the next prompt is a re-prompt, and every decode runs to the answer path's 32-token cap (a worst
   case for decoding);
2. starts a real ``warmline serve`` (free port, random auth token, Redis database 14 unless
   ``--redis-url``/WARMLINE_REDIS_URL says otherwise) with the voice test deployment
   ``tests/e2e/voice/warmline.yaml`` (one ask, "Which state is the property in?", voice with the
   keypad as fallback, hints Texas/Florida/Georgia, the default ``silence_timeout`` (1 s)) and
   ``WARMLINE_WHISPER_MODEL`` set to the checkpoint, ``WARMLINE_WHISPER_THREADS`` to ``--threads``
   (one answer-pool process, the default). It waits for ``/healthz``: the model is loaded and
   warmed up by then;
3. the fake carrier (``ivr.simulator.carrier.Carrier``: signed webhooks over real HTTP, TwiML
   followed, recordings served by its own media server) places ``--calls`` calls one after the
   other; at the ``<Record>`` the caller "says" a real AN4 utterance of 2.0-3.0 s, resampled to the
   8 kHz 16-bit mono WAV Twilio records, and the carrier posts the ``<Record>`` action.

**Latency** per call: from the carrier sending the ``<Record>`` action (``/twilio/voice-answer``)
to having the TwiML of the next prompt, summed over the action and any ``/twilio/voice-wait``
redirects the server answered with while the transcript was not ready ("One moment.", counted in
the *redirects* column; on real Twilio the caller would also hear that filler before the
redirect, which the simulator does not play in real time). It covers the server fetching the
recording from the carrier's media server, the hand-off to the answer pool, VAD, Whisper, the
result through Redis, the engine's step and the TwiML. Not in it: Twilio's silence timeout (the
``<Record timeout>``: the caller's own pause, which Twilio waits out before it posts the action;
printed separately), the network between Twilio and the server, and Twilio's media being slower
to serve a fresh recording than the simulator's. *transcribe* is the answer pool's own time for
the transcription (``transcribe_seconds`` in the stored answer; scripted weights only).

The *other* column is CPU the rest of the machine used during the calls (``/proc/stat`` minus the
server, its answer pool, this process and Redis), in cores. It is also taken per call (without
the Redis share); calls during which it was above 0.25 are left out of the percentiles when at
least a third of the calls were quiet (the *quiet* column).

    .venv/bin/python benchmarks/voice_answer_latency.py            # tiny and base, 30 calls each
    .venv/bin/python benchmarks/voice_answer_latency.py --sizes tiny --calls 50 --json voice.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from webhook_load import (
    ACCOUNT_SID,
    cpu_seconds,
    free_port,
    machine,
    machine_busy_seconds,
    percentile,
    redis_cpu,
)

ROOT = Path(__file__).resolve().parents[1]
AN4 = ROOT.parent / "shared" / "data" / "an4_test" / "wav"
DEPLOYMENT = ROOT / "tests" / "e2e" / "voice" / "warmline.yaml"
FLOW = ROOT / "tests" / "e2e" / "voice" / "flows" / "voice_intake.yaml"
NUMBER = "+18005550150"
SENTENCE = "It's in Texas."
EXPECTED_NEXT = "Thank you."
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
TARGET_S = 1.5
BUSY_MACHINE_CORES = 0.25
PHONE_RATE = 8000


# -- audio -------------------------------------------------------------------------------------


def answer_wavs(count: int) -> list[tuple[str, bytes]]:
    """`count` AN4 utterances of 2.0-3.0 s as 8 kHz 16-bit mono WAV bytes (what Twilio records)."""
    from scipy.signal import resample_poly

    from scoring.audio import WHISPER_RATE, load_mono

    eligible = []
    for path in sorted(AN4.rglob("*.wav")):
        with wave.open(str(path), "rb") as wav:
            if 2.0 <= wav.getnframes() / wav.getframerate() <= 3.0:
                eligible.append(path)
    if not eligible:
        raise SystemExit(f"no AN4 audio of 2-3 s under {AN4}")
    count = min(count, len(eligible))
    step = len(eligible) / count
    clips = []
    for index in range(count):
        path = eligible[int(index * step + step / 2)]
        phone = resample_poly(load_mono(path), PHONE_RATE, WHISPER_RATE)
        pcm = (np.clip(phone, -1.0, 1.0) * 32767).round().astype("<i2")
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(PHONE_RATE)
            out.writeframes(pcm.tobytes())
        clips.append((path.name, buffer.getvalue()))
    return clips


# -- the caller --------------------------------------------------------------------------------


class AnsweringCaller:
    """Says the clip at the first ``<Record>``; after that presses 7 (keypad) and gives a ZIP."""

    def __init__(self, audio: bytes) -> None:
        self.audio = audio
        self.records = 0
        self.silence_timeout_s: float | None = None

    async def gather(self, heard: Any, spec: Any) -> Any:
        from ivr.simulator.caller import Digits

        return Digits("75201")

    async def record(self, heard: Any, spec: Any) -> Any:
        from ivr.simulator.caller import RecordInput

        self.records += 1
        if self.records == 1:
            self.silence_timeout_s = float(spec.timeout)
            return RecordInput(self.audio, None, None)  # ended by the silence timeout
        return RecordInput(None, 0.5, "7")

    async def dial(self, heard: Any, spec: Any) -> Any:
        raise RuntimeError("the voice flow has no transfer")


# -- the server --------------------------------------------------------------------------------


def process_tree_cpu(pid: int) -> float | None:
    """CPU seconds of `pid` and its live descendants (the answer pool runs in a child)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        seconds = cpu_seconds(current)
        if seconds is None and current == pid:
            return None
        total += seconds or 0.0
        todo.extend(children.get(current, []))
    return total


@contextlib.contextmanager
def voice_server(
    checkpoint: Path, redis_url: str, token: str, threads: int, log: Path
) -> Iterator[tuple[str, int]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "WARMLINE_TWILIO_AUTH_TOKEN": token,
        "WARMLINE_PUBLIC_URL": url,
        "WARMLINE_REDIS_URL": redis_url,
        "WARMLINE_DEPLOYMENT": str(DEPLOYMENT),
        "WARMLINE_WHISPER_MODEL": str(checkpoint),
        "WARMLINE_WHISPER_THREADS": str(threads),
        "WARMLINE_CALL_TTL_S": "3600",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "ivr", "serve", "--port", str(port)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise SystemExit(f"server exited with {process.returncode}:\n{log.read_text()}")
            with (
                contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
                urllib.request.urlopen(f"{url}/healthz", timeout=1) as response,  # noqa: S310
            ):
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not become healthy in 180 s:\n{log.read_text()}")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- calls -------------------------------------------------------------------------------------


@dataclass
class CallResult:
    clip: str
    call_sid: str = ""
    latency_s: float | None = None
    redirects: int = 0
    next_prompt: str = ""
    transcribe_s: float | None = None
    heard: str | None = None
    other_cores: float | None = None
    silence_timeout_s: float | None = None
    problem: str | None = None


@dataclass
class SizeRun:
    size: str
    weights: str
    calls: list[CallResult] = field(default_factory=list)
    wall_s: float = 0.0
    other_cores: float | None = None
    startup_s: float = 0.0


def answer_latency(record: Any) -> tuple[float, int, str] | None:
    """(seconds, redirects, the final TwiML) of the call's first spoken answer."""
    start = next((i for i, r in enumerate(record.requests) if r.kind == "record-action"), None)
    if start is None:
        return None
    last = record.requests[start]
    total = last.elapsed_s
    redirects = 0
    for request in record.requests[start + 1 :]:
        if request.kind == "redirect" and request.path == "/twilio/voice-wait":
            total += request.elapsed_s
            redirects += 1
            last = request
        elif request.kind in ("record-action", "gather-action", "redirect"):
            break  # the next turn (callbacks in between are skipped)
    return total, redirects, last.body


def next_prompt(twiml: str) -> str:
    import xml.etree.ElementTree as ET

    with contextlib.suppress(ET.ParseError):
        root = ET.fromstring(twiml)  # noqa: S314 - our own server's TwiML
        says = [el.text or "" for el in root.iter("Say")]
        return " ".join(says).strip()
    return ""


async def stored_answer(redis: Any, call_sid: str) -> tuple[str | None, float | None]:
    from ivr.engine.state import CallState

    raw = await redis.hget(f"warmline:call:{call_sid}", "state")
    if raw is None:
        return None, None
    answer = CallState.model_validate_json(raw).answers.get("state")
    if answer is None or answer.source != "voice":
        return None, None
    return answer.heard, answer.signals.get("transcribe_seconds")


async def place_calls(
    run: SizeRun,
    url: str,
    token: str,
    clips: list[tuple[str, bytes]],
    args: argparse.Namespace,
    server_pid: int,
) -> None:
    from redis.asyncio import Redis

    from ivr.simulator.carrier import Carrier
    from ivr.simulator.session import number_config

    config = number_config(url, token, account_sid=ACCOUNT_SID, request_timeout_s=15.0)
    redis = Redis.from_url(args.redis_url)
    redis_before = await redis_cpu(args.redis_url)
    machine_before = machine_busy_seconds()
    server_before = process_tree_cpu(server_pid)
    own_before = time.process_time()
    started = time.perf_counter()
    try:
        async with Carrier(config) as carrier:
            for index in range(args.calls):
                name, audio = clips[index % len(clips)]
                result = CallResult(name)
                run.calls.append(result)
                caller = AnsweringCaller(audio)
                call_machine = machine_busy_seconds()
                call_server = process_tree_cpu(server_pid)
                call_own = time.process_time()
                call_started = time.perf_counter()
                try:
                    record = await carrier.place_call(
                        caller, from_number=f"+1512555{index % 10_000:04d}", to_number=NUMBER
                    )
                except Exception as error:
                    result.problem = f"{type(error).__name__}: {str(error)[:200]}"
                    partial = getattr(error, "record", None)  # a ScriptError carries the call
                    result.call_sid = getattr(partial, "call_sid", "")
                    continue
                call_wall = time.perf_counter() - call_started
                server_now, machine_now = process_tree_cpu(server_pid), machine_busy_seconds()
                if None not in (call_machine, machine_now, call_server, server_now):
                    ours = (server_now - call_server) + (time.process_time() - call_own)  # type: ignore[operator]
                    busy = machine_now - call_machine  # type: ignore[operator]
                    result.other_cores = max(0.0, busy - ours) / call_wall
                result.call_sid = record.call_sid
                result.silence_timeout_s = caller.silence_timeout_s
                measured = answer_latency(record)
                bad = [r for r in record.requests if r.status != 200]
                if measured is None:
                    result.problem = "no <Record> action was posted"
                elif bad:
                    result.problem = f"{bad[0].path}: {bad[0].status or bad[0].error}"
                if measured is not None:
                    result.latency_s, result.redirects, twiml = measured
                    result.next_prompt = next_prompt(twiml)
                    if args.weights == "scripted" and result.next_prompt != EXPECTED_NEXT:
                        result.problem = (
                            f"next prompt {result.next_prompt!r}, not {EXPECTED_NEXT!r}"
                        )
                result.heard, result.transcribe_s = await stored_answer(redis, record.call_sid)
                if args.gap_ms:
                    await asyncio.sleep(args.gap_ms / 1000)
        run.wall_s = time.perf_counter() - started
        server_after, machine_after = process_tree_cpu(server_pid), machine_busy_seconds()
        redis_after = await redis_cpu(args.redis_url)
        if None not in (machine_before, machine_after, server_before, server_after):
            ours = server_after - server_before + time.process_time() - own_before  # type: ignore[operator]
            if redis_before is not None and redis_after is not None:
                ours += redis_after - redis_before
            run.other_cores = max(0.0, machine_after - machine_before - ours) / run.wall_s  # type: ignore[operator]
    finally:
        sids = [c.call_sid for c in run.calls if c.call_sid]
        keys = [f"warmline:call:{sid}" for sid in sids]
        for sid in sids:
            keys += [key async for key in redis.scan_iter(f"warmline:voice:{sid}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def run_size(
    size: str, workdir: Path, clips: list[tuple[str, bytes]], args: argparse.Namespace
) -> SizeRun:
    from scoring.whisper_checkpoints import build_random_checkpoint, build_scripted_checkpoint

    print(f"[{size}.en-sized, {args.weights}] building the checkpoint", file=sys.stderr, flush=True)
    path = workdir / f"{size}-{args.weights}.pt"
    if args.weights == "scripted":
        build_scripted_checkpoint(path, SENTENCE, size=size, initial_prompt=whisper_prompt())  # type: ignore[arg-type]
    else:
        build_random_checkpoint(path, size)  # type: ignore[arg-type]
    run = SizeRun(f"{size}.en", args.weights)
    token = secrets.token_hex(16)
    log = workdir / f"server-{size}.log"
    print(f"[{size}.en-sized] starting warmline serve", file=sys.stderr, flush=True)
    started = time.perf_counter()
    with voice_server(path, args.redis_url, token, args.threads, log) as (url, pid):
        run.startup_s = time.perf_counter() - started
        print(f"[{size}.en-sized] {args.calls} calls", file=sys.stderr, flush=True)
        asyncio.run(place_calls(run, url, token, clips, args, pid))
    if any(c.problem for c in run.calls):
        problems = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if " ERROR " in line or " WARNING " in line or "Traceback" in line
        ]
        for line in problems[-5:]:
            print(f"!! server log: {line[:200]}", file=sys.stderr)
    return run


def whisper_prompt() -> str:
    """The prompt the server sends for the ask: its hints, as ``TwilioWebhooks`` joins them."""
    flow = yaml.safe_load(FLOW.read_text())
    hints = next(step["hints"] for step in flow["steps"] if step.get("hints"))
    return ", ".join(hints) + "."


# -- figures -----------------------------------------------------------------------------------


def summary(run: SizeRun) -> dict[str, Any]:
    measured = [c for c in run.calls if c.latency_s is not None and c.problem is None]
    quiet = [c for c in measured if (c.other_cores or 0.0) <= BUSY_MACHINE_CORES]
    chosen = quiet if len(quiet) >= max(3, len(measured) // 3) else measured
    latencies = sorted(c.latency_s for c in chosen)  # type: ignore[misc]
    transcribe = sorted(c.transcribe_s for c in chosen if c.transcribe_s is not None)
    timeouts = {c.silence_timeout_s for c in run.calls if c.silence_timeout_s is not None}
    return {
        "size": run.size,
        "weights": run.weights,
        "calls": len(run.calls),
        "failed": sum(1 for c in run.calls if c.problem),
        "problems": [f"{c.call_sid}: {c.problem}" for c in run.calls if c.problem][:10],
        "quiet_calls": len(quiet),
        "quiet_only": chosen is quiet,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "max_ms": (latencies[-1] if latencies else math.nan) * 1000,
        "all_calls_p50_ms": percentile(sorted(c.latency_s for c in measured), 50) * 1000,  # type: ignore[misc]
        "all_calls_max_ms": max((c.latency_s for c in measured), default=math.nan) * 1000,  # type: ignore[type-var]
        "redirects": sum(c.redirects for c in measured),
        "transcribe_p50_ms": percentile(transcribe, 50) * 1000 if transcribe else None,
        "transcribe_max_ms": transcribe[-1] * 1000 if transcribe else None,
        "next_prompts": sorted({c.next_prompt for c in measured}),
        "heard": sorted({c.heard for c in measured if c.heard}),
        "silence_timeout_s": sorted(timeouts),
        "other_cores": run.other_cores,
        "server_startup_s": run.startup_s,
        "wall_s": run.wall_s,
        "per_call": [c.__dict__ for c in run.calls],
        "target_met": bool(latencies)
        and percentile(latencies, 95) < TARGET_S
        and run.size == "tiny.en",
    }


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def report(
    args: argparse.Namespace, results: list[dict[str, Any]], info: Mapping[str, Any]
) -> None:
    print(
        f"\nvoice answer latency: {args.calls} sequential calls per size through warmline "
        f"serve, {args.weights} weights, AN4 answers of 2.0-3.0 s as 8 kHz WAV, torch threads "
        f"{args.threads}"
    )
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB, "
        f"Python {info['python']}, load average at start {info['load_average_at_start'][0]}"
    )
    print(
        f"\n{'size':<9}{'calls':>6}{'failed':>7}{'quiet':>6}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}"
        f"{'redirects':>10}{'transcribe p50':>15}{'other':>7}"
    )
    for r in results:
        print(
            f"{r['size']:<9}{r['calls']:>6}{r['failed']:>7}{r['quiet_calls']:>6}"
            f"{_fmt(r['p50_ms'], '.0f'):>8}{_fmt(r['p95_ms'], '.0f'):>8}"
            f"{_fmt(r['max_ms'], '.0f'):>8}"
            f"{r['redirects']:>10}{_fmt(r['transcribe_p50_ms'], '.0f'):>15}"
            f"{_fmt(r['other_cores'], '.2f'):>7}"
        )
    print(
        "latency: <Record> action sent -> next prompt's TwiML (voice-wait redirects included); "
        "percentiles over the quiet calls\nwhen enough were quiet (other <= 0.25 cores), else all. "
        "transcribe: the answer pool's own time."
    )
    for r in results:
        timeouts = ", ".join(f"{t:g} s" for t in r["silence_timeout_s"]) or "-"
        print(
            f"{r['size']}: next prompt {r['next_prompts']}, heard {r['heard']}; silence timeout "
            f"(the caller's pause before Twilio posts the action, not in the figures): {timeouts}"
        )
    for r in results:
        if r["size"] != "tiny.en":
            continue
        p95 = r["p95_ms"] / 1000
        silence = max(r["silence_timeout_s"], default=0.0)
        total = silence + p95
        print(
            f"target: end of speech to next prompt < {TARGET_S:g} s with tiny.en: our part "
            f"(action -> TwiML) p95 {p95:.2f} s, {'met' if r['target_met'] else 'MISSED'}; with "
            f"the flow's {silence:g} s silence timeout at least {total:.2f} s plus Twilio's own "
            f"time, {'MISSED' if total >= TARGET_S else 'met only if Twilio takes under'}"
            + ("" if total >= TARGET_S else f" {TARGET_S - total:.2f} s")
        )
    for r in results:
        if r["failed"]:
            print(f"!! {r['size']}: {r['failed']} calls failed; first:", file=sys.stderr)
            for line in r["problems"][:5]:
                print(f"!!   {line}", file=sys.stderr)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time spoken answers through warmline serve: <Record> action -> next prompt.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"], choices=["tiny", "base"])
    parser.add_argument("--calls", type=int, default=30, help="sequential calls per size")
    parser.add_argument("--weights", choices=["scripted", "random"], default="scripted")
    parser.add_argument("--clips", type=int, default=8, help="AN4 answers of 2-3 s, in turn")
    parser.add_argument("--threads", type=int, default=2, help="WARMLINE_WHISPER_THREADS")
    parser.add_argument("--gap-ms", type=int, default=300, help="pause between calls")
    parser.add_argument(
        "--redis-url", default=os.environ.get("WARMLINE_REDIS_URL", DEFAULT_REDIS_URL)
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.clips < 1:
        parser.error("--calls and --clips must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine()
    clips = answer_wavs(args.clips)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="warmline-voice-bench-") as tmp:
        runs = [run_size(size, Path(tmp), clips, args) for size in args.sizes]
    results = [summary(run) for run in runs]
    report(args, results, info)
    wall = time.perf_counter() - started
    print(f"(run took {wall:.0f} s)")
    if args.json:
        document = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": info,
            "settings": {**vars(args), "clips": [name for name, _ in clips]},
            "results": results,
            "wall_s": wall,
        }
        Path(args.json).write_text(json.dumps(document, indent=2, default=str) + "\n")
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
