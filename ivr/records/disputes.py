"""Disputes and corrections: changes to a billing line's money, kept beside the line forever.

An officer disputes a billable call (one open dispute per line at a time); an operator accepts
or rejects it. Accepting credits the line's net revenue back to the officer and, unless the
publisher keeps its payout (``keep_payout``), takes the payout back too, so the line nets to
zero. An operator's own correction is accepted at once. Lines and adjustments are never
changed or deleted afterwards: the P&L sums the accepted adjustments beside the lines.
Opening and resolving a dispute add a ``disputed`` webhook event in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.fields import cents, dollars
from ivr.hooks.outbox import Outbox
from ivr.records import tables as t


class DisputeError(ValueError):
    """A dispute, resolution or correction that cannot be made, and why."""


def dispute(
    session: Session, line_id: int, reason: str, raised_by: str, now: datetime
) -> t.Adjustment:
    """Open a dispute of billing line ``line_id`` (a billable one, not already disputed)."""
    reason, raised_by = _required(reason, "a reason"), _required(raised_by, "who raises it")
    line = _line(session, line_id)
    if not line.billable:
        raise DisputeError(
            f"billing line {line_id} did not bill ({line.rule}: {line.reason}): "
            "there is nothing to dispute"
        )
    for existing in _adjustments(session, line.id):
        if existing.kind != "dispute":
            continue
        if existing.status == "open":
            raise DisputeError(
                f"billing line {line_id} already has an open dispute (adjustment "
                f"{existing.id}, raised by {existing.raised_by}): resolve it first"
            )
        if existing.status == "accepted":
            raise DisputeError(
                f"billing line {line_id} was already credited by dispute {existing.id} "
                f"(accepted by {existing.resolved_by})"
            )
    adjustment = t.Adjustment(
        billing_line_id=line.id,
        kind="dispute",
        status="open",
        reason=reason,
        raised_by=raised_by,
        raised_at=now,
        revenue_delta_cents=0,
        payout_delta_cents=0,
    )
    session.add(adjustment)
    session.flush()
    Outbox(session, now).disputed(adjustment)
    return adjustment


def resolve(
    session: Session,
    adjustment_id: int,
    accept: bool,
    resolved_by: str,
    note: str | None,
    now: datetime,
    keep_payout: bool = False,
) -> t.Adjustment:
    """Accept or reject an open dispute; accepting credits the line's net revenue (and payout,
    unless ``keep_payout``: the publisher is still paid for the call)."""
    resolved_by = _required(resolved_by, "who resolves it")
    adjustment = session.scalar(
        select(t.Adjustment).where(t.Adjustment.id == adjustment_id).with_for_update()
    )
    if adjustment is None:
        raise DisputeError(f"no adjustment {adjustment_id}")
    if adjustment.kind != "dispute":
        raise DisputeError(
            f"adjustment {adjustment_id} is a {adjustment.kind}, not a dispute: "
            "only disputes are resolved"
        )
    if adjustment.status != "open":
        raise DisputeError(
            f"dispute {adjustment_id} is already {adjustment.status} "
            f"(by {adjustment.resolved_by}{_when(adjustment.resolved_at)})"
        )
    if keep_payout and not accept:
        raise DisputeError("--keep-payout only applies to accepting a dispute")
    if accept:
        revenue, payout = _net(session, adjustment.line)
        adjustment.revenue_delta_cents = -revenue
        adjustment.payout_delta_cents = 0 if keep_payout else -payout
    adjustment.status = "accepted" if accept else "rejected"
    adjustment.resolved_by, adjustment.resolved_at = resolved_by, now
    adjustment.resolution = note.strip() if note and note.strip() else None
    session.flush()
    Outbox(session, now).disputed(adjustment)
    return adjustment


def correct(
    session: Session,
    line_id: int,
    revenue_delta: Decimal,
    payout_delta: Decimal,
    reason: str,
    by: str,
    now: datetime,
) -> t.Adjustment:
    """An operator's correction of a line's money (dollars, signed), accepted at once."""
    reason, by = _required(reason, "a reason"), _required(by, "who corrects it")
    deltas = []
    for name, amount in (("revenue", revenue_delta), ("payout", payout_delta)):
        if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
            raise DisputeError(f"the {name} change must be dollars and cents (got {amount})")
        deltas.append(cents(amount))
    if deltas == [0, 0]:
        raise DisputeError("a correction changes the revenue, the payout or both")
    line = _line(session, line_id)
    revenue, payout = _net(session, line)
    for name, now_cents, delta in (("revenue", revenue, deltas[0]), ("payout", payout, deltas[1])):
        if now_cents + delta < 0:
            raise DisputeError(
                f"billing line {line_id}'s {name} would be {dollars(now_cents + delta)} "
                f"(it is {dollars(now_cents)}): money on a line is never negative"
            )
    adjustment = t.Adjustment(
        billing_line_id=line.id,
        kind="correction",
        status="accepted",
        reason=reason,
        raised_by=by,
        raised_at=now,
        revenue_delta_cents=deltas[0],
        payout_delta_cents=deltas[1],
        resolved_by=by,
        resolved_at=now,
    )
    session.add(adjustment)
    session.flush()
    return adjustment


def _line(session: Session, line_id: int) -> t.BillingLine:
    """The line, locked against a concurrent dispute on PostgreSQL (SQLite locks on write)."""
    line = session.scalar(
        select(t.BillingLine).where(t.BillingLine.id == line_id).with_for_update()
    )
    if line is None:
        raise DisputeError(f"no billing line {line_id}")
    return line


def _adjustments(session: Session, line_id: int) -> list[t.Adjustment]:
    """The line's adjustments as the database has them (not a collection loaded earlier)."""
    return list(
        session.scalars(
            select(t.Adjustment)
            .where(t.Adjustment.billing_line_id == line_id)
            .order_by(t.Adjustment.id)
        )
    )


def _net(session: Session, line: t.BillingLine) -> tuple[int, int]:
    """The line's revenue and payout in cents with its accepted adjustments."""
    accepted = [a for a in _adjustments(session, line.id) if a.status == "accepted"]
    return (
        line.revenue_cents + sum(a.revenue_delta_cents for a in accepted),
        line.payout_cents + sum(a.payout_delta_cents for a in accepted),
    )


def _when(at: datetime | None) -> str:
    return "" if at is None else f" at {at:%Y-%m-%d %H:%M} UTC"


def _required(value: str, what: str) -> str:
    if not value or not value.strip():
        raise DisputeError(f"{what} is required")
    return value.strip()
