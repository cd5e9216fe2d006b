"""Where model weights live and how they are fetched (``warmline models fetch whisper NAME``).

Weights are never committed and never downloaded behind the caller's back: the IVR's worker
processes load what is on disk and fail with a message that names the fetch command
(:mod:`scoring.whisper_model`), and an operator fetches once per machine with that command, which
lands here. Whisper's own downloader is used so the file name, URL and SHA-256 check are exactly
those ``whisper.load_model(name, download_root=...)`` expects.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import whisper

DEFAULT_WHISPER_ROOT = Path("models/whisper")
"""Default folder for Whisper checkpoints (git-ignored); override with ``WARMLINE_WHISPER_ROOT``."""


class ModelFetchError(RuntimeError):
    """Download failed (offline machine, bad checksum); the message says what to do instead."""


def whisper_root(root: str | Path | None = None) -> Path:
    """The checkpoint folder: `root`, else ``$WARMLINE_WHISPER_ROOT``, else ``models/whisper``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("WARMLINE_WHISPER_ROOT", str(DEFAULT_WHISPER_ROOT)))


def official_whisper_names() -> list[str]:
    """Names ``whisper.load_model`` downloads by (tiny.en, base.en, …)."""
    return [str(name) for name in whisper.available_models()]


def _url(name: str) -> str:
    return str(whisper._MODELS[name])


def whisper_checkpoint_file(name: str, root: str | Path | None = None) -> Path:
    """Where whisper's downloader stores (and ``load_model`` looks for) the named checkpoint."""
    if name not in official_whisper_names():
        raise ValueError(
            f"unknown Whisper model {name!r}; available: {', '.join(official_whisper_names())}"
        )
    return whisper_root(root) / os.path.basename(_url(name))


def official_sha256(name: str) -> str:
    """The SHA-256 whisper expects for the named checkpoint (it is part of the download URL)."""
    whisper_checkpoint_file(name)  # validates the name
    return _url(name).split("/")[-2]


def fetch_command(name: str) -> str:
    """The shell command that fetches the named Whisper checkpoint."""
    return f"warmline models fetch whisper {name}"


def fetch_whisper(name: str, root: str | Path | None = None) -> Path:
    """Download the official checkpoint `name` into `root` (SHA-256 checked) and return its path.

    Already present with the right checksum: nothing is downloaded. Uses whisper's own
    ``_download`` (the function ``load_model`` calls), so the result loads by name offline.
    """
    target = whisper_checkpoint_file(name, root)
    url = _url(name)
    try:
        path = whisper._download(url, str(target.parent), False)
    except (urllib.error.URLError, OSError) as exc:
        raise ModelFetchError(
            f"could not download Whisper {name!r} from {url}: {exc}. On a machine without "
            f"internet access, copy {target.name} (fetched elsewhere with "
            f"`{fetch_command(name)}`) into {target.parent}/"
        ) from exc
    except RuntimeError as exc:  # whisper raises RuntimeError on a checksum mismatch
        raise ModelFetchError(f"Whisper {name!r} from {url}: {exc}") from exc
    return Path(str(path))
