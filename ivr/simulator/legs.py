"""Call legs and the small values the call loop passes around (next request, end of a leg)."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ivr.simulator.model import CallGeo, EndReason, Heard, Leg
from ivr.simulator.twiml_reader import Gather

SIP_CODES = {"completed": 200, "busy": 486, "no-answer": 487, "canceled": 487, "failed": 404}


@dataclass(slots=True)
class LegState:
    """One call leg: the inbound caller's, or the child leg a <Dial> creates."""

    call_sid: str
    from_number: str
    to_number: str
    geo: CallGeo
    direction: str = "inbound"
    status: str = "ringing"
    parent_sid: str | None = None
    leg: Leg = "caller"
    heard: list[Heard] = field(default_factory=list)  # since the last input on this leg
    cookies: dict[str, str] = field(default_factory=dict)  # Twilio keeps cookies per call

    def params(self, account_sid: str) -> dict[str, str]:
        """The standard request parameters Twilio sends on every request for this leg."""
        g = self.geo
        params = {
            "CallSid": self.call_sid,
            "AccountSid": account_sid,
            "From": self.from_number,
            "To": self.to_number,
            "CallStatus": self.status,
            "ApiVersion": "2010-04-01",
            "Direction": self.direction,
            "Caller": self.from_number,
            "Called": self.to_number,
        }
        for prefix in ("From", "Caller"):
            params |= {f"{prefix}City": g.from_city, f"{prefix}State": g.from_state}
            params |= {f"{prefix}Zip": g.from_zip, f"{prefix}Country": g.from_country}
        for prefix in ("To", "Called"):
            params |= {f"{prefix}City": g.to_city, f"{prefix}State": g.to_state}
            params |= {f"{prefix}Zip": g.to_zip, f"{prefix}Country": g.to_country}
        if self.parent_sid is not None:
            params["ParentCallSid"] = self.parent_sid
        return params


@dataclass(frozen=True, slots=True)
class Fetch:
    """The next TwiML request; `then_end` posts it, ignores the answer and ends the leg."""

    url: str
    method: str
    extra: dict[str, str]
    kind: str
    then_end: EndReason | None = None


Step = Fetch | EndReason | None  # None: go on with the next verb


class CallEnded(Exception):
    def __init__(self, reason: EndReason, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason: EndReason = reason
        self.code = code


def rfc2822(timestamp: float) -> str:
    return email.utils.format_datetime(datetime.fromtimestamp(timestamp, tz=UTC))


def collect_digits(keys: str, spec: Gather) -> tuple[str, str]:
    """Apply finishOnKey and numDigits to the keys pressed: (Digits, FinishedOnKey)."""
    collected = ""
    for key in keys:
        if spec.finish_on_key and key in spec.finish_on_key:
            return collected, key
        collected += key
        if spec.num_digits is not None and len(collected) >= spec.num_digits:
            break
    return collected, ""
