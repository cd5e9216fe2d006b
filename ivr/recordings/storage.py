"""Where recordings and their transcripts are kept, behind a small interface.

The local store writes under ``recordings/YYYY/MM/DD/<CallSid>/``; object storage can follow by
implementing :class:`RecordingStore`. Writes go to a temporary name first and are renamed into
place, so a crashed worker never leaves half a file where a reader would take it for whole.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


class RecordingStore(Protocol):
    def put(self, key: str, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...


def recording_key(call_sid: str, name: str, when: datetime | None = None) -> str:
    """``2026/11/23/CA…/RE….wav``: by date, then by call."""
    day = (when or datetime.now(UTC)).strftime("%Y/%m/%d")
    for part in (call_sid, name):
        if not part or "/" in part or part.startswith("."):
            raise ValueError(f"unsafe recording path part {part!r}")
    return f"{day}/{call_sid}/{name}"


class LocalRecordingStore:
    """Recordings on the local disk under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"recording key escapes the store: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> str:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return key

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()
