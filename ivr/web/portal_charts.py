"""The dashboard's period and charts: from the page's query to days, and from
:class:`~ivr.web.dashboard.Dashboard` figures to the inline SVG the page shows.

The SVG comes from :func:`~ivr.web.dashboard.line_chart` and
:func:`~ivr.web.dashboard.bar_chart`, which escape every label themselves; that is why the
page may mark it safe. Days without calls are 0 calls and $0 margin, but a gap in the billable
rate (a rate of nothing is not 0 %).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup

from ivr.web.dashboard import (
    MAX_DAYS,
    SCORE_BUCKETS,
    Dashboard,
    PublisherDay,
    bar_chart,
    line_chart,
)

__all__ = ["DEFAULT_DAYS", "Chart", "Period", "charts", "parse_period_query"]

DEFAULT_DAYS: Final = 30


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    zone: ZoneInfo

    @property
    def form(self) -> dict[str, str]:
        """The values that refill the period form."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat(), "tz": self.zone.key}


@dataclass(frozen=True)
class Chart:
    id: str
    """The element id of the chart's figure (``chart-calls`` …), for links and tests."""
    title: str
    svg: Markup


def parse_period_query(query: Mapping[str, str], now: datetime) -> Period:
    """``from``/``to`` (days, inclusive) in ``tz``; by default the last :data:`DEFAULT_DAYS`
    days up to today in that zone. ValueError says what is wrong."""
    zone_name = (query.get("tz") or "").strip() or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone '{zone_name}' (an IANA name, e.g. America/Chicago)"
        ) from None
    today = now.astimezone(zone).date()
    last = _day(query, "to") or today
    first = _day(query, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ValueError(f"'to' ({last}) is before 'from' ({first})")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValueError(
            f"a dashboard covers at most {MAX_DAYS} days (asked for {(last - first).days + 1})"
        )
    return Period(first, last, zone)


def _day(query: Mapping[str, str], name: str) -> date | None:
    text = (query.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{name}' must be a date, YYYY-MM-DD (got '{text}')") from None


def _series_names(rows: list[PublisherDay]) -> dict[str, str]:
    """Publisher id → the series' name: its name, with the id when two share a name."""
    names: dict[str, str] = {}
    for row in rows:
        names.setdefault(row.publisher_id, row.publisher)
    taken = list(names.values())
    return {
        ident: name if taken.count(name) == 1 else f"{name} ({ident})"
        for ident, name in names.items()
    }


def charts(figures: Dashboard) -> list[Chart]:
    """The dashboard's six charts, in the page's order."""
    labels = [day.strftime("%m-%d") for day in figures.days]
    index = {day: n for n, day in enumerate(figures.days)}
    names = _series_names(figures.publishers)
    calls: dict[str, list[float | None]] = {}
    rates: dict[str, list[float | None]] = {}
    margins: dict[str, list[float | None]] = {}
    for name in names.values():
        calls[name] = [0.0] * len(labels)
        rates[name] = [None] * len(labels)
        margins[name] = [0.0] * len(labels)
    for row in figures.publishers:
        name, at = names[row.publisher_id], index[row.day]
        calls[name][at] = float(row.calls)
        rate = row.billable_rate
        rates[name][at] = None if rate is None else round(rate * 100, 1)
        margins[name][at] = float(row.margin)
    return [
        Chart("chart-calls", "Calls per publisher", _line("Calls per publisher", labels, calls)),
        Chart(
            "chart-billable-rate",
            "Billable rate per publisher",
            _line("Billable rate per publisher (%)", labels, rates, "{:.0f}%"),
        ),
        Chart(
            "chart-margin",
            "Margin per publisher",
            _line("Margin per publisher ($)", labels, margins, "${:,.0f}"),
        ),
        Chart(
            "chart-scores",
            "Score distribution",
            _bars("Score distribution", list(zip(SCORE_BUCKETS, figures.scores, strict=True))),
        ),
        Chart("chart-intents", "Intent mix", _bars("Intent mix", list(figures.intents.items()))),
        Chart(
            "chart-outcomes",
            "Transfer outcomes",
            _bars("Transfer outcomes", list(figures.outcomes.items())),
        ),
    ]


def _line(
    title: str, labels: list[str], series: dict[str, list[float | None]], fmt: str = "{:g}"
) -> Markup:
    return Markup(line_chart(title, labels, series, fmt=fmt))  # noqa: S704 - escaped by ElementTree


def _bars(title: str, bars: list[tuple[str, int]]) -> Markup:
    values = [(label, float(count)) for label, count in bars]
    return Markup(bar_chart(title, values))  # noqa: S704 - escaped by ElementTree
