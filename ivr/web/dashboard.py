"""The operator dashboard: figures over a period, and the SVG charts the page inlines.

Figures are computed in the database, the same way on SQLite and PostgreSQL:

- per publisher per day: calls (ended calls, with a billing line, as in the P&L), billable
  rate, revenue, payout and margin net of accepted adjustments. Days are the zone's days:
  each call's day is a ``CASE`` over the day boundaries computed here (right across daylight
  saving changes), so no database date function or time zone table is needed;
- the score distribution, in buckets of ten (``90–100`` holds the 100s);
- the intent mix (calls the classifier labelled, and those it did not);
- transfer outcomes: officer legs (``transfer_attempts``) by how they ended.

Charts are SVG built with :mod:`xml.etree.ElementTree`, so every label (a publisher's name is
whatever the deployment says) is escaped by the serializer: no scripts, no external library.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from ivr.fields import dollars
from ivr.records import tables as t
from ivr.records.reports import accepted_adjustments

__all__ = [
    "MAX_DAYS",
    "SCORE_BUCKETS",
    "Dashboard",
    "PublisherDay",
    "bar_chart",
    "dashboard",
    "intent_mix",
    "line_chart",
    "publisher_days",
    "score_histogram",
    "transfer_outcomes",
]

MAX_DAYS: Final = 366
SCORE_BUCKETS: Final[tuple[str, ...]] = tuple(
    f"{low}–{low + 9}" if low < 90 else "90–100" for low in range(0, 100, 10)
)
UNCLASSIFIED: Final = "(unclassified)"
NO_OUTCOME: Final = "(in progress)"


@dataclass(frozen=True)
class PublisherDay:
    publisher_id: str
    publisher: str
    day: date
    calls: int
    billable: int
    revenue: Decimal
    payout: Decimal

    @property
    def billable_rate(self) -> float | None:
        return self.billable / self.calls if self.calls else None

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.payout


@dataclass(frozen=True)
class Dashboard:
    days: list[date]
    publishers: list[PublisherDay]
    scores: list[int]
    """Calls per score bucket, in :data:`SCORE_BUCKETS` order."""
    intents: dict[str, int]
    outcomes: dict[str, int]


def _days(first: date, last: date, zone: ZoneInfo) -> list[tuple[date, datetime, datetime]]:
    if last < first:
        raise ValueError(f"'to' ({last}) is before 'from' ({first})")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise ValueError(f"a dashboard covers at most {MAX_DAYS} days (asked for {count})")
    return [
        (
            first + timedelta(days=n),
            datetime.combine(first + timedelta(days=n), time(), zone),
            datetime.combine(first + timedelta(days=n + 1), time(), zone),
        )
        for n in range(count)
    ]


def _scoped(query: Any, where: ColumnElement[bool] | None, joined: bool) -> Any:
    if where is None:
        return query
    if not joined:
        query = query.join(t.Call, t.Call.id == t.BillingLine.call_id)
    return query.where(where)


def publisher_days(
    session: Session,
    first: date,
    last: date,
    zone: ZoneInfo,
    where: ColumnElement[bool] | None = None,
) -> list[PublisherDay]:
    """Calls, billable calls and money per publisher per day (days ``first``..``last`` in
    ``zone``); only days with calls are listed."""
    days = _days(first, last, zone)
    line = t.BillingLine
    day_index = case(
        *((line.started_at < end, index) for index, (_, _, end) in enumerate(days)),
        else_=-1,
    ).label("day")
    in_period = and_(line.started_at >= days[0][1], line.started_at < days[-1][2])
    accepted = accepted_adjustments()
    query = (
        select(
            line.publisher_id,
            day_index,
            func.count(),
            func.sum(case((line.billable, 1), else_=0)),
            func.sum(line.revenue_cents + func.coalesce(accepted.c.revenue, 0)),
            func.sum(line.payout_cents + func.coalesce(accepted.c.payout, 0)),
        )
        .select_from(line)
        .join(accepted, accepted.c.line_id == line.id, isouter=True)
        .where(in_period)
        .group_by(line.publisher_id, day_index)
        .order_by(line.publisher_id, day_index)
    )
    rows = session.execute(_scoped(query, where, joined=False)).all()
    names = dict(
        session.execute(
            select(t.Publisher.id, t.Publisher.name).where(
                t.Publisher.id.in_({row[0] for row in rows})
            )
        ).all()
    )
    return [
        PublisherDay(
            publisher_id=publisher,
            publisher=names.get(publisher, publisher),
            day=days[index][0],
            calls=int(calls),
            billable=int(billable or 0),
            revenue=dollars(int(revenue or 0)),
            payout=dollars(int(payout or 0)),
        )
        for publisher, index, calls, billable, revenue, payout in rows
    ]


def _period_of_calls(
    first: date, last: date, zone: ZoneInfo, where: ColumnElement[bool] | None
) -> list[ColumnElement[bool]]:
    days = _days(first, last, zone)
    conditions = [t.Call.started_at >= days[0][1], t.Call.started_at < days[-1][2]]
    return conditions if where is None else [*conditions, where]


def score_histogram(
    session: Session,
    first: date,
    last: date,
    zone: ZoneInfo,
    where: ColumnElement[bool] | None = None,
) -> list[int]:
    """Scored calls started in the period per bucket of ten (:data:`SCORE_BUCKETS`)."""
    score = t.Call.score
    bucket = case(*((score < low + 10, low // 10) for low in range(0, 90, 10)), else_=9)
    counts: dict[int, int] = dict(
        session.execute(
            select(bucket, func.count())
            .where(score.is_not(None), *_period_of_calls(first, last, zone, where))
            .group_by(bucket)
        ).all()
    )
    return [int(counts.get(index, 0)) for index in range(len(SCORE_BUCKETS))]


def intent_mix(
    session: Session,
    first: date,
    last: date,
    zone: ZoneInfo,
    where: ColumnElement[bool] | None = None,
) -> dict[str, int]:
    """Calls started in the period per intent label, most first; unlabelled calls that were
    scored as :data:`UNCLASSIFIED`."""
    rows = session.execute(
        select(t.Call.intent, func.count())
        .where(t.Call.score.is_not(None), *_period_of_calls(first, last, zone, where))
        .group_by(t.Call.intent)
    ).all()
    mix = {UNCLASSIFIED if label is None else label: int(count) for label, count in rows}
    return dict(sorted(mix.items(), key=lambda item: (-item[1], item[0])))


def transfer_outcomes(
    session: Session,
    first: date,
    last: date,
    zone: ZoneInfo,
    where: ColumnElement[bool] | None = None,
) -> dict[str, int]:
    """Officer legs dialled on calls started in the period, by outcome, most first."""
    attempt = t.TransferAttempt
    rows = session.execute(
        select(attempt.outcome, func.count())
        .join(t.Call, t.Call.id == attempt.call_id)
        .where(*_period_of_calls(first, last, zone, where))
        .group_by(attempt.outcome)
    ).all()
    outcomes = {NO_OUTCOME if outcome is None else outcome: int(n) for outcome, n in rows}
    return dict(sorted(outcomes.items(), key=lambda item: (-item[1], item[0])))


def dashboard(
    session: Session,
    first: date,
    last: date,
    zone: ZoneInfo,
    where: ColumnElement[bool] | None = None,
) -> Dashboard:
    """Everything the dashboard page shows for days ``first``..``last`` in ``zone``."""
    return Dashboard(
        days=[day for day, _, _ in _days(first, last, zone)],
        publishers=publisher_days(session, first, last, zone, where),
        scores=score_histogram(session, first, last, zone, where),
        intents=intent_mix(session, first, last, zone, where),
        outcomes=transfer_outcomes(session, first, last, zone, where),
    )


# -- charts --------------------------------------------------------------------------------------

SVG_NS: Final = "http://www.w3.org/2000/svg"
COLOURS: Final = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
_MARGIN = {"left": 56, "right": 16, "top": 32, "bottom": 40}
_LEGEND_ROW = 16


def _svg(title: str, width: int, height: int) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "width": str(width),
            "height": str(height),
            "viewBox": f"0 0 {width} {height}",
            "role": "img",
            "font-family": "sans-serif",
            "font-size": "11",
        },
    )
    ET.SubElement(svg, "title").text = title
    heading = ET.SubElement(svg, "text", {"x": str(_MARGIN["left"]), "y": "18"})
    heading.set("font-size", "13")
    heading.set("font-weight", "bold")
    heading.text = title
    return svg


def _nice_top(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _axes(
    svg: ET.Element,
    width: int,
    height: int,
    low: float,
    high: float,
    fmt: str,
    legend_rows: int,
) -> tuple[float, float, float, float]:
    """Draw the y axis with five gridlines; return the plot's left, top, right, bottom."""
    left, right = _MARGIN["left"], width - _MARGIN["right"]
    top, bottom = _MARGIN["top"], height - _MARGIN["bottom"] - legend_rows * _LEGEND_ROW
    for step in range(5):
        value = low + (high - low) * step / 4
        y = bottom - (bottom - top) * step / 4
        ET.SubElement(
            svg,
            "line",
            {"x1": f"{left}", "x2": f"{right}", "y1": f"{y:.1f}", "y2": f"{y:.1f}"},
        ).set("stroke", "#ddd")
        tick = ET.SubElement(svg, "text", {"x": f"{left - 6}", "y": f"{y + 4:.1f}"})
        tick.set("text-anchor", "end")
        tick.text = fmt.format(value)
    return left, top, right, bottom


def _x_labels(
    svg: ET.Element, labels: Sequence[str], xs: Sequence[float], bottom: float, every: int
) -> None:
    for index, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if index % every == 0:
            text = ET.SubElement(svg, "text", {"x": f"{x:.1f}", "y": f"{bottom + 16:.1f}"})
            text.set("text-anchor", "middle")
            text.text = label


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    width: int = 640,
    height: int = 260,
    fmt: str = "{:g}",
) -> str:
    """Lines over ``labels`` (the x axis, e.g. days), one per named series; ``None`` is a gap.
    Returns the SVG as a string to inline."""
    for name, values in series.items():
        if len(values) != len(labels):
            raise ValueError(f"series '{name}' has {len(values)} values for {len(labels)} labels")
    svg = _svg(title, width, height)
    numbers = [v for values in series.values() for v in values if v is not None]
    low = min(0.0, *numbers) if numbers else 0.0
    high = _nice_top(max(numbers, default=0.0))
    left, top, right, bottom = _axes(svg, width, height, low, high, fmt, len(series))
    count = len(labels)
    xs = [left + (right - left) * (i + 0.5) / max(count, 1) for i in range(count)]

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * (value - low) / ((high - low) or 1.0)

    for number, (name, values) in enumerate(series.items()):
        colour = COLOURS[number % len(COLOURS)]
        group = ET.SubElement(svg, "g", {"stroke": colour, "fill": colour})
        ET.SubElement(group, "title").text = name
        runs: list[list[str]] = [[]]
        for x, value in zip(xs, values, strict=True):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{x:.1f},{y_of(value):.1f}")
            ET.SubElement(
                group, "circle", {"cx": f"{x:.1f}", "cy": f"{y_of(value):.1f}", "r": "2.5"}
            )
        for run in runs:
            if len(run) > 1:
                ET.SubElement(group, "polyline", {"points": " ".join(run), "fill": "none"})
        _legend(svg, number, name, colour, left, bottom)
    _x_labels(svg, labels, xs, bottom, max(1, math.ceil(count / 10)))
    return ET.tostring(svg, encoding="unicode")


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    width: int = 640,
    height: int = 260,
    fmt: str = "{:g}",
) -> str:
    """One vertical bar per ``(label, value)``, the value written above it. Returns the SVG."""
    svg = _svg(title, width, height)
    values = [value for _, value in bars]
    if any(value < 0 for value in values):
        raise ValueError("bar charts show counts and totals: no negative values")
    high = _nice_top(max(values, default=0.0))
    left, top, right, bottom = _axes(svg, width, height, 0.0, high, fmt, 0)
    slot = (right - left) / max(len(bars), 1)
    xs = []
    for index, (label, value) in enumerate(bars):
        x = left + slot * index
        h = (bottom - top) * value / high
        rect = ET.SubElement(
            svg,
            "rect",
            {
                "x": f"{x + slot * 0.15:.1f}",
                "y": f"{bottom - h:.1f}",
                "width": f"{slot * 0.7:.1f}",
                "height": f"{h:.1f}",
                "fill": COLOURS[0],
            },
        )
        ET.SubElement(rect, "title").text = f"{label}: {fmt.format(value)}"
        above = ET.SubElement(
            svg, "text", {"x": f"{x + slot / 2:.1f}", "y": f"{bottom - h - 3:.1f}"}
        )
        above.set("text-anchor", "middle")
        above.text = fmt.format(value)
        xs.append(x + slot / 2)
    _x_labels(svg, [label for label, _ in bars], xs, bottom, 1)
    return ET.tostring(svg, encoding="unicode")


def _legend(svg: ET.Element, row: int, name: str, colour: str, left: float, bottom: float) -> None:
    """The series' name under the x labels, one row each."""
    y = bottom + 30 + row * _LEGEND_ROW
    ET.SubElement(
        svg, "rect", {"x": f"{left}", "y": f"{y - 9}", "width": "10", "height": "10"}
    ).set("fill", colour)
    label = ET.SubElement(svg, "text", {"x": f"{left + 16}", "y": f"{y}"})
    label.text = name
