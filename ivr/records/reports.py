"""Reports over the records: the P&L, the per-call listing, and one call's whole record.

The P&L is computed in the database, never in Python: one GROUP BY scan of ``billing_lines``
over the period (by ``started_at``, indexed) and one small GROUP BY of the adjustments, summed
per line and joined to the period's lines. Only accepted adjustments change money; open and
rejected ones are counted, not summed. Money leaves this module as :class:`~decimal.Decimal`
dollars (cents inside).

Phone numbers are masked (:func:`ivr.logs.mask_phone`) unless the caller asks otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Select, Subquery, and_, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from ivr.fields import dollars
from ivr.logs import mask_phone
from ivr.records import tables as t
from ivr.records.record import call_record

__all__ = [
    "DEFAULT_LIMIT",
    "GROUPS",
    "NOT_TRANSFERRED",
    "CallLine",
    "GroupBy",
    "PnlReport",
    "PnlRow",
    "call_record",
    "calls",
    "parse_period",
    "period",
    "pnl",
]

GroupBy = Literal["publisher", "campaign", "officer", "source", "medium", "ad-campaign", "keyword"]
GROUPS: tuple[GroupBy, ...] = get_args(GroupBy)
ATTRIBUTION_GROUPS = frozenset({"source", "medium", "ad-campaign", "keyword"})
"""Groupings by the web visit a call was attributed to (its ``attributions`` row)."""
NOT_TRANSFERRED = "(not transferred)"
NOT_ATTRIBUTED = "(none)"
"""The row of calls without a web visit (or whose visit did not say)."""
TOTAL = "(total)"
DEFAULT_LIMIT = 1000


# -- the period ----------------------------------------------------------------------------------


def period(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Whole days ``first``..``last`` (inclusive) in ``zone``: ``[start, end)``, aware times."""
    start = datetime.combine(first, time(), zone)
    end = datetime.combine(last + timedelta(days=1), time(), zone)
    return start, end


def parse_period(first: str, last: str, zone: str = "UTC") -> tuple[datetime, datetime]:
    """:func:`period` from text (``YYYY-MM-DD`` and a IANA zone); ValueError says what is wrong."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone '{zone}' (an IANA name, e.g. America/Chicago)"
        ) from None
    days = []
    for name, text in (("from", first), ("to", last)):
        try:
            days.append(date.fromisoformat(text))
        except ValueError:
            raise ValueError(f"'{name}' must be a date, YYYY-MM-DD (got '{text}')") from None
    if days[1] < days[0]:
        raise ValueError(f"'to' ({days[1]}) is before 'from' ({days[0]})")
    return period(days[0], days[1], tz)


# -- the P&L -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PnlRow:
    """One key's figures (a publisher, a campaign, an officer) or the totals."""

    key: str | None
    """The publisher, campaign or officer id, or the visit's source, medium, ad campaign or
    keyword; None for calls transferred to nobody (or not attributed), and totals."""
    name: str
    calls: int
    connected: int
    billable: int
    revenue: Decimal
    payout: Decimal
    scored: int
    """Calls with a score (the average is over these)."""
    score_sum: int
    disputes_open: int
    disputes_accepted: int

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.payout

    @property
    def billable_rate(self) -> float | None:
        """Billable calls over all calls (0–1); None without calls."""
        return self.billable / self.calls if self.calls else None

    @property
    def average_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: money as strings of dollars (exact), rates and averages as numbers."""
        rate, average = self.billable_rate, self.average_score
        return {
            "id": self.key,
            "name": self.name,
            "calls": self.calls,
            "connected": self.connected,
            "billable": self.billable,
            "billable_rate": None if rate is None else round(rate, 4),
            "revenue": str(self.revenue),
            "payout": str(self.payout),
            "margin": str(self.margin),
            "average_score": None if average is None else round(average, 2),
            "disputes_open": self.disputes_open,
            "disputes_accepted": self.disputes_accepted,
        }


@dataclass(frozen=True)
class PnlReport:
    by: GroupBy
    start: datetime
    end: datetime
    rows: list[PnlRow]
    totals: PnlRow

    def as_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "rows": [row.as_dict() for row in self.rows],
            "totals": self.totals.as_dict(),
        }


def _count_if(condition: ColumnElement[bool] | InstrumentedAttribute[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _group_key(by: str) -> InstrumentedAttribute[Any]:
    line = t.BillingLine
    columns: Mapping[str, InstrumentedAttribute[Any]] = {
        "publisher": line.publisher_id,
        "campaign": line.campaign_id,
        "officer": line.officer_id,
        "source": t.Attribution.source,
        "medium": t.Attribution.medium,
        "ad-campaign": t.Attribution.campaign,
        "keyword": t.Attribution.keyword,
    }
    if by not in columns:
        raise ValueError(f"cannot group a P&L by '{by}' (one of: {', '.join(GROUPS)})")
    return columns[by]


def pnl(session: Session, by: GroupBy, start: datetime, end: datetime) -> PnlReport:
    """Calls, billing and money per ``by`` for calls started in ``[start, end)``, with totals.

    Revenue and payout are the lines' plus their accepted adjustments (disputes credited,
    corrections); disputes still open are counted beside them.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("a report's period needs UTC-aware times")
    key = _group_key(by)
    line = t.BillingLine
    in_period = and_(line.started_at >= start, line.started_at < end)
    figures = session.execute(
        _with_visit(
            by,
            select(
                key,
                func.count(),
                _count_if(line.connected),
                _count_if(line.billable),
                func.sum(line.revenue_cents),
                func.sum(line.payout_cents),
                func.count(line.score),
                func.sum(line.score),
            ).select_from(line),
        )
        .where(in_period)
        .group_by(key)
    ).all()
    adjustment = t.Adjustment
    accepted = adjustment.status == "accepted"
    dispute = adjustment.kind == "dispute"
    # Adjustments are few: summed per line first, then joined to their lines by primary key
    # (joined the other way round, SQLite would probe the adjustments once per line).
    per_line = (
        select(
            adjustment.billing_line_id.label("line_id"),
            func.sum(case((accepted, adjustment.revenue_delta_cents), else_=0)).label("revenue"),
            func.sum(case((accepted, adjustment.payout_delta_cents), else_=0)).label("payout"),
            _count_if(and_(dispute, adjustment.status == "open")).label("open"),
            _count_if(and_(dispute, accepted)).label("accepted"),
        )
        .group_by(adjustment.billing_line_id)
        .subquery()
    )
    adjusted = {
        row[0]: row[1:]
        for row in session.execute(
            _with_visit(
                by,
                select(
                    key,
                    func.sum(per_line.c.revenue),
                    func.sum(per_line.c.payout),
                    func.sum(per_line.c.open),
                    func.sum(per_line.c.accepted),
                )
                .select_from(per_line)
                .join(line, line.id == per_line.c.line_id),
            )
            .where(in_period)
            .group_by(key)
        ).all()
    }
    names = _names(session, by, [row[0] for row in figures])
    rows = []
    for ident, calls, connected, billable, revenue, payout, scored, score_sum in figures:
        revenue_delta, payout_delta, open_, credited = adjusted.get(ident, (0, 0, 0, 0))
        rows.append(
            PnlRow(
                key=ident,
                name=names.get(ident, ident) if ident is not None else _nobody(by),
                calls=int(calls),
                connected=int(connected or 0),
                billable=int(billable or 0),
                revenue=dollars(int(revenue or 0) + int(revenue_delta or 0)),
                payout=dollars(int(payout or 0) + int(payout_delta or 0)),
                scored=int(scored or 0),
                score_sum=int(score_sum or 0),
                disputes_open=int(open_ or 0),
                disputes_accepted=int(credited or 0),
            )
        )
    rows.sort(key=lambda row: (row.key is None, row.name.casefold(), row.key or ""))
    return PnlReport(by, start, end, rows, _totals(rows))


def _with_visit(by: str, statement: Select[Any]) -> Select[Any]:
    """The statement with each line's web visit (outer-joined) when ``by`` groups by one."""
    if by not in ATTRIBUTION_GROUPS:
        return statement
    visit = t.Attribution
    return statement.outerjoin(visit, visit.call_id == t.BillingLine.call_id)


def _nobody(by: str) -> str:
    return NOT_ATTRIBUTED if by in ATTRIBUTION_GROUPS else NOT_TRANSFERRED


def _names(session: Session, by: str, keys: Sequence[str | None]) -> dict[str | None, str]:
    models: dict[str, type[t.Publisher] | type[t.Campaign] | type[t.Officer]] = {
        "publisher": t.Publisher,
        "campaign": t.Campaign,
        "officer": t.Officer,
    }
    model = models.get(by)
    if model is None:  # a visit's own words: the key is its name
        return {}
    wanted = [key for key in keys if key is not None]
    if not wanted:
        return {}
    found = session.execute(select(model.id, model.name).where(model.id.in_(wanted))).all()
    return {ident: name for ident, name in found}


def _totals(rows: Sequence[PnlRow]) -> PnlRow:
    return PnlRow(
        key=None,
        name=TOTAL,
        calls=sum(row.calls for row in rows),
        connected=sum(row.connected for row in rows),
        billable=sum(row.billable for row in rows),
        revenue=sum((row.revenue for row in rows), Decimal("0.00")),
        payout=sum((row.payout for row in rows), Decimal("0.00")),
        scored=sum(row.scored for row in rows),
        score_sum=sum(row.score_sum for row in rows),
        disputes_open=sum(row.disputes_open for row in rows),
        disputes_accepted=sum(row.disputes_accepted for row in rows),
    )


# -- the per-call listing ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallLine:
    """One call of the listing; money is net of the line's accepted adjustments."""

    call_sid: str
    started_at: datetime
    campaign: str
    publisher: str
    caller: str
    state: str | None
    officer: str | None
    connected: bool
    line_id: int | None
    """The billing line (for ``warmline billing dispute``); None while the call is not ended."""
    bridged_s: float | None
    score: int | None
    billable: bool | None
    rule: str | None
    reason: str | None
    revenue: Decimal | None
    payout: Decimal | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "call_sid": self.call_sid,
            "started_at": self.started_at.isoformat(),
            "campaign": self.campaign,
            "publisher": self.publisher,
            "caller": self.caller,
            "state": self.state,
            "officer": self.officer,
            "connected": self.connected,
            "line_id": self.line_id,
            "bridged_s": self.bridged_s,
            "score": self.score,
            "billable": self.billable,
            "rule": self.rule,
            "reason": self.reason,
            "revenue": None if self.revenue is None else str(self.revenue),
            "payout": None if self.payout is None else str(self.payout),
        }


def accepted_adjustments() -> Subquery:
    """Per billing line, the sum of its accepted adjustments (``line_id``, ``revenue``,
    ``payout`` in cents): what the money on a line has become."""
    adjustment = t.Adjustment
    return (
        select(
            adjustment.billing_line_id.label("line_id"),
            func.sum(adjustment.revenue_delta_cents).label("revenue"),
            func.sum(adjustment.payout_delta_cents).label("payout"),
        )
        .where(adjustment.status == "accepted")
        .group_by(adjustment.billing_line_id)
        .subquery()
    )


def calls(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    show_numbers: bool = False,
    limit: int | None = DEFAULT_LIMIT,
    offset: int = 0,
) -> list[CallLine]:
    """Calls started in ``[start, end)``, oldest first, with their billing (callers masked)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("a report's period needs UTC-aware times")
    call, line = t.Call, t.BillingLine
    accepted = accepted_adjustments()
    query = (
        select(
            call.call_sid,
            call.started_at,
            call.campaign_id,
            call.publisher_id,
            call.caller,
            call.caller_state,
            call.officer_id,
            call.connected,
            line.id,
            line.bridged_s,
            call.score,
            line.billable,
            line.rule,
            line.reason,
            line.revenue_cents,
            line.payout_cents,
            accepted.c.revenue,
            accepted.c.payout,
        )
        .outerjoin(line, line.call_id == call.id)
        .outerjoin(accepted, accepted.c.line_id == line.id)
        .where(call.started_at >= start, call.started_at < end)
        .order_by(call.started_at, call.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    listing = []
    for row in session.execute(query).all():
        (sid, started, campaign, publisher, caller, state, officer, connected, line_id) = row[:9]
        bridged_s, score, billable, rule, reason, revenue, payout, more, less = row[9:]
        has_line = line_id is not None
        listing.append(
            CallLine(
                call_sid=sid,
                started_at=started,
                campaign=campaign,
                publisher=publisher,
                caller=caller if show_numbers else mask_phone(caller),
                state=state,
                officer=officer,
                connected=bool(connected),
                line_id=line_id,
                bridged_s=bridged_s,
                score=score,
                billable=bool(billable) if has_line else None,
                rule=rule,
                reason=reason,
                revenue=dollars(revenue + int(more or 0)) if has_line else None,
                payout=dollars(payout + int(less or 0)) if has_line else None,
            )
        )
    return listing
