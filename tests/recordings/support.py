"""Helpers for the recordings tests: public speech, a two-channel call, ``warmline`` processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from scoring.audio import load_mono, resample, write_wav
from tests.support.data import shared_data
from tests.support.services import ROOT, ManagedProcess, clean_env

PHONE_RATE = 8000
CALLER_AT, OFFICER_AT = 0.5, 5.0  # seconds into the recording where each party speaks


def an4(speaker: str, name: str) -> Path:
    return shared_data() / "an4_test" / "wav" / "an4test_clstk" / speaker / name


def wav_bytes(samples: np.ndarray, rate: int = PHONE_RATE) -> bytes:
    return write_wav(samples, rate)


def phone_clip(path: Path) -> np.ndarray:
    """An AN4 clip (16 kHz) at the phone's 8 kHz."""
    return resample(load_mono(path), 16_000, PHONE_RATE)


def two_channel_call(seconds: float = 9.0) -> bytes:
    """A dual-channel call recording as Twilio serves it (8 kHz, 16-bit): a caller (AN4 fcaw) on
    the left at :data:`CALLER_AT`, an officer (AN4 fjlp) on the right at :data:`OFFICER_AT`."""
    stereo = np.zeros((round(seconds * PHONE_RATE), 2), np.float32)
    for channel, at, clip in (
        (0, CALLER_AT, phone_clip(an4("fcaw", "an406-fcaw-b.wav"))),
        (1, OFFICER_AT, phone_clip(an4("fjlp", "an416-fjlp-b.wav"))),
    ):
        start = round(at * PHONE_RATE)
        stereo[start : start + clip.shape[0], channel] = clip
    return wav_bytes(stereo)


WorkerProcess = ManagedProcess
"""One ``warmline worker`` process."""


def start_worker(
    workdir: Path, env: Mapping[str, str], *args: str, ready_timeout_s: float = 60
) -> WorkerProcess:
    """Start ``python -m ivr worker ARGS`` and wait until it is claiming jobs."""
    log_path = workdir / f"worker-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ivr", "worker", *args],
            cwd=ROOT,
            env=clean_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(process, log_path)
    deadline = time.monotonic() + ready_timeout_s
    while "worker started" not in worker.log():
        if process.poll() is not None:
            raise RuntimeError(f"worker exited with {process.returncode}:\n{worker.log()}")
        if time.monotonic() > deadline:
            worker.stop(signal.SIGKILL)
            raise RuntimeError(f"worker did not start:\n{worker.log()}")
        time.sleep(0.05)
    return worker
