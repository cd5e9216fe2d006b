"""Opening hours: the small grammar of an officer's ``hours:`` and the check "open at this time".

A deployment names hours as a mapping of days to time ranges, in the officer's own time zone::

    hours:
      mon-fri: "09:00-18:00"
      sat: "10:00-12:00, 13:00-15:00"

Keys are a day (``mon`` … ``sun``), a forward range of days (``mon-fri``) or a comma list of
those (``mon-wed, fri``). Values are one or more ``HH:MM-HH:MM`` ranges separated by commas,
each ending after it starts (``24:00`` ends at midnight), or ``closed``. Days not named are
closed; a day named twice is an error, so the file never depends on key order. Ranges do not run
past midnight: write ``fri: "20:00-24:00"`` and ``sat: "00:00-02:00"`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names in ``datetime.weekday()`` order."""

Ranges = tuple[tuple[int, int], ...]
"""Open ranges of one day, as minutes since local midnight, start inclusive, end exclusive."""

WeeklyHours = Mapping[int, Ranges]
"""Weekday (0 = Monday) → that day's open ranges; a weekday absent is closed."""

_RANGE = re.compile(r"^([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})$")


class HoursError(ValueError):
    """A day or time range that does not follow the grammar (the message says how)."""


def parse_days(spec: str) -> list[int]:
    """``"mon-wed, fri"`` → ``[0, 1, 2, 4]``."""
    days: list[int] = []
    for part in (p.strip() for p in spec.lower().split(",")):
        first, dash, last = part.partition("-")
        if first not in DAYS or (dash and last not in DAYS):
            raise HoursError(f"'{spec}' is not a day or days, e.g. 'mon', 'mon-fri' or 'sat, sun'")
        start, end = DAYS.index(first), DAYS.index(last) if dash else DAYS.index(first)
        if end < start:
            raise HoursError(f"'{part}' runs backwards: days go mon to sun")
        days.extend(range(start, end + 1))
    return days


def parse_ranges(text: str) -> Ranges:
    """``"09:00-12:00, 13:00-18:00"`` → minutes since midnight; ``"closed"`` → no ranges."""
    if text.strip().lower() == "closed":
        return ()
    ranges: list[tuple[int, int]] = []
    for part in (p.strip() for p in text.split(",")):
        match = _RANGE.fullmatch(part)
        if match is None:
            raise HoursError(f"'{part}' is not a time range like '09:00-18:00' (or 'closed')")
        start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
        if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or (end_h == 24 and end_m):
            raise HoursError(f"'{part}' is not a time of day (00:00 to 24:00)")
        start, end = start_h * 60 + start_m, end_h * 60 + end_m
        if end <= start:
            raise HoursError(
                f"'{part}' ends before it starts; ranges stop at midnight (use 24:00 and "
                "continue on the next day)"
            )
        ranges.append((start, end))
    return tuple(sorted(ranges))


def parse_hours(hours: Mapping[str, str]) -> dict[int, Ranges]:
    """A deployment's ``hours:`` mapping, checked; raises :class:`HoursError` on the first slip."""
    week: dict[int, Ranges] = {}
    named_by: dict[int, str] = {}
    for spec, text in hours.items():
        ranges = parse_ranges(text)
        for day in parse_days(spec):
            if day in named_by:
                raise HoursError(f"'{DAYS[day]}' is in both '{named_by[day]}' and '{spec}'")
            named_by[day] = spec
            week[day] = ranges
    return week


def is_open(week: WeeklyHours, local: datetime) -> bool:
    """Whether ``local`` (already in the officer's zone) falls in one of its day's ranges."""
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in week.get(local.weekday(), ()))
