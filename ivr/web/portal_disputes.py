"""The operator's view of disputes: what is open, what was decided lately.

Each dispute comes with what an operator needs to judge it without opening another page: the
billing line (its rule, reason and money as decided), the call (when, the masked caller, the
publisher) and the officer who raised it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.fields import dollars
from ivr.logs import mask_phone
from ivr.records import tables as t

__all__ = ["RECENT", "DisputeRow", "dispute_exists", "open_disputes", "resolved_disputes"]

RECENT: Final = 20
MAX_OPEN: Final = 500
"""Open disputes on one page: far more than an operator clears in a sitting."""


@dataclass(frozen=True)
class DisputeRow:
    id: int
    status: str
    reason: str
    raised_by: str
    raised_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None
    revenue_delta: Decimal
    payout_delta: Decimal
    line_id: int
    billable: bool
    rule: str
    line_reason: str
    bridged_s: float
    revenue: Decimal
    payout: Decimal
    call_sid: str
    started_at: datetime
    caller: str
    """Masked."""
    publisher: str
    officer_id: str | None
    officer: str | None


def _query(session: Session, *conditions: object, newest: bool, limit: int) -> list[DisputeRow]:
    adjustment, line, call = t.Adjustment, t.BillingLine, t.Call
    order = adjustment.resolved_at.desc() if newest else adjustment.raised_at.asc()
    rows = session.execute(
        select(adjustment, line, call, t.Publisher.name, t.Officer.name)
        .join(line, line.id == adjustment.billing_line_id)
        .join(call, call.id == line.call_id)
        .join(t.Publisher, t.Publisher.id == call.publisher_id, isouter=True)
        .join(t.Officer, t.Officer.id == call.officer_id, isouter=True)
        .where(adjustment.kind == "dispute", *conditions)  # type: ignore[arg-type]
        .order_by(order, adjustment.id)
        .limit(limit)
    ).all()
    return [
        DisputeRow(
            id=a.id,
            status=a.status,
            reason=a.reason,
            raised_by=a.raised_by,
            raised_at=a.raised_at,
            resolved_by=a.resolved_by,
            resolved_at=a.resolved_at,
            resolution=a.resolution,
            revenue_delta=dollars(a.revenue_delta_cents),
            payout_delta=dollars(a.payout_delta_cents),
            line_id=l.id,
            billable=l.billable,
            rule=l.rule,
            line_reason=l.reason,
            bridged_s=l.bridged_s,
            revenue=dollars(l.revenue_cents),
            payout=dollars(l.payout_cents),
            call_sid=c.call_sid,
            started_at=c.started_at,
            caller=mask_phone(c.caller),
            publisher=publisher or c.publisher_id,
            officer_id=c.officer_id,
            officer=officer or c.officer_id,
        )
        for a, l, c, publisher, officer in rows  # noqa: E741
    ]


def open_disputes(session: Session) -> list[DisputeRow]:
    """Disputes waiting for a decision, oldest first (the longest waiting on top)."""
    return _query(session, t.Adjustment.status == "open", newest=False, limit=MAX_OPEN)


def resolved_disputes(session: Session, limit: int = RECENT) -> list[DisputeRow]:
    """The latest decisions, newest first."""
    return _query(session, t.Adjustment.status != "open", newest=True, limit=limit)


def dispute_exists(session: Session, adjustment_id: int) -> bool:
    """Whether ``adjustment_id`` is a dispute at all (else the resolve form answers 404)."""
    found = session.scalar(
        select(t.Adjustment.id).where(
            t.Adjustment.id == adjustment_id, t.Adjustment.kind == "dispute"
        )
    )
    return found is not None
