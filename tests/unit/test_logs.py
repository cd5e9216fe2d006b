"""Phone numbers never reach a log line unmasked; identifiers stay whole."""

from __future__ import annotations

import logging

import pytest

from ivr.logs import FieldsFormatter, Verbatim, fields, mask_phone, mask_text

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+15125550123", "+1••••••0123"),
        ("caller 512-555-0123 again", "caller ••••••0123 again"),
        ("5125550123", "••••••0123"),
        ("+44 20 7946 0958", "+••••••••0958"),
        ("CAe3530e4067f3d607eb1dbd16aec3aa00", "CAe3530e4067f3d607eb1dbd16aec3aa00"),
        ("RE1234567890abcdef1234567890abcdef", "RE1234567890abcdef1234567890abcdef"),
        ("turn 12, 3 answers", "turn 12, 3 answers"),
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def test_short_numbers_are_not_phone_numbers() -> None:
    assert mask_phone("75201") == "75201"


def test_log_line_carries_masked_fields_after_a_static_message() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "call started", None, None)
    extra = fields(
        caller="+15125550123", call_sid="CA" + "12" * 16, job=Verbatim("1700000000000-0")
    )
    for key, value in extra.items():
        setattr(record, key, value)
    line = FieldsFormatter("%(message)s").format(record)
    assert line == (
        "call started caller=+1••••••0123 call_sid=CA" + "12" * 16 + " job=1700000000000-0"
    )
    assert "5550123" not in line
