"""The one place a Whisper model is loaded: once per process, on the best device, warmed up.

Loading base.en takes about a second and the first inference pays one-off allocation and kernel
set-up, so workers load at start-up (:func:`load_whisper`) and every later call in the process
gets the same object from a module-level cache keyed by (source, device). A model is either an
official name (``base.en``: looked up in the checkpoint folder, loaded with
``whisper.load_model(name, download_root=...)`` so its SHA-256 and alignment heads apply) or a
checkpoint path (``models/whisper/custom.pt``). Nothing is downloaded implicitly: missing weights
raise :class:`WhisperWeightsMissing`, which names what was looked for, where, and the command that
fetches it — unless ``allow_download=True`` lets whisper fetch on a machine that can reach it.

Concurrency: whisper's decoder installs forward hooks on the shared model for its key/value
cache, so two decodes on one model at once corrupt each other. :attr:`LoadedWhisper.lock`
serialises them; run several worker processes for parallelism, not threads.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

import numpy as np
import torch
import whisper
from whisper.decoding import DecodingOptions
from whisper.model import Whisper

from scoring.errors import ModelUnavailable
from scoring.models import (
    fetch_command,
    official_sha256,
    official_whisper_names,
    whisper_checkpoint_file,
)
from scoring.short_context import (
    context_frames,
    decode_features,
    encode,
    fastest_projection_dtype,
    log_mel,
    projection_weight,
)

Precision = Literal["auto", "float32", "float16"]

THREADS_ENV = "WARMLINE_TORCH_THREADS"


class WhisperLoadError(ModelUnavailable):
    """The model could not be loaded; the message says why and what to do.

    A :class:`scoring.errors.ModelUnavailable`, so callers catch it without importing torch.
    """


class WhisperWeightsMissing(WhisperLoadError, FileNotFoundError):
    """No checkpoint where one was expected."""

    def __init__(self, looked_for: Path, name: str | None) -> None:
        self.looked_for = looked_for
        self.model_name = name
        if name is not None:
            how = (
                f"fetch them with `{fetch_command(name)}` (saves {looked_for.name} into "
                f"{looked_for.parent}/), or copy {looked_for.name} there from a machine that has it"
            )
            what = f"Whisper weights {name!r} not found: looked for {looked_for}"
        else:
            how = (
                "put a Whisper checkpoint there, or use an official model name "
                f"({', '.join(official_whisper_names())}) and fetch it with "
                f"`{fetch_command('NAME')}`"
            )
            what = f"Whisper checkpoint not found: looked for {looked_for}"
        super().__init__(f"{what}; {how}")


@dataclass(frozen=True)
class LoadedWhisper:
    """A loaded model and what callers need to use it safely."""

    model: Whisper
    source: str
    """The official name, or the checkpoint's resolved path."""
    device: torch.device
    load_seconds: float
    warmup_seconds: float
    projection: torch.Tensor = field(repr=False, compare=False)
    """The vocabulary projection weight the answer path decodes with (see ``projection_dtype``)."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def english_only(self) -> bool:
        return not self.model.is_multilingual

    @property
    def projection_dtype(self) -> torch.dtype:
        return self.projection.dtype

    @property
    def fp16(self) -> bool:
        """Half precision where it is fast (CUDA); CPU runs in float32."""
        return self.device.type == "cuda"


_cache: dict[tuple[str, str], LoadedWhisper] = {}
_cache_lock = threading.Lock()
_threads: int | None = None


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """`device` if given, else CUDA when present, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_torch_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads once per process (`threads`, else ``$WARMLINE_TORCH_THREADS``).

    Later calls do not change it (a process shares one pool; changing it under a running
    inference slows both). With neither given, torch's default (one per core) stays.
    Returns the thread count in effect.
    """
    global _threads
    if _threads is None:
        wanted = threads if threads is not None else os.environ.get(THREADS_ENV)
        if wanted is not None:
            count = int(wanted)
            if count < 1:
                raise ValueError(f"torch threads must be at least 1, got {count}")
            torch.set_num_threads(count)
        _threads = torch.get_num_threads()
    return _threads


@dataclass(frozen=True)
class _Source:
    label: str  # what LoadedWhisper.source reports
    path: Path  # the file that must exist
    official: bool  # load by name (whisper checks SHA-256, sets alignment heads)
    name_hint: str | None  # the official name for the fetch command, if any


def _resolve(model: str | Path, root: str | Path | None) -> _Source:
    if isinstance(model, str) and model in official_whisper_names():
        return _Source(model, whisper_checkpoint_file(model, root), True, model)
    path = Path(model)
    stem = path.name.removesuffix(".pt")
    hint = stem if stem in official_whisper_names() else None
    return _Source(str(path.resolve()), path, False, hint)


PROJECTION_ENV = "WARMLINE_WHISPER_PROJECTION"


def _projection(model: Whisper, device: torch.device, precision: Precision) -> torch.Tensor:
    if precision == "auto":
        # Operators can pin it (float16 / float32) where a measurement at start-up is unreliable.
        configured = os.environ.get(PROJECTION_ENV, "auto")
        if configured not in ("auto", "float16", "float32"):
            raise WhisperLoadError(f"{PROJECTION_ENV} must be auto, float16 or float32")
        precision = cast(Precision, configured)
    if device.type == "cuda":
        dtype = torch.float16
    elif precision == "auto":
        dtype = fastest_projection_dtype(model)
    else:
        dtype = torch.float16 if precision == "float16" else torch.float32
    return projection_weight(model, dtype)


def _verify_checksum(source: _Source) -> None:
    """Whisper re-downloads a file whose SHA-256 is wrong; without consent to download, say so."""
    expected = official_sha256(source.label)
    digest = hashlib.sha256()
    with source.path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise WhisperLoadError(
            f"{source.path} is not the published {source.label} checkpoint (SHA-256 mismatch: "
            f"truncated or replaced); re-fetch with `{fetch_command(source.label)}`"
        )


def _warm_up(model: Whisper, device: torch.device, fp16: bool, projection: torch.Tensor) -> float:
    """One short encode + two decoded tokens: first-call costs land here, not on a caller."""
    started = time.perf_counter()
    audio = np.zeros(16_000, dtype=np.float32)
    mel = log_mel(audio, context_frames(audio.shape[0]), n_mels=model.dims.n_mels, device=device)
    with torch.inference_mode():
        features = encode(model.encoder, mel[None].to(torch.float16 if fp16 else torch.float32))
        options = DecodingOptions(
            language="en", without_timestamps=True, sample_len=2, fp16=fp16, suppress_blank=False
        )
        decode_features(model, features, options, projection=projection)
    return time.perf_counter() - started


def load_whisper(
    model: str | Path = "base.en",
    *,
    device: str | torch.device | None = None,
    root: str | Path | None = None,
    allow_download: bool = False,
    warm_up: bool = True,
    threads: int | None = None,
    projection: Precision = "auto",
) -> LoadedWhisper:
    """Load (or return the already loaded) Whisper `model`: an official name or a checkpoint path.

    `root` is the folder official names are looked up in (default ``models/whisper``, or
    ``$WARMLINE_WHISPER_ROOT``). `projection` is the precision of the answer path's vocabulary
    projection on CPU: "auto" measures float16 against float32 once, here (CUDA: float16).

    Raises :class:`WhisperWeightsMissing` when the file is absent and `allow_download` is false,
    :class:`WhisperLoadError` when it cannot be read. Thread-safe; the first caller loads.
    """
    set_torch_threads(threads)
    target = pick_device(device)
    source = _resolve(model, root)
    cache_key = (f"{source.label}@{source.path.resolve()}", str(target))
    with _cache_lock:
        if cache_key in _cache:
            return _cache[cache_key]
        if not source.path.is_file() and not (source.official and allow_download):
            raise WhisperWeightsMissing(source.path, source.name_hint)
        if source.official and not allow_download:
            _verify_checksum(source)
        started = time.perf_counter()
        try:
            if source.official:
                loaded = whisper.load_model(
                    source.label, device=target, download_root=str(source.path.parent)
                )
            else:
                loaded = whisper.load_model(str(source.path), device=target)
        except Exception as exc:  # torch.load/unpickling/state-dict errors vary by cause
            hint = source.name_hint
            raise WhisperLoadError(
                f"could not load Whisper from {source.path}: {exc}"
                + (f"; re-fetch with `{fetch_command(hint)}`" if hint else "")
            ) from exc
        loaded.eval()
        load_seconds = time.perf_counter() - started
        fp16 = target.type == "cuda"
        weight = _projection(loaded, target, projection)
        warmup_seconds = _warm_up(loaded, target, fp16, weight) if warm_up else 0.0
        entry = LoadedWhisper(loaded, source.label, target, load_seconds, warmup_seconds, weight)
        _cache[cache_key] = entry
        return entry


def clear_cache() -> None:
    """Forget every loaded model (tests; a worker reloading after a model change)."""
    with _cache_lock:
        _cache.clear()
