"""Whether one officer may take one call at one moment, and every reason why not.

Pure: the call's anonymised attributes, the time and the officer's current usage are passed in
(usage will come from Redis in a later slice), so the same inputs always give the same answer and
``warmline route --explain`` can show exactly what the router would decide. Dates and hours are
the officer's own: a licence is current through its expiry date in their time zone, and
``zoneinfo`` makes a 09:00 opening 09:00 on both sides of a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ivr.routing.hours import is_open
from ivr.routing.officers import Officer
from scoring.qualification import CREDIT_BANDS


@dataclass(frozen=True)
class CallAttributes:
    """What routing may know about a call: its answers, never who the caller is."""

    loan_type: str | None = None
    state: str | None = None
    credit_band: str | None = None
    score: int | None = None


@dataclass(frozen=True)
class Usage:
    """Calls an officer has taken this clock hour and this day (in their zone), and has now."""

    hourly: int = 0
    daily: int = 0
    concurrent: int = 0


@dataclass(frozen=True)
class Eligibility:
    """The verdict with every failing check, so an operator fixes all of them at once."""

    eligible: bool
    reasons: list[str] = field(default_factory=list)


def eligibility(officer: Officer, call: CallAttributes, now: datetime, usage: Usage) -> Eligibility:
    """Check licence, loan type, hours, caps and minimums; ``now`` must carry its UTC offset."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("eligibility needs an aware datetime (with a UTC offset)")
    local = now.astimezone(officer.zone)
    reasons = [
        *_licence(officer, call, local),
        *_loan_type(officer, call),
        *_hours(officer, local),
        *_caps(officer, usage),
        *_minimums(officer, call),
    ]
    return Eligibility(not reasons, reasons)


def unmet_filters(officer: Officer, call: CallAttributes, at: datetime) -> list[str]:
    """The officer's standing filters the call fails — licence, loan type, minimums — without
    the moment's hours and caps: what billing re-checks after the call."""
    local = at.astimezone(officer.zone)
    return [*_licence(officer, call, local), *_loan_type(officer, call), *_minimums(officer, call)]


def _licence(officer: Officer, call: CallAttributes, local: datetime) -> list[str]:
    if call.state is None:
        return ["caller's state unknown"]
    expires = officer.licences.get(call.state)
    if expires is None:
        return [f"no licence for {call.state}"]
    if local.date() > expires:
        return [f"licence {call.state} expired {expires.isoformat()}"]
    return []


def _loan_type(officer: Officer, call: CallAttributes) -> list[str]:
    if call.loan_type is None:
        return ["loan type unknown"]
    if call.loan_type not in officer.loan_types:
        return [f"does not take {call.loan_type}"]
    return []


def _hours(officer: Officer, local: datetime) -> list[str]:
    if local.date() in officer.holidays:
        return [f"holiday {local.date().isoformat()}"]
    if not is_open(officer.week, local):
        return [f"closed: {local:%H:%M} {officer.time_zone}"]
    return []


def _caps(officer: Officer, usage: Usage) -> list[str]:
    reasons = []
    for name in ("hourly", "daily", "concurrent"):
        cap: int | None = getattr(officer.caps, name)
        used: int = getattr(usage, name)
        if cap is not None and used >= cap:
            reasons.append(f"{name} cap {used}/{cap}")
    return reasons


def _minimums(officer: Officer, call: CallAttributes) -> list[str]:
    reasons = []
    band = officer.min_credit_band
    if band is not None:
        if call.credit_band not in CREDIT_BANDS:
            reasons.append(f"credit band unknown (minimum {band})")
        elif call.credit_band is not None and CREDIT_BANDS.index(
            call.credit_band
        ) > CREDIT_BANDS.index(band):
            reasons.append(f"credit band {call.credit_band} below minimum {band}")
    if officer.min_score is not None:
        if call.score is None:
            reasons.append(f"score unknown (minimum {officer.min_score})")
        elif call.score < officer.min_score:
            reasons.append(f"score {call.score} below minimum {officer.min_score}")
    return reasons
