"""Logging with PII discipline: static messages, phone numbers only masked, in fields.

Call sites write ``log.info("call started", extra=fields(caller=number))``; :func:`fields` masks
anything that looks like a phone number, so a raw number never reaches a log line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

# A run of digits standing alone (not inside an identifier such as a CallSid's hex).
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s().-]{6,}\d(?!\w)")
_FIELDS = "warmline_fields"


def mask_phone(value: str) -> str:
    """``+15125550123`` → ``+1••••••0123``: enough to correlate, not enough to dial."""
    digits = [c for c in value if c.isdigit()]
    if len(digits) < 7:
        return value
    keep_start = 1 if value.startswith("+") and digits[0] == "1" else 0
    head = ("+" if value.startswith("+") else "") + "".join(digits[:keep_start])
    return head + "•" * (len(digits) - keep_start - 4) + "".join(digits[-4:])


def mask_text(text: str) -> str:
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


@dataclass(frozen=True)
class Verbatim:
    """A value that looks like a number but holds no phone number (a stream entry id, whose
    digits are Redis's clock): logged as it is, so operators can match it."""

    value: str

    def __str__(self) -> str:
        return self.value


def fields(**values: Any) -> dict[str, Any]:
    """Structured fields for ``extra=``; strings are masked."""
    masked = {k: mask_text(v) if isinstance(v, str) else v for k, v in values.items()}
    return {_FIELDS: masked}


class FieldsFormatter(logging.Formatter):
    """Appends the masked structured fields as ``key=value`` after the static message."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = getattr(record, _FIELDS, None)
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return line


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
