"""Journal entries into records: idempotent, order-tolerant, one transaction per batch.

- A ``state`` entry updates its call only if its ``revision`` is newer than the row's, so a
  late or repeated snapshot never rolls a call back; answers, attempts, the score, the consent
  record and the engine's history lines are upserted by their natural keys.
- A ``callback`` entry is stored once in ``call_events`` under a dedupe key — call sid and
  ``SequenceNumber``, else recording sid and status, else the idempotency token, else the
  body's hash — whether or not its call is recorded yet. The call's carrier status and
  duration are always those of its highest-numbered status callback, whatever the delivery
  order.
- Every ended call a batch touches is (re)billed, together with the same caller's later calls
  inside the longest duplicate window, in start order, so the verdicts do not depend on the
  order the entries arrived in. A line that has been disputed or corrected is never re-decided:
  money has moved on its decision, and a credit must not be taken twice.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from ivr.deployment import Setup
from ivr.engine.state import CallState
from ivr.fields import cents, dollars
from ivr.hooks.outbox import Outbox
from ivr.jobs.job import PermanentJobError
from ivr.records import tables as t
from ivr.records.billing import CallFacts, DuplicateWindows, PriorCall, decide
from ivr.routing.eligibility import CallAttributes


class MalformedEntry(PermanentJobError, ValueError):
    """A journal entry that no retry can apply."""


@dataclass(frozen=True)
class JournalEntry:
    kind: str
    call_sid: str
    body: Mapping[str, Any]
    revision: int = 0
    source: str = ""
    token: str = ""

    @classmethod
    def parse(cls, fields: Mapping[str, str]) -> JournalEntry:
        try:
            kind = fields["kind"]
            body = json.loads(fields["body"])
            if kind not in ("state", "callback", "transcript") or not isinstance(body, dict):
                raise ValueError(kind)
            return cls(
                kind=kind,
                call_sid=fields["call_sid"],
                body=body,
                revision=int(fields.get("revision", "0")),
                source=fields.get("source", ""),
                token=fields.get("token", ""),
            )
        except (KeyError, ValueError) as error:
            raise MalformedEntry(f"malformed records entry: {error!r}") from None


CLAIM_CHUNK = 500


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class Ingest:
    """Applies journal entries to one session; :meth:`bill` settles the calls they touched."""

    def __init__(self, session: Session, setup: Setup, now: datetime) -> None:
        self.session = session
        self.setup = setup
        self.now = now
        self.touched: set[str] = set()
        self._calls: dict[str, t.Call] = {}
        """The batch's calls by sid: a call's entries come together, one query finds it."""
        self._lines: list[dict[str, Any]] = []
        self.hooks = Outbox(session, now)
        """Webhook events, written in this batch's transaction (:mod:`ivr.hooks.outbox`)."""
        self._decided: list[tuple[t.Call, t.BillingLine, bool | None]] = []
        self._accepted: list[tuple[str, str, int]] = []
        """(call sid, officer, attempt position) of the transfers officers took in this batch."""

    def claim(self, call_sids: Iterable[str]) -> None:
        """Lock the recorded calls among ``call_sids``, in one order, before changing any.

        Every server runs a recorder, so two may apply entries of one call at the same time.
        Without the lock (PostgreSQL; SQLite's writers take turns anyway) each would build on
        what the other had not committed yet, and the slower could overwrite a newer
        snapshot's transfer attempts with an older one's. Sorted, so two batches sharing calls
        wait for each other instead of deadlocking. The locked calls are kept for the batch.
        """
        sids = sorted(set(call_sids))  # with their answers and attempts: two queries, not two each
        for start in range(0, len(sids), CLAIM_CHUNK):
            chunk = sids[start : start + CLAIM_CHUNK]
            locked = self.session.scalars(
                select(t.Call)
                .where(t.Call.call_sid.in_(chunk))
                .order_by(t.Call.call_sid)
                .with_for_update()
                .options(selectinload(t.Call.answers), selectinload(t.Call.attempts))
            )
            for call in locked:
                self._calls[call.call_sid] = call

    def apply(self, entry: JournalEntry) -> None:
        if entry.kind == "state":
            self._state(entry.call_sid, entry.revision, entry.body)
        elif entry.kind == "callback":
            self._callback(entry)
        else:
            self._transcript(entry.body)
        self.touched.add(entry.call_sid)

    # -- call-state snapshots ----------------------------------------------------------------

    def _state(self, call_sid: str, revision: int, body: Mapping[str, Any]) -> None:
        state = CallState.model_validate(body)
        call = self._call(call_sid)
        if call is not None and call.revision >= revision:
            return  # an older or repeated snapshot: the row already has as much or more
        if call is None:
            call = self._calls[call_sid] = t.Call(call_sid=call_sid, answers=[], attempts=[])
            self.session.add(call)
        _copy_state(call, state, revision)
        self.session.flush()
        self._answers(call, state)
        self._attempts(call, state)
        self._score(call, state)
        self._consent(call, state)
        self._attribution(call, state)
        self._history(state)
        self._carrier(call)

    def _answers(self, call: t.Call, state: CallState) -> None:
        existing = {answer.slot: answer for answer in call.answers}
        for slot, given in state.answers.items():
            row = existing.get(slot)
            if row is None:  # through the collection, so billing in this batch sees it
                row = t.Answer(call_id=call.id, slot=slot)
                call.answers.append(row)
            row.value, row.source, row.heard = given.value, given.source, given.heard
            row.confidence, row.attempts, row.at = given.confidence, given.attempts, utc(given.at)

    def _attempts(self, call: t.Call, state: CallState) -> None:
        existing = {attempt.position: attempt for attempt in call.attempts}
        for position, attempt in enumerate(state.transfers):
            row = existing.get(position)
            if row is None:
                row = t.TransferAttempt(call_id=call.id, position=position)
                call.attempts.append(row)
            row.step, row.officer_id, row.number = attempt.step, attempt.officer, attempt.number
            row.outcome, row.duplicate = attempt.outcome, attempt.duplicate
            row.bid_cents = cents(Decimal(attempt.bid)) if attempt.bid else None
            row.started_at = utc(attempt.started_at)
            row.ended_at = utc(attempt.ended_at) if attempt.ended_at else None
            row.duration_s = attempt.duration_s

    def _score(self, call: t.Call, state: CallState) -> None:
        scored = state.qualification
        if scored is None:
            return
        row = self.session.scalar(select(t.Score).where(t.Score.call_id == call.id))
        row = row or t.Score(call_id=call.id)
        row.score, row.qualified, row.intent = scored.score, scored.qualified, scored.label
        row.confidence = scored.probabilities.get(scored.label) if scored.label else None
        row.probabilities = {str(label): p for label, p in scored.probabilities.items()}
        row.reasons = scored.explained
        self.session.add(row)

    def _consent(self, call: t.Call, state: CallState) -> None:
        consent = state.consent
        if consent is None:
            return
        row = self.session.scalar(
            select(t.ConsentRecord).where(t.ConsentRecord.call_id == call.id)
        ) or t.ConsentRecord(call_id=call.id)
        row.step, row.flow, row.flow_version = consent.step, state.flow, state.flow_version
        row.caller_state, row.all_party = consent.caller_state, consent.all_party
        row.disclosure, row.asked, row.given = consent.disclosure, consent.asked, consent.given
        row.heard, row.at = consent.heard, utc(consent.at)
        self.session.add(row)

    def _attribution(self, call: t.Call, state: CallState) -> None:
        """The web visit the called number was leased to (dynamic number insertion), if any."""
        visit = state.caller.attribution
        if visit is None:
            return
        row = self.session.scalar(
            select(t.Attribution).where(t.Attribution.call_id == call.id)
        ) or t.Attribution(call_id=call.id)
        row.visit_id, row.source, row.medium = visit.visit_id, visit.source, visit.medium
        row.campaign, row.keyword, row.content = visit.campaign, visit.keyword, visit.content
        row.landing_page, row.referrer = visit.landing_page, visit.referrer
        row.click_id, row.click_id_kind = visit.click_id, visit.click_id_kind
        row.leased_at = utc(visit.leased_at)
        self.session.add(row)

    def _history(self, state: CallState) -> None:
        """Queue the snapshot's engine lines; :meth:`bill` inserts the batch's in one go."""
        self._lines += [
            {
                "dedupe_key": f"engine:{state.call_sid}:{index}",
                "call_sid": state.call_sid,
                "source": "engine",
                "event": entry.event,
                "sequence": index,
                "at": utc(entry.at),
                "step": entry.step,
                "detail": entry.detail,
                "data": {},
            }
            for index, entry in enumerate(state.history)
        ]

    # -- carrier callbacks -------------------------------------------------------------------

    def _callback(self, entry: JournalEntry) -> None:
        body = {str(k): str(v) for k, v in entry.body.items()}
        if entry.source == "officer-reply":
            event = "accepted"  # the officer pressed the key: the legs bridge now
        else:
            event = body.get("CallStatus") or body.get("RecordingStatus") or "callback"
        sequence = _int(body.get("SequenceNumber"))
        row = {
            "dedupe_key": _dedupe_key(entry.source, body, sequence, entry.token),
            "call_sid": entry.call_sid,
            "source": entry.source,
            "event": event,
            "sequence": sequence,
            "at": _timestamp(body.get("Timestamp")) or self.now,
            "step": None,
            "detail": _callback_detail(body),
            "data": body,
        }
        if not insert_new(self.session, t.CallEvent, [row]):
            return  # delivered before
        attempt = _int(body.get("Attempt"))
        if entry.source == "officer-reply" and attempt is not None:
            self._accepted.append((entry.call_sid, body.get("Officer", ""), attempt))
        if entry.source == "recording-status" and event == "completed":
            self._recording(body)
        call = self._call(entry.call_sid)
        if call is not None and entry.source == "status":
            self._carrier(call)

    def _carrier(self, call: t.Call) -> None:
        """The call's carrier status: its highest-numbered status callback, whenever it came."""
        latest = self.session.scalars(
            select(t.CallEvent)
            .where(t.CallEvent.call_sid == call.call_sid, t.CallEvent.source == "status")
            .order_by(t.CallEvent.sequence.desc().nulls_last(), t.CallEvent.at.desc())
            .limit(1)
        ).first()
        if latest is None or (latest.sequence or 0) <= call.carrier_sequence:
            return
        call.carrier_status = latest.event
        call.carrier_sequence = latest.sequence or 0
        duration = _int(latest.data.get("CallDuration"))
        if duration is not None:
            call.duration_s = duration

    def _recording(self, body: Mapping[str, str]) -> None:
        sid = body.get("RecordingSid", "")
        row = self._recording_row(sid, body.get("CallSid", ""))
        row.url = body.get("RecordingUrl") or row.url
        row.duration_s = _int(body.get("RecordingDuration"))
        row.channels = _int(body.get("RecordingChannels"))
        row.source = body.get("RecordingSource") or row.source

    def _recording_row(self, recording_sid: str, call_sid: str) -> t.Recording:
        row = self.session.scalar(
            select(t.Recording).where(t.Recording.recording_sid == recording_sid)
        )
        if row is None:
            row = t.Recording(recording_sid=recording_sid, call_sid=call_sid, created_at=self.now)
            self.session.add(row)
        return row

    def _transcript(self, document: Mapping[str, Any]) -> None:
        sid = str(document.get("recording_sid", ""))
        call_sid = str(document.get("call_sid", ""))
        if not sid:
            raise MalformedEntry("transcript without a recording_sid")
        self._recording_row(sid, call_sid).path = document.get("audio")
        row = self.session.scalar(
            select(t.Transcript).where(t.Transcript.recording_sid == sid)
        ) or t.Transcript(recording_sid=sid, call_sid=call_sid, created_at=self.now)
        segments = list(document.get("segments", []))
        row.model = document.get("model")
        row.segments = segments
        row.text = "\n".join(f"{s.get('speaker', '')}: {s.get('text', '')}" for s in segments)
        self.session.add(row)

    # -- billing -----------------------------------------------------------------------------

    def bill(self) -> None:
        """Store the queued engine lines, then (re)bill every ended call touched, and the same
        callers' later calls it may affect."""
        insert_new(self.session, t.CallEvent, self._lines)
        self._lines = []
        self.session.flush()
        touched = self.session.scalars(
            select(t.Call).where(t.Call.call_sid.in_(self.touched), t.Call.status == "ended")
        ).all()
        reach = timedelta(hours=self._longest_window_h())
        first_by_caller: dict[str, datetime] = {}
        for call in touched:
            first = first_by_caller.get(call.caller)
            first_by_caller[call.caller] = min(first, call.started_at) if first else call.started_at
        for caller, first in first_by_caller.items():
            calls = self.session.scalars(
                select(t.Call)
                .where(
                    t.Call.caller == caller,
                    t.Call.status == "ended",
                    t.Call.started_at >= first,
                    t.Call.started_at <= max(c.started_at for c in touched) + reach,
                )
                .order_by(t.Call.started_at, t.Call.id)
                .with_for_update()  # the caller's later calls may be another recorder's too
            ).all()
            for call in calls:
                self._bill_call(call, reach)
                self.session.flush()
        self._events()

    def _events(self) -> None:
        """The webhook events of what this batch recorded (none when no endpoint is set)."""
        decided, self._decided = self._decided, []
        accepted, self._accepted = self._accepted, []
        if not self.hooks.endpoints():
            return
        for call_sid, officer, position in accepted:
            call = self._call(call_sid)
            if call is not None:  # else the bridged attempt, recorded later, makes the event
                self.hooks.transfer_accepted(call, officer, position)
        for call_sid in sorted(self.touched):
            call = self._call(call_sid)
            if call is not None:
                self.hooks.call_recorded(call)
        for call, line, before in decided:
            self.hooks.billing_decided(call, line, before)

    def _bill_call(self, call: t.Call, reach: timedelta) -> None:
        line = self.session.scalar(select(t.BillingLine).where(t.BillingLine.call_id == call.id))
        if line is not None and line.adjustments:
            return  # disputed or corrected: its decision is settled, and the money moved with it
        before = None if line is None else line.billable
        line = line or t.BillingLine(call_id=call.id)
        bridged = next((a for a in reversed(call.attempts) if a.outcome == "bridged"), None)
        answers = {answer.slot: answer.value for answer in call.answers}
        facts = CallFacts(
            call_sid=call.call_sid,
            campaign=call.campaign_id,
            started_at=call.started_at,
            bridged_officer=bridged.officer_id if bridged else None,
            bridged_s=bridged.duration_s if bridged else 0.0,
            bid=dollars(bridged.bid_cents) if bridged and bridged.bid_cents else None,
            attributes=CallAttributes(
                loan_type=answers.get("loan_type"),
                state=answers.get("state"),
                credit_band=answers.get("credit_band"),
                score=call.score,
            ),
            attempts=[f"{a.officer_id} {a.outcome or 'unfinished'}" for a in call.attempts],
        )
        officers = {officer.id: officer for officer in self.setup.deployment.officers}
        officer = officers.get(facts.bridged_officer or "")
        number = self.setup.number(call.number)
        payout = number.payout if number else Decimal("0")
        verdict = decide(facts, officer, payout, self._windows(call), self._earlier(call, reach))
        consent = self.session.scalar(
            select(t.ConsentRecord.id).where(t.ConsentRecord.call_id == call.id)
        )
        line.officer_id = call.officer_id
        line.publisher_id, line.campaign_id = call.publisher_id, call.campaign_id
        line.started_at, line.connected = call.started_at, call.connected
        line.bridged_s, line.score = facts.bridged_s, call.score
        line.billable, line.rule, line.reason = verdict.billable, verdict.rule, verdict.reason
        line.revenue_cents, line.payout_cents = cents(verdict.revenue), cents(verdict.payout)
        line.consent_id, line.decided_at = consent, self.now
        self.session.add(line)
        self._decided.append((call, line, before))

    def _earlier(self, call: t.Call, reach: timedelta) -> list[PriorCall]:
        rows = self.session.execute(
            select(t.Call.call_sid, t.Call.started_at, t.Call.campaign_id, t.BillingLine.officer_id)
            .join(t.BillingLine, t.BillingLine.call_id == t.Call.id)
            .where(
                t.Call.caller == call.caller,
                t.Call.id != call.id,
                t.BillingLine.billable.is_(True),
                t.Call.started_at <= call.started_at,
                t.Call.started_at >= call.started_at - reach,
            )
        ).all()
        return [
            PriorCall(sid, started, campaign, officer) for sid, started, campaign, officer in rows
        ]

    def _windows(self, call: t.Call) -> DuplicateWindows:
        campaigns = {c.id: c for c in self.setup.deployment.campaigns}
        campaign = campaigns.get(call.campaign_id)
        if campaign is None:
            return DuplicateWindows(0, False)
        policy = campaign.duplicates
        return DuplicateWindows(policy.window_h, policy.across_campaigns)

    def _longest_window_h(self) -> int:
        deployment = self.setup.deployment
        return max(
            [c.duplicates.window_h for c in deployment.campaigns]
            + [o.duplicate_window_h for o in deployment.officers],
            default=0,
        )

    def _call(self, call_sid: str) -> t.Call | None:
        call = self._calls.get(call_sid)
        if call is None:
            call = self.session.scalar(select(t.Call).where(t.Call.call_sid == call_sid))
            if call is not None:
                self._calls[call_sid] = call
        return call


def _copy_state(call: t.Call, state: CallState, revision: int) -> None:
    caller = state.caller
    bridged = [a for a in state.transfers if a.outcome == "bridged"]
    call.number, call.campaign_id, call.publisher_id = (
        caller.called,
        caller.campaign,
        caller.publisher,
    )
    call.caller, call.caller_state, call.repeat = caller.number, caller.state, caller.repeat
    call.flow, call.flow_version = state.flow, state.flow_version
    call.status, call.step, call.outcome = state.status, state.step, state.outcome
    call.connected = bool(bridged)
    call.officer_id = bridged[-1].officer if bridged else None
    scored = state.qualification
    call.score = scored.score if scored else None
    call.intent = scored.intent if scored else None
    call.started_at = utc(state.started_at)
    call.ended_at = utc(state.ended_at) if state.ended_at else None
    call.revision = revision
    if call.carrier_sequence is None:
        call.carrier_sequence = -1


def insert_new(
    session: Session, model: type[t.CallEvent], rows: Sequence[Mapping[str, Any]]
) -> int:
    """Insert the rows whose unique keys are new; the number inserted (same on both databases).

    The rows go as parameters of one cached statement (batched into multi-row INSERTs by the
    driver layer), not as a statement built per call: compiling a fresh ``VALUES`` list for
    every snapshot's history was most of the records writer's time under load.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).on_conflict_do_nothing().returning(model.id)
    return len(session.execute(statement, list(rows)).all())


def _dedupe_key(source: str, body: Mapping[str, str], sequence: int | None, token: str) -> str:
    sid = body.get("CallSid", "")
    if sequence is not None:
        return f"{source}:{sid}:{sequence}"
    if body.get("RecordingSid"):
        return f"{source}:{body['RecordingSid']}:{body.get('RecordingStatus', '')}"
    if token:
        return f"token:{token}"
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return f"{source}:{sid}:{digest[:32]}"


def _callback_detail(body: Mapping[str, str]) -> str | None:
    parts: Iterable[str] = (
        f"{body['CallDuration']} s" if body.get("CallDuration") else "",
        f"recording {body['RecordingSid']}" if body.get("RecordingSid") else "",
        f"leg {body['CallSid']}" if body.get("ParentCallSid") else "",
    )
    detail = ", ".join(part for part in parts if part)
    return detail or None


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None
