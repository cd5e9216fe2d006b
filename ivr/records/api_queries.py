"""What the REST API reads, each under the caller's access rule: one call's record in the API's
form, and the billing lines list.

The rule is :func:`ivr.web.recordings.visible_calls`, the one the pages use (everything for
admins and QA staff, an officer's own calls for an officer): a call outside it is answered
exactly like a call that does not exist. The record itself is
:func:`ivr.records.record.call_record`; the list of calls is :func:`ivr.web.queries.list_calls`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import Session

from ivr.fields import dollars
from ivr.records import tables as t
from ivr.records.record import call_record
from ivr.records.reports import accepted_adjustments
from ivr.web.queries import CallFilters, page_count


def audio_url(recording_sid: str) -> str:
    """Where the API streams a recording from (never the carrier's URL, nor the store's path)."""
    return f"/api/recordings/{quote(recording_sid, safe='')}/audio"


def visible_call_id(session: Session, call_sid: str, where: ColumnElement[bool]) -> int | None:
    return session.scalar(select(t.Call.id).where(t.Call.call_sid == call_sid, where))


def api_record(
    session: Session, call_sid: str, where: ColumnElement[bool]
) -> dict[str, Any] | None:
    """The call's whole record if ``where`` admits the call; recordings by their API audio URL."""
    if visible_call_id(session, call_sid, where) is None:
        return None
    record = call_record(session, call_sid)
    if record is None:  # removed between the two reads
        return None
    record["recordings"] = [
        {
            **{key: value for key, value in item.items() if key not in ("url", "path")},
            "audio": audio_url(item["recording_sid"]) if item["path"] else None,
            "transcribed": item["transcript"] is not None,
        }
        for item in record["recordings"]
    ]
    return record


def call_confidence(session: Session, call_sid: str) -> float | None:
    return session.scalar(
        select(t.Score.confidence)
        .join(t.Call, t.Call.id == t.Score.call_id)
        .where(t.Call.call_sid == call_sid)
    )


@dataclass(frozen=True)
class BillingPage:
    lines: list[dict[str, Any]]
    total: int
    page: int
    page_size: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "page": self.page,
            "page_size": self.page_size,
            "pages": page_count(self.total, self.page_size),
            "lines": self.lines,
        }


def billing_lines(
    session: Session, filters: CallFilters, where: ColumnElement[bool]
) -> BillingPage:
    """Billing lines of the calls ``where`` admits, newest first, one page: the period, officer,
    publisher, campaign and billable filters of ``filters`` apply (to the line's own columns)."""
    line, call = t.BillingLine, t.Call
    conditions: list[ColumnElement[bool]] = [where]
    if filters.start is not None:
        conditions.append(line.started_at >= filters.start)
    if filters.end is not None:
        conditions.append(line.started_at < filters.end)
    for column, value in (
        (line.officer_id, filters.officer),
        (line.publisher_id, filters.publisher),
        (line.campaign_id, filters.campaign),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.billable is not None:
        conditions.append(line.billable == filters.billable)
    chosen = and_(true(), *conditions)
    accepted = accepted_adjustments()
    query = (
        select(line, call.call_sid, accepted.c.revenue, accepted.c.payout)
        .join(call, call.id == line.call_id)
        .outerjoin(accepted, accepted.c.line_id == line.id)
        .where(chosen)
        .order_by(line.started_at.desc(), line.id.desc())
        .limit(filters.page_size)
        .offset((filters.page - 1) * filters.page_size)
    )
    lines = [
        {
            "line_id": row.id,
            "call_sid": call_sid,
            "started_at": row.started_at.isoformat(),
            "officer_id": row.officer_id,
            "publisher_id": row.publisher_id,
            "campaign_id": row.campaign_id,
            "connected": row.connected,
            "bridged_s": row.bridged_s,
            "score": row.score,
            "billable": row.billable,
            "rule": row.rule,
            "reason": row.reason,
            "revenue": str(dollars(row.revenue_cents)),
            "payout": str(dollars(row.payout_cents)),
            "net_revenue": str(dollars(row.revenue_cents + int(more or 0))),
            "net_payout": str(dollars(row.payout_cents + int(less or 0))),
            "decided_at": row.decided_at.isoformat(),
        }
        for row, call_sid, more, less in session.execute(query)
    ]
    total = session.scalar(
        select(func.count(line.id)).join(call, call.id == line.call_id).where(chosen)
    )
    return BillingPage(lines, int(total or 0), filters.page, filters.page_size)
