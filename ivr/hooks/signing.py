"""Signing webhook bodies, and checking a signature the way a receiver should.

``X-Warmline-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is HMAC-SHA256 with the
endpoint's secret over ``f"{t}.".encode() + body`` (the raw bytes sent). Signing the time
with the body lets a receiver refuse a replayed request: one whose ``t`` is further than its
tolerance from now, even though the signature is genuine.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

SIGNATURE_HEADER: Final = "X-Warmline-Signature"
EVENT_HEADER: Final = "X-Warmline-Event"
DELIVERY_HEADER: Final = "X-Warmline-Delivery"
DEFAULT_TOLERANCE_S: Final = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``{timestamp}.{body}`` with ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and was made within ``tolerance_s``
    of ``now`` (constant-time comparison)."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))
