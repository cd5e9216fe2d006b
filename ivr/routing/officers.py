"""The ``officers:`` section of the deployment file: the buyers calls are transferred to.

Field checks that need no other section live here (time zones, hours, the credit band); the
checks against the answer parsers' values and the pools are in :mod:`ivr.deployment`, with the
rest of the file's cross-checks.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, Field, field_validator

from ivr.fields import E164, HttpUrl, Money, Name, Strict
from ivr.routing.hours import HoursError, Ranges, parse_days, parse_hours, parse_ranges
from scoring.qualification import CREDIT_BANDS

Strategy = Literal["round_robin", "weighted", "waterfall", "ping_post"]

Cap = Annotated[int, Field(ge=0)]


def _grammar(parse: Callable[[str], object]) -> Callable[[str], str]:
    """An after-validator that reports the hours grammar's error at the key or value at fault."""

    def check(value: str) -> str:
        try:
            parse(value)
        except HoursError as error:
            raise ValueError(str(error)) from None
        return value

    return check


Days = Annotated[str, AfterValidator(_grammar(parse_days))]
TimeRanges = Annotated[str, AfterValidator(_grammar(parse_ranges))]


class Caps(Strict):
    """Most calls an officer takes per clock hour, per day (in their zone), and at once."""

    hourly: Cap | None = None
    daily: Cap | None = None
    concurrent: Cap | None = None


class Officer(Strict):
    """A licensed loan officer (a buyer) who takes transfers, and the calls they pay for."""

    id: Name
    name: str
    phone: E164
    nmls_id: Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]
    licences: dict[str, date] = Field(
        min_length=1,
        description="State code → the licence's expiry date (current through that day).",
    )
    loan_types: Annotated[list[str], Field(min_length=1)]
    time_zone: str = Field(description="IANA name, e.g. America/Chicago: hours and days are here.")
    hours: dict[Days, TimeRanges] = Field(
        min_length=1,
        description="Days → time ranges, e.g. {mon-fri: '09:00-18:00'}; see docs/routing.md.",
    )
    holidays: list[date] = Field(default_factory=list)
    caps: Caps = Field(default_factory=Caps)
    priority: Annotated[int, Field(ge=1)] = Field(
        default=1, description="Waterfall order: 1 is tried first."
    )
    weight: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=1, description="Share of calls under the weighted strategy."
    )
    price: Money = Field(description="What the officer pays per billable call.")
    min_billable_s: Annotated[int, Field(ge=0)] = Field(
        default=0, description="Seconds connected before a call is billable."
    )
    min_credit_band: str | None = None
    min_score: Annotated[int, Field(ge=0, le=100)] | None = None
    min_billable_score: Annotated[int, Field(ge=0, le=100)] | None = Field(
        default=None,
        description="A bridged call scoring below this does not bill (unset: any score bills).",
    )
    ping_url: HttpUrl | None = Field(
        default=None, description="Where ping-post asks for a bid before the transfer."
    )
    duplicate_window_h: Annotated[int, Field(ge=0)] = Field(
        default=0, description="Hours in which a repeat caller is not billed again (0: off)."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown time zone '{value}'{hint}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _hours_grammar(cls, value: dict[str, str]) -> dict[str, str]:
        try:
            parse_hours(value)
        except HoursError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("min_credit_band")
    @classmethod
    def _credit_band(cls, value: str | None) -> str | None:
        if value is not None and value not in CREDIT_BANDS:
            raise ValueError(f"unknown credit band '{value}' (one of {', '.join(CREDIT_BANDS)})")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def week(self) -> dict[int, Ranges]:
        """The parsed hours (validated at load, so this cannot fail)."""
        return parse_hours(self.hours)
