"""The webhook outbox: events written in the same transaction as the facts they report.

The records writer (:mod:`ivr.records.ingest`) and the disputes (:mod:`ivr.records.disputes`)
call :class:`Outbox` inside their own transaction, so an event exists exactly when its fact
was committed: a process that dies before the commit loses both, one that dies after has
both, and ``warmline deliver`` relays what is committed. Each event row is for one endpoint
and carries a dedupe key (endpoint, event, fact) under a unique constraint, so a journal entry
applied twice — by two recorders, or after a crash — makes no second event.

When each event is made:

- ``transferred`` — the officer took the call at the whisper (the batch that records their
  key), or, if that came before the call itself was recorded, the first batch that records the
  bridged attempt: once per attempt either way;
- ``completed`` — the first batch that records the call as ended;
- ``billable`` — the call's billing line is first decided billable, or a re-decision flips it
  (either way; ``data.billing.billable`` says which);
- ``disputed`` — a dispute is opened, accepted or rejected (one per status);
- ``transcript_ready`` — the call's recording transcript is recorded (one per recording);
- ``score_ready`` — the call's qualification score is first recorded.

An event goes to the endpoints of the call's campaign and of its officer (the one it was bridged
to, or the billing line's) that asked for that event type.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ivr.fields import dollars
from ivr.records import tables as t


def new_delivery_id() -> str:
    return "evt_" + secrets.token_hex(16)


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat().replace("+00:00", "Z")


class Outbox:
    """Adds events to ``webhook_events`` in ``session``'s transaction."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self._endpoints: list[t.WebhookEndpoint] | None = None

    def endpoints(self) -> list[t.WebhookEndpoint]:
        """The active endpoints (read once per outbox: one query per batch)."""
        if self._endpoints is None:
            query = select(t.WebhookEndpoint).where(t.WebhookEndpoint.active.is_(True))
            self._endpoints = list(self.session.scalars(query.order_by(t.WebhookEndpoint.id)))
        return self._endpoints

    def wanted(
        self, event: str, officer_id: str | None, campaign_id: str | None
    ) -> list[t.WebhookEndpoint]:
        return [
            endpoint
            for endpoint in self.endpoints()
            if event in endpoint.events
            and (
                (endpoint.officer_id is not None and endpoint.officer_id == officer_id)
                or (endpoint.campaign_id is not None and endpoint.campaign_id == campaign_id)
            )
        ]

    # -- facts -------------------------------------------------------------------------------

    def call_recorded(self, call: t.Call) -> None:
        """The events a recorded call's present state implies (known ones are skipped)."""
        if not self.endpoints():
            return
        facts: list[tuple[str, str | None, str, Mapping[str, Any]]] = []
        for attempt in call.attempts:
            if attempt.outcome == "bridged":
                bridged = {"officer": attempt.officer_id, "position": attempt.position}
                fact = f"{call.call_sid}:{attempt.position}"
                facts.append(("transferred", attempt.officer_id, fact, {"transfer": bridged}))
        if call.status == "ended":
            facts.append(("completed", call.officer_id, call.call_sid, {}))
        if call.score is not None:
            facts.append(("score_ready", call.officer_id, call.call_sid, {}))
        if self.wanted("transcript_ready", call.officer_id, call.campaign_id):
            transcripts = self.session.scalars(
                select(t.Transcript)
                .where(t.Transcript.call_sid == call.call_sid)
                .order_by(t.Transcript.id)
            )
            for transcript in transcripts:
                shown = {
                    "transcript": {
                        "recording_sid": transcript.recording_sid,
                        "model": transcript.model,
                        "text": transcript.text,
                    }
                }
                facts.append(("transcript_ready", call.officer_id, transcript.recording_sid, shown))
        for event, officer_id, fact, extra in facts:
            self.add(event, call, officer_id, fact, extra)

    def transfer_accepted(self, call: t.Call, officer_id: str, position: int) -> None:
        """The officer of attempt ``position`` took the call: the same fact (and so the same
        event) as that attempt later recorded as bridged."""
        bridged = {"officer": officer_id, "position": position}
        fact = f"{call.call_sid}:{position}"
        self.add("transferred", call, officer_id, fact, {"transfer": bridged})

    def billing_decided(self, call: t.Call, line: t.BillingLine, before: bool | None) -> None:
        """A line decided (``before``: its previous verdict, None when it is new)."""
        if line.billable == before or (before is None and not line.billable):
            return
        fact = f"{call.call_sid}:{iso(line.decided_at)}"
        self.add("billable", call, line.officer_id, fact, {"changed_from": before})

    def disputed(self, adjustment: t.Adjustment) -> None:
        """A dispute opened or resolved (corrections are operators' own and make no event)."""
        if adjustment.kind != "dispute" or not self.endpoints():
            return
        line = self.session.get(t.BillingLine, adjustment.billing_line_id)
        call = None if line is None else self.session.get(t.Call, line.call_id)
        if line is None or call is None:
            return
        shown = {
            "dispute": {
                "id": adjustment.id,
                "status": adjustment.status,
                "reason": adjustment.reason,
                "raised_by": adjustment.raised_by,
                "raised_at": iso(adjustment.raised_at),
                "resolved_by": adjustment.resolved_by,
                "resolved_at": iso(adjustment.resolved_at),
                "resolution": adjustment.resolution,
                "revenue_delta": str(dollars(adjustment.revenue_delta_cents)),
            }
        }
        fact = f"{adjustment.id}:{adjustment.status}"
        self.add("disputed", call, line.officer_id, fact, shown)

    # -- rows --------------------------------------------------------------------------------

    def add(
        self,
        event: str,
        call: t.Call,
        officer_id: str | None,
        fact: str,
        extra: Mapping[str, Any],
    ) -> int:
        """One event per endpoint that wants it; the number of new rows."""
        endpoints = self.wanted(event, officer_id, call.campaign_id)
        if not endpoints:
            return 0
        keys = {endpoint.id: f"{endpoint.id}:{event}:{fact}" for endpoint in endpoints}
        known = set(
            self.session.scalars(
                select(t.WebhookEvent.dedupe_key).where(
                    t.WebhookEvent.dedupe_key.in_(list(keys.values()))
                )
            )
        )
        fresh = [endpoint for endpoint in endpoints if keys[endpoint.id] not in known]
        if not fresh:
            return 0
        data = {"call": call_data(self.session, call), **extra}
        rows = []
        for endpoint in fresh:
            delivery_id = new_delivery_id()
            rows.append(
                {
                    "delivery_id": delivery_id,
                    "dedupe_key": keys[endpoint.id],
                    "endpoint_id": endpoint.id,
                    "officer_id": endpoint.officer_id,
                    "event": event,
                    "call_sid": call.call_sid,
                    "payload": envelope(delivery_id, event, endpoint.id, self.now, data),
                    "created_at": self.now,
                    "status": "pending",
                    "attempts": 0,
                }
            )
        return insert_events(self.session, rows)


def envelope(
    delivery_id: str, event: str, endpoint_id: str, at: datetime, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON body a receiver gets."""
    return {
        "id": delivery_id,
        "type": event,
        "created_at": iso(at),
        "endpoint": endpoint_id,
        "data": dict(data),
    }


def call_data(session: Session, call: t.Call) -> dict[str, Any]:
    """What a buyer needs of a call, as recorded now (the caller's number included: the
    officer bought the call; it never goes to a log)."""
    answers = session.scalars(select(t.Answer).where(t.Answer.call_id == call.id))
    score = session.scalar(select(t.Score).where(t.Score.call_id == call.id))
    line = session.scalar(select(t.BillingLine).where(t.BillingLine.call_id == call.id))
    return {
        "call_sid": call.call_sid,
        "campaign": call.campaign_id,
        "publisher": call.publisher_id,
        "officer": call.officer_id,
        "tracking_number": call.number,
        "caller": call.caller,
        "caller_state": call.caller_state,
        "status": call.status,
        "outcome": call.outcome,
        "connected": call.connected,
        "repeat": call.repeat,
        "started_at": iso(call.started_at),
        "ended_at": iso(call.ended_at),
        "duration_s": call.duration_s,
        "answers": {answer.slot: answer.value for answer in answers},
        "score": None if score is None else _score(score),
        "intent": call.intent,
        "billing": None if line is None else _billing(line),
    }


def _score(score: t.Score) -> dict[str, Any]:
    return {
        "score": score.score,
        "qualified": score.qualified,
        "intent": score.intent,
        "confidence": score.confidence,
        "reasons": list(score.reasons),
    }


def _billing(line: t.BillingLine) -> dict[str, Any]:
    """The line as the buyer sees it: its price, never the publisher's payout."""
    return {
        "line_id": line.id,
        "billable": line.billable,
        "rule": line.rule,
        "reason": line.reason,
        "revenue": str(dollars(line.revenue_cents)),
        "bridged_s": line.bridged_s,
        "decided_at": iso(line.decided_at),
    }


def insert_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert the rows whose dedupe keys are new (a concurrent writer may have added one)."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(t.WebhookEvent).on_conflict_do_nothing().returning(t.WebhookEvent.id)
    return len(session.execute(statement, list(rows)).all())
