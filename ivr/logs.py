"""Logging with PII discipline: static messages, phone numbers only masked, in fields.

Call sites write ``log.info("call started", extra=fields(caller=number))``; :func:`fields` masks
anything that looks like a phone number, so a raw number never reaches a log line. The
formatters mask messages and exception tracebacks too (a library's message or an exception's
text may quote a number). Two formats: ``text`` (a readable line) and ``json`` (one object per
line, for log collectors), chosen by ``WARMLINE_LOG_FORMAT``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

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


class _Masking(logging.Formatter):
    """Masks phone numbers in messages, tracebacks and stacks (never in the timestamp)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = mask_text(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return mask_text(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return mask_text(super().formatStack(stack_info))


class FieldsFormatter(_Masking):
    """Appends the masked structured fields as ``key=value`` after the static message (on its
    line: a traceback follows them)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        extra = getattr(record, _FIELDS, None)
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return line


_JSON_KEYS = ("time", "level", "logger", "message", "exc_info", "stack_info")


class JsonFormatter(_Masking):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, the masked structured fields, and ``exc_info``/``stack_info`` as strings."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        for key, value in (getattr(record, _FIELDS, None) or {}).items():
            document[f"field_{key}" if key in _JSON_KEYS else key] = _json_value(value)
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            document["exc_info"] = record.exc_text
        if record.stack_info:
            document["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(document)


def _json_value(value: Any) -> Any:
    """Numbers, booleans and null as they are (a non-finite float as text); anything else as
    its (already masked) text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


LogFormat = Literal["text", "json"]


def configure(level: str = "INFO", log_format: LogFormat = "text") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        logging.captureWarnings(True)  # a warning printed raw would be a line that is not JSON
    else:
        handler.setFormatter(FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
