"""Records rows for tests, written straight through the ORM: no journal, no recorder.

``add_call`` writes an ended call and its billing line (creating its publisher and campaign
when they are not there yet); ``add_live_call`` one still in progress, without a line;
``add_adjustment`` a dispute or correction beside a line. Money is given in dollars.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from ivr.fields import cents
from ivr.records import tables as t

SYNCED_AT = datetime(2026, 11, 1, tzinfo=UTC)
CALLER = "+15125550123"
NUMBER = "+15125550100"
_sids = itertools.count(1)


def add_publisher(session: Session, ident: str, name: str | None = None) -> t.Publisher:
    publisher = t.Publisher(id=ident, name=name or ident, active=True, synced_at=SYNCED_AT)
    session.add(publisher)
    session.flush()
    return publisher


def add_campaign(session: Session, ident: str, name: str | None = None) -> t.Campaign:
    campaign = t.Campaign(
        id=ident,
        name=name or ident,
        flow="mortgage",
        duplicate_window_h=0,
        duplicates_across_campaigns=False,
        active=True,
        synced_at=SYNCED_AT,
    )
    session.add(campaign)
    session.flush()
    return campaign


def add_officer(session: Session, ident: str, name: str | None = None) -> t.Officer:
    officer = t.Officer(
        id=ident,
        name=name or ident,
        phone="+15125550111",
        price_cents=4500,
        min_billable_s=90,
        loan_types=["refinance"],
        licences={"TX": "2027-12-31"},
        duplicate_window_h=0,
        active=True,
        synced_at=SYNCED_AT,
    )
    session.add(officer)
    session.flush()
    return officer


def add_live_call(
    session: Session,
    *,
    started_at: datetime,
    call_sid: str | None = None,
    publisher: str = "rate-compare",
    campaign: str = "sunbelt-refi",
    officer: str | None = None,
    caller: str = CALLER,
    caller_state: str | None = "TX",
    connected: bool | None = None,
    score: int | None = None,
    status: str = "in_progress",
) -> t.Call:
    """A call row (its publisher and campaign made when missing); no billing line."""
    if session.get(t.Publisher, publisher) is None:
        add_publisher(session, publisher)
    if session.get(t.Campaign, campaign) is None:
        add_campaign(session, campaign)
    call = t.Call(
        call_sid=call_sid or f"CA{next(_sids):032x}",
        number=NUMBER,
        campaign_id=campaign,
        publisher_id=publisher,
        caller=caller,
        caller_state=caller_state,
        flow="mortgage",
        flow_version="v1",
        status=status,
        repeat=False,
        connected=officer is not None if connected is None else connected,
        officer_id=officer,
        score=score,
        started_at=started_at,
        ended_at=started_at + timedelta(minutes=5) if status == "ended" else None,
        carrier_sequence=-1,
        revision=1,
    )
    session.add(call)
    session.flush()
    return call


def add_call(
    session: Session,
    *,
    started_at: datetime,
    call_sid: str | None = None,
    publisher: str = "rate-compare",
    campaign: str = "sunbelt-refi",
    officer: str | None = None,
    caller: str = CALLER,
    caller_state: str | None = "TX",
    connected: bool | None = None,
    billable: bool = False,
    bridged_s: float | None = None,
    score: int | None = None,
    revenue: str | Decimal = "0",
    payout: str | Decimal = "0",
    rule: str | None = None,
    reason: str | None = None,
) -> tuple[t.Call, t.BillingLine]:
    """An ended call and its billing line; ``connected`` defaults to having an ``officer``."""
    call = add_live_call(
        session,
        started_at=started_at,
        call_sid=call_sid,
        publisher=publisher,
        campaign=campaign,
        officer=officer,
        caller=caller,
        caller_state=caller_state,
        connected=connected,
        score=score,
        status="ended",
    )
    if bridged_s is None:
        bridged_s = 240.0 if call.connected else 0.0
    line = t.BillingLine(
        call_id=call.id,
        officer_id=officer,
        publisher_id=publisher,
        campaign_id=campaign,
        started_at=started_at,
        connected=call.connected,
        bridged_s=bridged_s,
        score=score,
        billable=billable,
        rule=rule or ("billable" if billable else "not_connected"),
        reason=reason or ("bridged" if billable else "not connected"),
        revenue_cents=cents(Decimal(revenue)),
        payout_cents=cents(Decimal(payout)),
        decided_at=started_at + timedelta(minutes=6),
    )
    session.add(line)
    session.flush()
    return call, line


def add_adjustment(
    session: Session,
    line: t.BillingLine,
    *,
    kind: str = "dispute",
    status: str = "open",
    revenue_delta: str | Decimal = "0",
    payout_delta: str | Decimal = "0",
    reason: str = "wrong number",
    by: str = "tester",
    at: datetime | None = None,
) -> t.Adjustment:
    at = at or line.started_at + timedelta(days=1)
    adjustment = t.Adjustment(
        billing_line_id=line.id,
        kind=kind,
        status=status,
        reason=reason,
        raised_by=by,
        raised_at=at,
        revenue_delta_cents=cents(Decimal(revenue_delta)),
        payout_delta_cents=cents(Decimal(payout_delta)),
        resolved_by=None if status == "open" else by,
        resolved_at=None if status == "open" else at,
    )
    session.add(adjustment)
    session.flush()
    return adjustment


def add_user(
    session: Session, username: str, role: str = "qa", officer: str | None = None
) -> t.User:
    """A user who signs in to the web pages (the password hash is a placeholder)."""
    user = t.User(
        username=username,
        password_hash="-",
        role=role,
        officer_id=officer,
        active=True,
        created_at=SYNCED_AT,
    )
    session.add(user)
    session.flush()
    return user


def add_score(
    session: Session,
    call: t.Call,
    *,
    score: int = 60,
    intent: str | None = "shopping",
    confidence: float | None = 0.8,
    qualified: bool = True,
) -> t.Score:
    """The call's score (and its intent on the call row, as the recorder keeps both)."""
    row = t.Score(
        call_id=call.id,
        score=score,
        qualified=qualified,
        intent=intent,
        confidence=confidence,
        probabilities={} if intent is None else {intent: confidence},
        reasons=[],
    )
    call.score, call.intent = score, intent
    session.add(row)
    session.flush()
    return row


def add_review(
    session: Session,
    call: t.Call,
    reviewer: t.User,
    *,
    agrees: bool = True,
    label: str | None = None,
    billable: bool | None = None,
    notes: str = "",
    at: datetime | None = None,
) -> t.Review:
    review = t.Review(
        call_id=call.id,
        reviewer_id=reviewer.id,
        agrees=agrees,
        label=label,
        billable=billable,
        notes=notes,
        created_at=at or call.started_at + timedelta(days=1),
    )
    session.add(review)
    session.flush()
    return review


def add_answer(
    session: Session,
    call: t.Call,
    slot: str,
    value: str,
    *,
    heard: str | None = None,
    source: str = "speech",
) -> t.Answer:
    answer = t.Answer(
        call_id=call.id,
        slot=slot,
        value=value,
        source=source,
        heard=heard,
        confidence=None,
        attempts=1,
        at=call.started_at + timedelta(seconds=30),
    )
    session.add(answer)
    session.flush()
    return answer
