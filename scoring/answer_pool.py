"""Whisper for in-call answers, in worker processes: the event loop never runs a model.

Each pool process loads the model once (at start-up, with its warm-up) and then transcribes
answers handed to it as WAV bytes. The server awaits :meth:`AnswerPool.transcribe` like any
other I/O; a slow answer costs the caller time, never another call's webhook.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from scoring.errors import ModelUnavailable
from scoring.transcriber import Transcriber
from scoring.transcripts import AnswerTranscript

_transcriber: Transcriber | None = None
_load_error: str | None = None


def _load(model: str, root: str | None, threads: int | None) -> None:
    # An initializer that raises only breaks the pool, losing the reason: keep it for _ready.
    global _transcriber, _load_error
    try:
        _transcriber = Transcriber.load(model, root=root, threads=threads)
    except Exception as error:
        _load_error = str(error)


def _ready() -> str:
    if _transcriber is None:
        raise ModelUnavailable(_load_error or "the answer pool has no model")
    return _transcriber.loaded.source


def _transcribe(audio: bytes, prompt: str | None) -> AnswerTranscript:
    assert _transcriber is not None, "pool process started without a model"
    return _transcriber.transcribe_answer(audio, initial_prompt=prompt)


class AnswerPool:
    """A pool of processes, each with the Whisper model loaded, for short spoken answers."""

    def __init__(
        self,
        model: str | Path,
        *,
        processes: int = 1,
        root: str | Path | None = None,
        threads: int | None = None,
    ) -> None:
        self.model = str(model)
        self._executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load,
            initargs=(self.model, None if root is None else str(root), threads),
        )

    async def start(self) -> str:
        """Load the model in the pool now, so the first caller does not wait for it.

        Raises :class:`ModelUnavailable` with loading's own message (missing weights name the
        file and the command that fetches them).
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _ready)

    async def transcribe(self, audio: bytes, prompt: str | None = None) -> AnswerTranscript:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _transcribe, audio, prompt)

    def close(self, wait: bool = False) -> None:
        """Stop the processes. ``wait``: join them now — after a failed start, so the interpreter
        does not exit while the pool's wake-up pipe is being torn down (a spurious traceback)."""
        self._executor.shutdown(wait=wait, cancel_futures=True)
