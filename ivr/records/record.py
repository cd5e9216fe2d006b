"""One call's whole record as JSON-able data: ``warmline calls show`` and ``GET /api/calls/{sid}``.

Attribution (and the web visit, when the number was on lease to one), the answers, each
transfer attempt, the score and its reasons, the consent record, the timeline (engine steps and
carrier callbacks, by time), recordings and transcripts, and the billing line with its
adjustments. Phone numbers — the caller's, the officers' legs, the carrier's ``From``/``To``
fields, digits heard — are masked unless ``show_numbers``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.fields import dollars
from ivr.logs import mask_phone, mask_text
from ivr.records import tables as t

PHONE_FIELDS = frozenset({"From", "To", "Caller", "Called", "ForwardedFrom"})
"""Twilio callback fields that carry a phone number."""


def call_record(
    session: Session, call_sid: str, *, show_numbers: bool = False
) -> dict[str, Any] | None:
    """Everything recorded about ``call_sid``; None when no such call is recorded."""
    call = session.scalar(select(t.Call).where(t.Call.call_sid == call_sid))
    if call is None:
        return None
    phone: Callable[[str], str] = (lambda v: v) if show_numbers else mask_phone
    text: Callable[[str], str] = (lambda v: v) if show_numbers else mask_text
    names = _names(session, call)
    return {
        "call_sid": call.call_sid,
        "attribution": {
            "number": call.number,
            "campaign": {"id": call.campaign_id, "name": names.get(("campaign", call.campaign_id))},
            "publisher": {
                "id": call.publisher_id,
                "name": names.get(("publisher", call.publisher_id)),
            },
            "caller": phone(call.caller),
            "caller_state": call.caller_state,
            "repeat": call.repeat,
        },
        "visit": _visit(session, call),
        "flow": {"name": call.flow, "version": call.flow_version},
        "status": call.status,
        "step": call.step,
        "outcome": call.outcome,
        "started_at": _time(call.started_at),
        "ended_at": _time(call.ended_at),
        "duration_s": call.duration_s,
        "carrier_status": call.carrier_status,
        "connected": call.connected,
        "officer": (
            None
            if call.officer_id is None
            else {"id": call.officer_id, "name": names.get(("officer", call.officer_id))}
        ),
        "answers": [
            {
                "slot": answer.slot,
                "value": answer.value,
                "source": answer.source,
                "heard": None if answer.heard is None else text(answer.heard),
                "confidence": answer.confidence,
                "attempts": answer.attempts,
                "at": _time(answer.at),
            }
            for answer in call.answers
        ],
        "transfer_attempts": [
            {
                "position": attempt.position,
                "step": attempt.step,
                "officer": attempt.officer_id,
                "number": phone(attempt.number),
                "outcome": attempt.outcome,
                "duplicate": attempt.duplicate,
                "bid": None if attempt.bid_cents is None else str(dollars(attempt.bid_cents)),
                "started_at": _time(attempt.started_at),
                "ended_at": _time(attempt.ended_at),
                "duration_s": attempt.duration_s,
            }
            for attempt in call.attempts
        ],
        "score": _score(session, call),
        "consent": _consent(session, call, text),
        "timeline": _timeline(session, call.call_sid, phone, text),
        "recordings": _recordings(session, call.call_sid, text),
        "billing": _billing(session, call),
    }


def _visit(session: Session, call: t.Call) -> dict[str, Any] | None:
    """The web visit that had the number on lease when the call came (see ``attribution.md``);
    None for a call to a printed number or a pool number with no live lease."""
    row = session.scalar(select(t.Attribution).where(t.Attribution.call_id == call.id))
    if row is None:
        return None
    return {
        "visit_id": row.visit_id,
        "source": row.source,
        "medium": row.medium,
        "campaign": row.campaign,
        "keyword": row.keyword,
        "content": row.content,
        "landing_page": row.landing_page,
        "referrer": row.referrer,
        "click_id": row.click_id,
        "click_id_kind": row.click_id_kind,
        "leased_at": _time(row.leased_at),
    }


def _names(session: Session, call: t.Call) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for kind, model, ident in (
        ("campaign", t.Campaign, call.campaign_id),
        ("publisher", t.Publisher, call.publisher_id),
        ("officer", t.Officer, call.officer_id),
    ):
        if ident is not None:
            name = session.scalar(select(model.name).where(model.id == ident))
            if name is not None:
                found[(kind, ident)] = name
    return found


def _score(session: Session, call: t.Call) -> dict[str, Any] | None:
    row = session.scalar(select(t.Score).where(t.Score.call_id == call.id))
    if row is None:
        return None
    return {
        "score": row.score,
        "qualified": row.qualified,
        "intent": row.intent,
        "probabilities": row.probabilities,
        "reasons": row.reasons,
    }


def _consent(session: Session, call: t.Call, text: Callable[[str], str]) -> dict[str, Any] | None:
    row = session.scalar(select(t.ConsentRecord).where(t.ConsentRecord.call_id == call.id))
    if row is None:
        return None
    return {
        "id": row.id,
        "step": row.step,
        "flow": row.flow,
        "flow_version": row.flow_version,
        "caller_state": row.caller_state,
        "all_party": row.all_party,
        "disclosure": row.disclosure,
        "asked": row.asked,
        "given": row.given,
        "heard": None if row.heard is None else text(row.heard),
        "at": _time(row.at),
    }


def _timeline(
    session: Session, call_sid: str, phone: Callable[[str], str], text: Callable[[str], str]
) -> list[dict[str, Any]]:
    # Carrier times are whole seconds: callbacks of the same second go by their sequence.
    events = session.scalars(
        select(t.CallEvent)
        .where(t.CallEvent.call_sid == call_sid)
        .order_by(t.CallEvent.at, t.CallEvent.sequence, t.CallEvent.id)
    )
    return [
        {
            "at": _time(event.at),
            "source": event.source,
            "event": event.event,
            "sequence": event.sequence,
            "step": event.step,
            "detail": None if event.detail is None else text(event.detail),
            "data": {
                key: phone(value) if key in PHONE_FIELDS and isinstance(value, str) else value
                for key, value in event.data.items()
            },
        }
        for event in events
    ]


def _recordings(
    session: Session, call_sid: str, text: Callable[[str], str]
) -> list[dict[str, Any]]:
    transcripts = {
        row.recording_sid: row
        for row in session.scalars(select(t.Transcript).where(t.Transcript.call_sid == call_sid))
    }
    recordings = session.scalars(
        select(t.Recording)
        .where(t.Recording.call_sid == call_sid)
        .order_by(t.Recording.created_at, t.Recording.id)
    )
    listed = []
    for recording in recordings:
        transcript = transcripts.get(recording.recording_sid)
        listed.append(
            {
                "recording_sid": recording.recording_sid,
                "url": recording.url,
                "duration_s": recording.duration_s,
                "channels": recording.channels,
                "source": recording.source,
                "path": recording.path,
                "created_at": _time(recording.created_at),
                "transcript": None
                if transcript is None
                else {
                    "model": transcript.model,
                    "text": text(transcript.text),
                    "segments": [
                        {
                            k: text(v) if k == "text" and isinstance(v, str) else v
                            for k, v in s.items()
                        }
                        if isinstance(s, dict)
                        else s
                        for s in transcript.segments
                    ],
                },
            }
        )
    return listed


def _billing(session: Session, call: t.Call) -> dict[str, Any] | None:
    line = session.scalar(select(t.BillingLine).where(t.BillingLine.call_id == call.id))
    if line is None:
        return None
    adjustments = list(
        session.scalars(
            select(t.Adjustment)
            .where(t.Adjustment.billing_line_id == line.id)
            .order_by(t.Adjustment.id)
        )
    )
    accepted = [a for a in adjustments if a.status == "accepted"]
    revenue = line.revenue_cents + sum(a.revenue_delta_cents for a in accepted)
    payout = line.payout_cents + sum(a.payout_delta_cents for a in accepted)
    return {
        "line_id": line.id,
        "billable": line.billable,
        "rule": line.rule,
        "reason": line.reason,
        "officer": line.officer_id,
        "bridged_s": line.bridged_s,
        "score": line.score,
        "revenue": str(dollars(line.revenue_cents)),
        "payout": str(dollars(line.payout_cents)),
        "net_revenue": str(dollars(revenue)),
        "net_payout": str(dollars(payout)),
        "net_margin": str(dollars(revenue - payout)),
        "consent_id": line.consent_id,
        "decided_at": _time(line.decided_at),
        "adjustments": [adjustment_dict(a) for a in adjustments],
    }


def adjustment_dict(adjustment: t.Adjustment) -> dict[str, Any]:
    return {
        "id": adjustment.id,
        "line_id": adjustment.billing_line_id,
        "kind": adjustment.kind,
        "status": adjustment.status,
        "reason": adjustment.reason,
        "raised_by": adjustment.raised_by,
        "raised_at": _time(adjustment.raised_at),
        "revenue_delta": str(dollars(adjustment.revenue_delta_cents)),
        "payout_delta": str(dollars(adjustment.payout_delta_cents)),
        "resolved_by": adjustment.resolved_by,
        "resolved_at": _time(adjustment.resolved_at),
        "resolution": adjustment.resolution,
    }


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
