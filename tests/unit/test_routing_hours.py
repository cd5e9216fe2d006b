"""The opening-hours grammar (docs/routing.md) and the open-at check, table-driven."""

from __future__ import annotations

from datetime import datetime

import pytest

from ivr.routing.hours import HoursError, is_open, parse_days, parse_hours, parse_ranges

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("spec", "days"),
    [
        ("mon", [0]),
        ("sun", [6]),
        ("mon-fri", [0, 1, 2, 3, 4]),
        ("sat-sun", [5, 6]),
        ("mon-wed, fri", [0, 1, 2, 4]),
        ("Mon-Tue", [0, 1]),
        ("thu-thu", [3]),
    ],
)
def test_days(spec: str, days: list[int]) -> None:
    assert parse_days(spec) == days


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("monday", "'monday' is not a day or days, e.g. 'mon', 'mon-fri' or 'sat, sun'"),
        ("mon-", "'mon-' is not a day or days, e.g. 'mon', 'mon-fri' or 'sat, sun'"),
        ("fri-mon", "'fri-mon' runs backwards: days go mon to sun"),
        ("", "'' is not a day or days, e.g. 'mon', 'mon-fri' or 'sat, sun'"),
    ],
)
def test_bad_days(spec: str, message: str) -> None:
    with pytest.raises(HoursError) as caught:
        parse_days(spec)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "ranges"),
    [
        ("09:00-18:00", ((540, 1080),)),
        ("13:00-18:00, 09:00-12:00", ((540, 720), (780, 1080))),
        ("00:00-24:00", ((0, 1440),)),
        ("20:00-24:00", ((1200, 1440),)),
        ("closed", ()),
        ("Closed", ()),
    ],
)
def test_ranges(text: str, ranges: tuple[tuple[int, int], ...]) -> None:
    assert parse_ranges(text) == ranges


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9-18", "'9-18' is not a time range like '09:00-18:00' (or 'closed')"),
        ("09:00 - 18:00", "'09:00 - 18:00' is not a time range like '09:00-18:00' (or 'closed')"),
        ("09:00-25:00", "'09:00-25:00' is not a time of day (00:00 to 24:00)"),
        ("09:60-18:00", "'09:60-18:00' is not a time of day (00:00 to 24:00)"),
        ("24:00-24:00", "'24:00-24:00' is not a time of day (00:00 to 24:00)"),
        ("09:00-24:30", "'09:00-24:30' is not a time of day (00:00 to 24:00)"),
        (
            "18:00-09:00",
            "'18:00-09:00' ends before it starts; ranges stop at midnight (use 24:00 and "
            "continue on the next day)",
        ),
        (
            "09:00-09:00",
            "'09:00-09:00' ends before it starts; ranges stop at midnight (use 24:00 and "
            "continue on the next day)",
        ),
    ],
)
def test_bad_ranges(text: str, message: str) -> None:
    with pytest.raises(HoursError) as caught:
        parse_ranges(text)
    assert str(caught.value) == message


def test_hours_map_days_to_ranges_and_leave_the_rest_closed() -> None:
    week = parse_hours({"mon-fri": "09:00-18:00", "sat": "10:00-12:00", "sun": "closed"})
    assert week == {
        0: ((540, 1080),),
        1: ((540, 1080),),
        2: ((540, 1080),),
        3: ((540, 1080),),
        4: ((540, 1080),),
        5: ((600, 720),),
        6: (),
    }


def test_a_day_named_twice_is_an_error_whatever_the_order() -> None:
    with pytest.raises(HoursError) as caught:
        parse_hours({"mon-fri": "09:00-18:00", "wed, sat": "10:00-12:00"})
    assert str(caught.value) == "'wed' is in both 'mon-fri' and 'wed, sat'"


# 2026-11-23 is a Monday; 2026-11-28 a Saturday.
@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-23T08:59", False),
        ("2026-11-23T09:00", True),  # the start is inclusive
        ("2026-11-23T11:59", True),
        ("2026-11-23T12:00", False),  # the end is exclusive: lunch
        ("2026-11-23T13:00", True),
        ("2026-11-23T17:59", True),
        ("2026-11-23T18:00", False),
        ("2026-11-28T10:00", False),  # Saturday is not named: closed
        ("2026-11-29T23:59", True),  # Sunday until midnight
    ],
)
def test_is_open(local: str, expected: bool) -> None:
    week = parse_hours({"mon-fri": "09:00-12:00, 13:00-18:00", "sun": "20:00-24:00"})
    assert is_open(week, datetime.fromisoformat(local)) is expected
