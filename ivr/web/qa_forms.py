"""What the QA pages read from and write into their forms and links, kept apart from the
handlers: the call list's filter values and choices, its sort and page links, the verdict form,
and a recording's transcript as lines the player can seek to.

Everything here is pure (or one read-only query for the filter choices), so the handlers stay a
thin layer of access checks and database calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session
from yarl import URL

from ivr.records import tables as t
from ivr.web.queries import SORTS, CallFilters, CallPage, Order, Sort, VerdictError
from scoring.intent.labels import LABELS

LIST_PATH: Final = "/qa/calls"
FILTER_KEYS: Final = (
    "from",
    "to",
    "tz",
    "campaign",
    "publisher",
    "officer",
    "intent",
    "score_min",
    "score_max",
    "outcome",
    "billable",
    "reviewed",
    "sort",
    "order",
    "page",
    "page_size",
)
"""The call list's query parameters (anything else in the query string is ignored)."""
SORT_TITLES: Final = {
    "started": "Started",
    "score": "Score",
    "confidence": "Confidence",
    "duration": "Duration",
    "revenue": "Revenue",
}
FIRST_ORDER: Final = {"confidence": "asc"}
"""A column's order when first sorted by it: the least confident calls are the interesting ones,
otherwise the largest (or newest) first."""
BILLABLE_CHOICES: Final = {"yes": True, "no": False, "unsure": None, "": None}


# -- the call list -------------------------------------------------------------------------------


def given_filters(query: Mapping[str, str]) -> dict[str, str]:
    """The list's parameters as given (trimmed, empty ones dropped): to parse, refill the form and
    build links that keep them."""
    given = {key: query.get(key, "").strip() for key in FILTER_KEYS}
    return {key: value for key, value in given.items() if value}


def parse_filters(given: Mapping[str, str]) -> CallFilters:
    """The filters; ValueError says, in the page's words, what is wrong with a value."""
    return CallFilters.parse(given)


def parse_sort(given: Mapping[str, str]) -> CallFilters:
    """Only the sort and order (for the column headers): no time zone to load, so it is safe on
    the event loop. ValueError for a sort the list does not offer."""
    sort, order = given.get("sort", "started"), given.get("order", "desc")
    return CallFilters(sort=cast(Sort, sort), order=cast(Order, order))


def zone_of(given: Mapping[str, str]) -> ZoneInfo:
    """The zone the list's days (and shown times) are in; UTC when unset or unknown."""
    try:
        return ZoneInfo(given.get("tz") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Choices:
    """What the filter form's selects offer, from the deployment's tables."""

    campaigns: list[tuple[str, str]] = field(default_factory=list)
    publishers: list[tuple[str, str]] = field(default_factory=list)
    officers: list[tuple[str, str]] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    intents: Sequence[str] = LABELS


def load_choices(session: Session) -> Choices:
    """(id, name) of every campaign, publisher and officer, by name, and the outcomes calls have
    ended with (a flow can name its own)."""

    def named(model: type[t.Campaign] | type[t.Publisher] | type[t.Officer]) -> list[Any]:
        return [(ident, name) for ident, name in session.execute(
            select(model.id, model.name).order_by(model.name, model.id)
        )]  # fmt: skip

    outcomes = session.scalars(select(t.Call.outcome).where(t.Call.outcome.is_not(None)).distinct())
    return Choices(
        campaigns=named(t.Campaign),
        publishers=named(t.Publisher),
        officers=named(t.Officer),
        outcomes=sorted(o for o in outcomes if o),
    )


def list_url(given: Mapping[str, str], **changes: str | int) -> str:
    """``/qa/calls`` with ``given`` and ``changes`` as its query (empty values left out)."""
    query = {**given, **{key: str(value) for key, value in changes.items()}}
    return str(URL(LIST_PATH).with_query({k: v for k, v in query.items() if v}))


@dataclass(frozen=True)
class SortLink:
    """A sortable column's header: its link, and ``aria-sort`` when the list is sorted by it."""

    key: str
    title: str
    url: str
    aria: str | None
    """``ascending``/``descending`` for the column the list is sorted by, else None."""


def sort_links(given: Mapping[str, str], filters: CallFilters) -> dict[str, SortLink]:
    """Each sortable column's link, keeping the filters and going back to the first page;
    the current column's link flips its order."""
    kept = {key: value for key, value in given.items() if key not in ("sort", "order", "page")}
    links: dict[str, SortLink] = {}
    for key in SORTS:
        if key == filters.sort:
            order = "asc" if filters.order == "desc" else "desc"
            aria: str | None = "ascending" if filters.order == "asc" else "descending"
        else:
            order, aria = FIRST_ORDER.get(key, "desc"), None
        links[key] = SortLink(key, SORT_TITLES[key], list_url(kept, sort=key, order=order), aria)
    return links


def page_links(given: Mapping[str, str], page: CallPage | None) -> dict[str, str]:
    """The previous and next pages' links (where there are such pages), keeping everything
    else."""
    if page is None:
        return {}
    kept = {key: value for key, value in given.items() if key != "page"}
    links = {}
    if page.page > 1:
        links["previous"] = list_url(kept, page=min(page.page - 1, max(page.pages, 1)))
    if page.has_next:
        links["next"] = list_url(kept, page=page.page + 1)
    return links


def sentence(text: str) -> str:
    """A message as the page shows it: capitalised (the records' messages start lower-case)."""
    return text[:1].upper() + text[1:] if text else text


# -- showing times -------------------------------------------------------------------------------


def when(value: datetime | str | None, zone: ZoneInfo | None = None) -> str:
    """A time as people read it (``2026-11-10 15:00:04 UTC``); ``—`` for none."""
    if value is None:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if zone is not None:
        moment = moment.astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or "")


def clock(seconds: float | None) -> str:
    """An offset into a recording or a duration, ``m:ss`` (``h:mm:ss`` past an hour)."""
    if seconds is None:
        return "—"
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# -- the transcript ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One transcript segment as a clickable line: who spoke, from when, what they said."""

    speaker: str
    start: float
    end: float | None
    text: str

    @property
    def stamp(self) -> str:
        return clock(self.start)

    @property
    def start_attr(self) -> str:
        """The ``data-start`` value the player seeks to (seconds, as JavaScript parses it)."""
        return f"{self.start:.2f}"


def transcript_lines(transcript: Mapping[str, Any] | None) -> list[Line]:
    """A recording's segments (both channels) in the order they were spoken. Segments without a
    usable start are dropped: a line that cannot seek would only mislead."""
    if not transcript:
        return []
    lines = []
    for segment in transcript.get("segments") or []:
        if not isinstance(segment, Mapping):
            continue
        start, end = segment.get("start"), segment.get("end")
        if not isinstance(start, int | float) or start < 0:
            continue
        text = str(segment.get("text") or "").strip()
        if not text:
            continue
        speaker = str(segment.get("speaker") or "unknown")
        lines.append(
            Line(speaker, float(start), float(end) if isinstance(end, int | float) else None, text)
        )
    return sorted(lines, key=lambda line: line.start)


# -- the verdict form ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VerdictForm:
    """The verdict form as posted (kept as text, to show it again when it is refused)."""

    agrees: str = ""
    """``yes`` (agrees with the intent label) or ``no``."""
    label: str = ""
    billable: str = ""
    """``yes``, ``no`` or ``unsure`` (or empty: unsure)."""
    notes: str = ""
    queue: bool = False
    """Sent from the review queue: on success, go on to the next call."""

    @classmethod
    def read(cls, form: Mapping[str, Any]) -> VerdictForm:
        def text(name: str) -> str:
            value = form.get(name)
            return value if isinstance(value, str) else ""

        return cls(
            agrees=text("agrees").strip().lower(),
            label=text("label").strip(),
            billable=text("billable").strip().lower(),
            notes=text("notes"),
            queue=text("queue") == "1",
        )

    def verdict(self) -> tuple[bool, str | None, bool | None]:
        """(agrees, label, billable) for :func:`~ivr.web.queries.record_verdict`; VerdictError
        when a choice is missing or not one the form offers."""
        if self.agrees not in ("yes", "no"):
            raise VerdictError("choose whether you agree with the intent label")
        if self.billable not in BILLABLE_CHOICES:
            raise VerdictError("billable must be yes, no or unsure")
        return self.agrees == "yes", self.label or None, BILLABLE_CHOICES[self.billable]
