"""The data behind the QA pages and the officer portal, as plain SQL over the records.

Every function that lists or reads calls takes ``where``, a clause on ``calls`` ANDed into its
query: the pages pass the signed-in user's access rule (everything for admin and QA staff,
``Call.officer_id == user.officer_id`` for an officer), so a call the user may not see is never
listed, counted or judged.

The call list is one statement: the page's call ids are chosen first (filters, sort and
``LIMIT``/``OFFSET`` over ``calls`` with ``billing_lines`` and ``scores`` joined only when a
filter or the sort needs them, so the ``(campaign|publisher|officer, started_at)`` and
``scores.confidence`` indexes drive it), then that page alone is joined to its names, billing
line, score and newest review (a correlated subquery on ``ix_reviews_call``). The count is a
second statement with the same filters. Paging is by offset, capped at :data:`MAX_PAGE` pages of
at most :data:`MAX_PAGE_SIZE` calls: deep enough for a reviewer, and an offset of 10,000 rows
stays cheap on both databases (``benchmarks/call_list.py``); narrower filters reach the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final, Literal, cast, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from ivr.fields import dollars
from ivr.logs import mask_phone
from ivr.records import tables as t
from scoring.intent.labels import LABELS

__all__ = [
    "MAX_NOTES",
    "MAX_PAGE",
    "MAX_PAGE_SIZE",
    "SORTS",
    "CallFilters",
    "CallPage",
    "CallRow",
    "Dispute",
    "OfficerPage",
    "OfficerTransfer",
    "Verdict",
    "VerdictError",
    "list_calls",
    "officer_transfers",
    "record_verdict",
    "review_queue",
    "verdicts",
]

Sort = Literal["started", "score", "confidence", "duration", "revenue"]
SORTS: Final[tuple[Sort, ...]] = get_args(Sort)
Order = Literal["asc", "desc"]
MAX_PAGE_SIZE: Final = 100
MAX_PAGE: Final = 100
DEFAULT_PAGE_SIZE: Final = 50
MAX_NOTES: Final = 2000
REVIEWER_ROLES: Final = ("admin", "qa")
_YES = {"yes", "true", "1", "on"}
_NO = {"no", "false", "0", "off"}


# -- filters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallFilters:
    """What the call list shows: filters, sort and page. ``None`` filters nothing.

    Build it from a query string with :meth:`parse`, which says what is wrong with a bad value.
    """

    start: datetime | None = None
    """Calls started at or after this (aware)."""
    end: datetime | None = None
    """Calls started before this (aware)."""
    campaign: str | None = None
    publisher: str | None = None
    officer: str | None = None
    intent: str | None = None
    score_min: int | None = None
    score_max: int | None = None
    outcome: str | None = None
    billable: bool | None = None
    """Calls whose billing line bills (True) or does not (False); calls without a line are
    neither."""
    reviewed: bool | None = None
    sort: Sort = "started"
    order: Order = "desc"
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"'{name}' must be an aware time")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("the period ends before it starts")
        if self.sort not in SORTS:
            raise ValueError(f"'sort' must be one of {', '.join(SORTS)} (got '{self.sort}')")
        if self.order not in ("asc", "desc"):
            raise ValueError(f"'order' must be asc or desc (got '{self.order}')")
        if self.intent is not None and self.intent not in LABELS:
            raise ValueError(f"'intent' must be one of {', '.join(LABELS)} (got '{self.intent}')")
        for name in ("score_min", "score_max"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 100:
                raise ValueError(f"'{name}' must be 0 to 100 (got {value})")
        if (
            self.score_min is not None
            and self.score_max is not None
            and self.score_min > self.score_max
        ):
            raise ValueError(
                f"'score_min' ({self.score_min}) is above 'score_max' ({self.score_max})"
            )
        if not 1 <= self.page <= MAX_PAGE:
            raise ValueError(
                f"'page' must be 1 to {MAX_PAGE} (got {self.page}): narrow the filters to go "
                "further"
            )
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"'page_size' must be 1 to {MAX_PAGE_SIZE} (got {self.page_size})")

    @classmethod
    def parse(cls, values: Mapping[str, str]) -> CallFilters:
        """From query-string values: ``from``/``to`` (days, inclusive) in ``tz`` (IANA, UTC by
        default), ``campaign``, ``publisher``, ``officer``, ``intent``, ``score_min``,
        ``score_max``, ``outcome``, ``billable`` and ``reviewed`` (yes/no), ``sort``, ``order``
        (asc/desc; newest first by default), ``page`` and ``page_size``. Empty values filter
        nothing; unknown keys are ignored (the page's own parameters)."""
        given = {key: value.strip() for key, value in values.items() if value and value.strip()}
        zone_name = given.get("tz", "UTC")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone '{zone_name}' (an IANA name, e.g. America/Chicago)"
            ) from None
        first, last = _day(given, "from"), _day(given, "to")
        if first is not None and last is not None and last < first:
            raise ValueError(f"'to' ({last}) is before 'from' ({first})")
        sort = given.get("sort", "started")
        order = given.get("order", "desc")
        if sort not in SORTS:
            raise ValueError(f"'sort' must be one of {', '.join(SORTS)} (got '{sort}')")
        if order not in ("asc", "desc"):
            raise ValueError(f"'order' must be asc or desc (got '{order}')")
        page, page_size = _integer(given, "page"), _integer(given, "page_size")
        return cls(
            start=None if first is None else datetime.combine(first, time(), zone),
            end=None if last is None else datetime.combine(last + timedelta(days=1), time(), zone),
            campaign=given.get("campaign"),
            publisher=given.get("publisher"),
            officer=given.get("officer"),
            intent=given.get("intent"),
            score_min=_integer(given, "score_min"),
            score_max=_integer(given, "score_max"),
            outcome=given.get("outcome"),
            billable=_yes_no(given, "billable"),
            reviewed=_yes_no(given, "reviewed"),
            sort=sort,
            order=cast(Order, order),
            page=1 if page is None else page,
            page_size=DEFAULT_PAGE_SIZE if page_size is None else page_size,
        )


def _day(given: Mapping[str, str], name: str) -> date | None:
    text = given.get(name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{name}' must be a date, YYYY-MM-DD (got '{text}')") from None


def _integer(given: Mapping[str, str], name: str) -> int | None:
    text = given.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"'{name}' must be a whole number (got '{text}')") from None


def _yes_no(given: Mapping[str, str], name: str) -> bool | None:
    text = given.get(name)
    if text is None:
        return None
    if text.lower() in _YES:
        return True
    if text.lower() in _NO:
        return False
    raise ValueError(f"'{name}' must be yes or no (got '{text}')")


# -- the call list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallRow:
    """One line of the call list (and of the review queue)."""

    id: int
    call_sid: str
    started_at: datetime
    campaign_id: str
    campaign: str
    publisher_id: str
    publisher: str
    officer_id: str | None
    officer: str | None
    caller: str
    """Masked: ``+1••••••0123``."""
    status: str
    intent: str | None
    confidence: float | None
    score: int | None
    outcome: str | None
    connected: bool
    duration_s: int | None
    line_id: int | None
    billable: bool | None
    rule: str | None
    reason: str | None
    revenue: Decimal | None
    """The line's revenue as decided (before adjustments); None without a line."""
    reviewed: bool
    verdict_agrees: bool | None
    """The newest review's verdict on the intent label; None when not reviewed."""
    verdict_label: str | None
    verdict_billable: bool | None

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["started_at"] = self.started_at.isoformat()
        data["revenue"] = None if self.revenue is None else str(self.revenue)
        return data


def page_count(total: int, page_size: int) -> int:
    """Pages ``total`` rows fill, capped at :data:`MAX_PAGE` (0 without rows)."""
    return min(MAX_PAGE, -(-total // page_size))


@dataclass(frozen=True)
class CallPage:
    rows: list[CallRow]
    total: int
    """Calls matching the filters (all pages)."""
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.page_size)

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "page": self.page,
            "page_size": self.page_size,
            "pages": self.pages,
            "calls": [row.as_dict() for row in self.rows],
        }


def _filtered(
    query: Select[Any], filters: CallFilters, where: ColumnElement[bool] | None
) -> Select[Any]:
    """``query`` (over ``calls``) narrowed by the filters, joining what they need."""
    call, line, score = t.Call, t.BillingLine, t.Score
    conditions: list[ColumnElement[bool]] = []
    if where is not None:
        conditions.append(where)
    if filters.start is not None:
        conditions.append(call.started_at >= filters.start)
    if filters.end is not None:
        conditions.append(call.started_at < filters.end)
    for column, value in (
        (call.campaign_id, filters.campaign),
        (call.publisher_id, filters.publisher),
        (call.officer_id, filters.officer),
        (call.intent, filters.intent),
        (call.outcome, filters.outcome),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.score_min is not None:
        conditions.append(call.score >= filters.score_min)
    if filters.score_max is not None:
        conditions.append(call.score <= filters.score_max)
    if filters.reviewed is not None:
        reviewed = exists().where(t.Review.call_id == call.id)
        conditions.append(reviewed if filters.reviewed else ~reviewed)
    if filters.billable is not None or filters.sort == "revenue":
        query = query.join(line, line.call_id == call.id, isouter=filters.billable is None)
        if filters.billable is not None:
            conditions.append(line.billable == filters.billable)
    if filters.sort == "confidence":
        query = query.join(score, score.call_id == call.id, isouter=True)
    return query.where(and_(true(), *conditions))


def _sort_key(sort: Sort) -> ColumnElement[Any]:
    keys: dict[str, Any] = {
        "started": t.Call.started_at,
        "score": t.Call.score,
        "confidence": t.Score.confidence,
        "duration": t.Call.duration_s,
        "revenue": t.BillingLine.revenue_cents,
    }
    return keys[sort]  # type: ignore[no-any-return]


def _ordered(key: Any, ident: Any, order: Order, nullable: bool) -> list[ColumnElement[Any]]:
    """``key`` then ``ident`` in ``order``; calls without a value last either way. A key that is
    never null is left plain, so PostgreSQL can walk its index backwards for newest first."""
    ordered = key.asc() if order == "asc" else key.desc()
    if nullable:
        ordered = ordered.nulls_last()
    return [ordered, ident.asc() if order == "asc" else ident.desc()]


def list_calls(
    session: Session, filters: CallFilters, where: ColumnElement[bool] | None = None
) -> CallPage:
    """One page of the calls ``filters`` and ``where`` select, sorted, and how many there are."""
    key = _sort_key(filters.sort)
    chosen = _filtered(select(t.Call.id.label("id"), key.label("key")), filters, where)
    nullable = filters.sort != "started"
    chosen = chosen.order_by(*_ordered(key, t.Call.id, filters.order, nullable))
    page = (
        chosen.limit(filters.page_size)
        .offset((filters.page - 1) * filters.page_size)
        .subquery("page")
    )
    rows = _rows(session, page, _ordered(page.c.key, page.c.id, filters.order, nullable))
    total = session.scalar(_filtered(select(func.count(t.Call.id)), filters, where)) or 0
    return CallPage(rows, int(total), filters.page, filters.page_size)


def _rows(session: Session, page: Any, order: Sequence[ColumnElement[Any]]) -> list[CallRow]:
    """The full rows of the calls in ``page`` (a subquery with an ``id`` column), in ``order``."""
    call, line, score = t.Call, t.BillingLine, t.Score
    newest = aliased(t.Review, name="newest")
    latest_id = (
        select(t.Review.id)
        .where(t.Review.call_id == call.id)
        .order_by(t.Review.created_at.desc(), t.Review.id.desc())
        .limit(1)
        .correlate(call)
        .scalar_subquery()
    )
    query = (
        select(
            call,
            t.Campaign.name,
            t.Publisher.name,
            t.Officer.name,
            score.confidence,
            line.id,
            line.billable,
            line.rule,
            line.reason,
            line.revenue_cents,
            newest.id,
            newest.agrees,
            newest.label,
            newest.billable,
        )
        .select_from(page)
        .join(call, call.id == page.c.id)
        .join(t.Campaign, t.Campaign.id == call.campaign_id, isouter=True)
        .join(t.Publisher, t.Publisher.id == call.publisher_id, isouter=True)
        .join(t.Officer, t.Officer.id == call.officer_id, isouter=True)
        .join(score, score.call_id == call.id, isouter=True)
        .join(line, line.call_id == call.id, isouter=True)
        .join(newest, newest.id == latest_id, isouter=True)
        .order_by(*order)
    )
    rows = []
    for (
        c,
        campaign,
        publisher,
        officer,
        confidence,
        line_id,
        billable,
        rule,
        reason,
        revenue,
        review_id,
        agrees,
        label,
        verdict_billable,
    ) in session.execute(query):
        rows.append(
            CallRow(
                id=c.id,
                call_sid=c.call_sid,
                started_at=c.started_at,
                campaign_id=c.campaign_id,
                campaign=campaign or c.campaign_id,
                publisher_id=c.publisher_id,
                publisher=publisher or c.publisher_id,
                officer_id=c.officer_id,
                officer=officer or c.officer_id,
                caller=mask_phone(c.caller),
                status=c.status,
                intent=c.intent,
                confidence=confidence,
                score=c.score,
                outcome=c.outcome,
                connected=c.connected,
                duration_s=c.duration_s,
                line_id=line_id,
                billable=billable,
                rule=rule,
                reason=reason,
                revenue=None if line_id is None else dollars(int(revenue)),
                reviewed=review_id is not None,
                verdict_agrees=agrees,
                verdict_label=label,
                verdict_billable=verdict_billable,
            )
        )
    return rows


# -- the review queue ----------------------------------------------------------------------------


def review_queue(
    session: Session, where: ColumnElement[bool] | None = None, limit: int = 20
) -> list[CallRow]:
    """Ended calls nobody has reviewed: the classifier's least confident first (calls it did not
    classify after every scored one), then the oldest."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"'limit' must be 1 to {MAX_PAGE_SIZE} (got {limit})")
    call, score = t.Call, t.Score
    unreviewed = ~exists().where(t.Review.call_id == call.id)
    conditions = [call.status == "ended", unreviewed]
    if where is not None:
        conditions.append(where)
    page = (
        select(
            call.id.label("id"),
            score.confidence.label("key"),
            call.started_at.label("started"),
        )
        .join(score, score.call_id == call.id, isouter=True)
        .where(*conditions)
        .order_by(score.confidence.asc().nulls_last(), call.started_at.asc(), call.id.asc())
        .limit(limit)
        .subquery("queue")
    )
    order = [page.c.key.asc().nulls_last(), page.c.started.asc(), page.c.id.asc()]
    return _rows(session, page, order)


# -- verdicts ------------------------------------------------------------------------------------


class VerdictError(ValueError):
    """A verdict that cannot be recorded, and why."""


@dataclass(frozen=True)
class Verdict:
    id: int
    call_sid: str
    reviewer_id: int
    reviewer: str
    agrees: bool
    label: str | None
    """The corrected label (disagreeing); None when the reviewer agreed."""
    billable: bool | None
    notes: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["created_at"] = self.created_at.isoformat()
        return data


def record_verdict(
    session: Session,
    call_sid: str,
    reviewer_id: int,
    agrees: bool,
    label: str | None,
    billable: bool | None,
    notes: str,
    now: datetime,
    where: ColumnElement[bool] | None = None,
) -> t.Review:
    """Store a reviewer's verdict on a call's intent label (and whether it should bill).

    Disagreeing needs the corrected label, one of the intent labels and not the classifier's
    own; agreeing needs a classifier label to agree with, and a label, if given, must be it.
    Earlier verdicts are kept: the newest is the call's."""
    if now.tzinfo is None:
        raise VerdictError("a verdict's time must be aware (UTC)")
    conditions = [t.Call.call_sid == call_sid]
    if where is not None:
        conditions.append(where)
    call = session.scalar(select(t.Call).where(*conditions))
    if call is None:
        raise VerdictError(f"no call '{call_sid}'")
    reviewer = session.get(t.User, reviewer_id)
    if reviewer is None or not reviewer.active:
        raise VerdictError(f"no active user {reviewer_id}")
    if reviewer.role not in REVIEWER_ROLES:
        raise VerdictError(f"user '{reviewer.username}' ({reviewer.role}) cannot review calls")
    label = label.strip() if label and label.strip() else None
    classified = call.intent
    if agrees:
        if classified is None:
            raise VerdictError(
                f"call '{call_sid}' has no intent label to agree with: disagree and give the label"
            )
        if label is not None and label != classified:
            raise VerdictError(
                f"agreeing with '{classified}' but the label given is '{label}': "
                "disagree to correct it"
            )
        label = None
    else:
        if label is None:
            raise VerdictError("disagreeing needs the corrected label")
        if label not in LABELS:
            raise VerdictError(f"label '{label}' is not one of {', '.join(LABELS)}")
        if label == classified:
            raise VerdictError(f"'{label}' is the classifier's own label: agree instead")
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise VerdictError(f"notes are {len(notes)} characters; at most {MAX_NOTES}")
    review = t.Review(
        call_id=call.id,
        reviewer_id=reviewer.id,
        agrees=agrees,
        label=label,
        billable=billable,
        notes=notes,
        created_at=now,
    )
    session.add(review)
    session.flush()
    return review


def verdicts(
    session: Session, call_sid: str, where: ColumnElement[bool] | None = None
) -> list[Verdict]:
    """Every verdict on a call, newest (the call's) first."""
    conditions = [t.Call.call_sid == call_sid]
    if where is not None:
        conditions.append(where)
    query = (
        select(t.Review, t.User.username)
        .join(t.Call, t.Call.id == t.Review.call_id)
        .join(t.User, t.User.id == t.Review.reviewer_id)
        .where(*conditions)
        .order_by(t.Review.created_at.desc(), t.Review.id.desc())
    )
    return [
        Verdict(
            id=review.id,
            call_sid=call_sid,
            reviewer_id=review.reviewer_id,
            reviewer=username,
            agrees=review.agrees,
            label=review.label,
            billable=review.billable,
            notes=review.notes,
            created_at=review.created_at,
        )
        for review, username in session.execute(query)
    ]


# -- the officer portal --------------------------------------------------------------------------


@dataclass(frozen=True)
class Dispute:
    """The newest dispute of a line: open, or the operator's decision."""

    id: int
    status: str
    reason: str
    raised_by: str
    raised_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("raised_at", "resolved_at"):
            value = data[name]
            data[name] = None if value is None else value.isoformat()
        return data


@dataclass(frozen=True)
class OfficerTransfer:
    call: CallRow
    answers: dict[str, str] = field(default_factory=dict)
    """Slot → value as parsed (what the officer bought on)."""
    bridged_s: float | None = None
    dispute: Dispute | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.call.as_dict(),
            "answers": self.answers,
            "bridged_s": self.bridged_s,
            "dispute": None if self.dispute is None else self.dispute.as_dict(),
        }


@dataclass(frozen=True)
class OfficerPage:
    transfers: list[OfficerTransfer]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.page_size)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "page": self.page,
            "page_size": self.page_size,
            "pages": self.pages,
            "transfers": [transfer.as_dict() for transfer in self.transfers],
        }


def officer_transfers(
    session: Session,
    officer_id: str,
    filters: CallFilters,
    where: ColumnElement[bool] | None = None,
) -> OfficerPage:
    """The calls bridged to ``officer_id`` (one page), each with its answers, bridged time,
    billing and newest dispute."""
    mine = t.Call.officer_id == officer_id
    page = list_calls(session, filters, mine if where is None else and_(mine, where))
    ids = [row.id for row in page.rows]
    answers: dict[int, dict[str, str]] = {ident: {} for ident in ids}
    bridged: dict[int, float] = {}
    disputes: dict[int, Dispute] = {}
    if ids:
        for call_id, slot, value in session.execute(
            select(t.Answer.call_id, t.Answer.slot, t.Answer.value)
            .where(t.Answer.call_id.in_(ids))
            .order_by(t.Answer.at, t.Answer.id)
        ):
            answers[call_id][slot] = value
        newest_first = (
            select(t.BillingLine.call_id, t.BillingLine.bridged_s, t.Adjustment)
            .join(
                t.Adjustment,
                and_(
                    t.Adjustment.billing_line_id == t.BillingLine.id,
                    t.Adjustment.kind == literal("dispute"),
                ),
                isouter=True,
            )
            .where(t.BillingLine.call_id.in_(ids))
            .order_by(t.Adjustment.id.desc())
        )
        for call_id, bridged_s, adjustment in session.execute(newest_first):
            bridged[call_id] = bridged_s
            if adjustment is not None and call_id not in disputes:
                disputes[call_id] = Dispute(
                    id=adjustment.id,
                    status=adjustment.status,
                    reason=adjustment.reason,
                    raised_by=adjustment.raised_by,
                    raised_at=adjustment.raised_at,
                    resolved_by=adjustment.resolved_by,
                    resolved_at=adjustment.resolved_at,
                    resolution=adjustment.resolution,
                )
    transfers = [
        OfficerTransfer(
            call=row,
            answers=answers[row.id],
            bridged_s=bridged.get(row.id),
            dispute=disputes.get(row.id),
        )
        for row in page.rows
    ]
    return OfficerPage(transfers, page.total, page.page, page.page_size)
