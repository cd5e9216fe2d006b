"""The record tables, as SQLAlchemy 2 declarative models: the same on SQLite and PostgreSQL.

Money is whole cents (exact on both databases); times are UTC. Deployment objects
(publishers, campaigns, numbers, officers) are keyed by their ids from ``warmline.yaml`` and are
never deleted, only marked inactive, because calls and billing lines keep pointing at them.
Billing lines repeat the few call columns the P&L groups and filters by, so a report over
millions of calls is one scan of one table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ID = String(64)
PHONE = String(32)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both databases (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: records keep UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


# -- the deployment, synced from warmline.yaml ---------------------------------------------------


class Synced(Base):
    """A deployment object: kept when it leaves the file (inactive), for the calls that name it."""

    __abstract__ = True

    active: Mapped[bool] = mapped_column(Boolean, default=True)
    synced_at: Mapped[datetime]


class Publisher(Synced):
    __tablename__ = "publishers"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Campaign(Synced):
    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    flow: Mapped[str] = mapped_column(ID)
    duplicate_window_h: Mapped[int] = mapped_column(Integer, default=0)
    duplicates_across_campaigns: Mapped[bool] = mapped_column(Boolean, default=False)


class TrackingNumber(Synced):
    __tablename__ = "tracking_numbers"

    number: Mapped[str] = mapped_column(PHONE, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    publisher_id: Mapped[str] = mapped_column(ForeignKey("publishers.id"))
    payout_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class Officer(Synced):
    __tablename__ = "officers"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(PHONE)
    nmls_id: Mapped[str | None] = mapped_column(String(32))
    price_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    min_billable_s: Mapped[int] = mapped_column(Integer, default=0)
    min_score: Mapped[int | None] = mapped_column(Integer)
    min_credit_band: Mapped[str | None] = mapped_column(String(16))
    loan_types: Mapped[list[Any]] = mapped_column(default=list)
    licences: Mapped[dict[str, Any]] = mapped_column(default=dict)
    duplicate_window_h: Mapped[int] = mapped_column(Integer, default=0)


# -- calls and what happened on them -------------------------------------------------------------


class Call(Base):
    """One inbound call, built from its call-state snapshots and the carrier's callbacks."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_caller_started", "caller", "started_at"),
        Index("ix_calls_started", "started_at"),
        Index("ix_calls_campaign_started", "campaign_id", "started_at"),
        Index("ix_calls_publisher_started", "publisher_id", "started_at"),
        Index("ix_calls_officer_started", "officer_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_sid: Mapped[str] = mapped_column(ID, unique=True)
    number: Mapped[str] = mapped_column(PHONE)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    publisher_id: Mapped[str] = mapped_column(ForeignKey("publishers.id"))
    caller: Mapped[str] = mapped_column(PHONE)
    caller_state: Mapped[str | None] = mapped_column(String(8))
    flow: Mapped[str] = mapped_column(ID)
    flow_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[str | None] = mapped_column(ID)
    outcome: Mapped[str | None] = mapped_column(String(64))
    repeat: Mapped[bool] = mapped_column(Boolean, default=False)
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    officer_id: Mapped[str | None] = mapped_column(ID)
    """The officer the caller was bridged to (or the overflow line), if any."""
    score: Mapped[int | None] = mapped_column(Integer)
    intent: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[int | None] = mapped_column(Integer)
    """The carrier's CallDuration, from the final status callback."""
    carrier_status: Mapped[str | None] = mapped_column(String(16))
    carrier_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    """The call-state version this row was built from; older snapshots never overwrite it."""

    answers: Mapped[list[Answer]] = relationship(back_populates="call", order_by="Answer.at")
    attempts: Mapped[list[TransferAttempt]] = relationship(
        back_populates="call", order_by="TransferAttempt.position"
    )


class CallEvent(Base):
    """A line of a call's timeline: an engine step or a carrier callback, stored exactly once.

    ``call_sid`` is not a foreign key: a callback for a call not (yet) recorded is kept, and
    joins its call when the call's record arrives.
    """

    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_call", "call_sid", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    call_sid: Mapped[str] = mapped_column(ID)
    source: Mapped[str] = mapped_column(String(32))
    """``engine`` or the callback's route: ``status``, ``officer-status``, ``recording-status``."""
    event: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime]
    step: Mapped[str | None] = mapped_column(ID)
    detail: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("call_id", "slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    slot: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    heard: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    at: Mapped[datetime]

    call: Mapped[Call] = relationship(back_populates="answers")


class TransferAttempt(Base):
    __tablename__ = "transfer_attempts"
    __table_args__ = (UniqueConstraint("call_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(ID)
    officer_id: Mapped[str] = mapped_column(ID)
    number: Mapped[str] = mapped_column(PHONE)
    outcome: Mapped[str | None] = mapped_column(String(16))
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    bid_cents: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)

    call: Mapped[Call] = relationship(back_populates="attempts")


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_call", "call_sid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_sid: Mapped[str] = mapped_column(ID, unique=True)
    call_sid: Mapped[str] = mapped_column(ID)
    url: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(32))
    path: Mapped[str | None] = mapped_column(Text)
    """Where the worker stored the audio, relative to the recording store."""
    created_at: Mapped[datetime]


class Transcript(Base):
    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_sid: Mapped[str] = mapped_column(ID, unique=True)
    call_sid: Mapped[str] = mapped_column(ID, index=True)
    model: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    segments: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]


class Score(Base):
    __tablename__ = "scores"
    __table_args__ = (Index("ix_scores_confidence", "confidence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    score: Mapped[int] = mapped_column(Integer)
    qualified: Mapped[bool] = mapped_column(Boolean)
    intent: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    """The classifier's probability of ``intent``; None when nothing was classified. QA
    reviews the least confident calls first."""
    probabilities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reasons: Mapped[list[Any]] = mapped_column(default=list)


class ConsentRecord(Base):
    """The disclosure played and any consent given, with the flow version that played it."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    step: Mapped[str] = mapped_column(ID)
    flow: Mapped[str] = mapped_column(ID)
    flow_version: Mapped[str] = mapped_column(String(64))
    caller_state: Mapped[str | None] = mapped_column(String(8))
    all_party: Mapped[bool] = mapped_column(Boolean)
    disclosure: Mapped[str] = mapped_column(Text)
    asked: Mapped[bool] = mapped_column(Boolean)
    given: Mapped[bool | None] = mapped_column(Boolean)
    heard: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


# -- money ---------------------------------------------------------------------------------------


class BillingLine(Base):
    """Whether one ended call bills, to whom, for how much, and the rule that decided it."""

    __tablename__ = "billing_lines"
    __table_args__ = (
        Index("ix_billing_started", "started_at"),
        Index("ix_billing_officer", "officer_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    officer_id: Mapped[str | None] = mapped_column(ID)
    publisher_id: Mapped[str] = mapped_column(ID)
    campaign_id: Mapped[str] = mapped_column(ID)
    started_at: Mapped[datetime]
    connected: Mapped[bool] = mapped_column(Boolean)
    bridged_s: Mapped[float] = mapped_column(Float, default=0.0)
    score: Mapped[int | None] = mapped_column(Integer)
    billable: Mapped[bool] = mapped_column(Boolean)
    rule: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    revenue_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    payout_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consent_records.id"))
    decided_at: Mapped[datetime]

    adjustments: Mapped[list[Adjustment]] = relationship(
        back_populates="line", order_by="Adjustment.id"
    )


class Adjustment(Base):
    """A change to a billing line's money: an officer's dispute (open until an operator accepts
    or rejects it) or an operator's own correction. Never deleted; only accepted ones count."""

    __tablename__ = "adjustments"
    __table_args__ = (Index("ix_adjustments_line", "billing_line_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    billing_line_id: Mapped[int] = mapped_column(ForeignKey("billing_lines.id"))
    kind: Mapped[str] = mapped_column(String(16))
    """``dispute`` (raised by the officer) or ``correction`` (made by an operator)."""
    status: Mapped[str] = mapped_column(String(16))
    """``open``, ``accepted`` or ``rejected``."""
    reason: Mapped[str] = mapped_column(Text)
    raised_by: Mapped[str] = mapped_column(String(200))
    raised_at: Mapped[datetime]
    revenue_delta_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    payout_delta_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)

    line: Mapped[BillingLine] = relationship(back_populates="adjustments")


# -- people and their judgements ----------------------------------------------------------------


class User(Base):
    """Someone who signs in to the web pages: an admin, QA staff, or a loan officer (who sees
    only the calls sent to their officer record)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    """``admin``, ``qa`` or ``officer``."""
    officer_id: Mapped[str | None] = mapped_column(ForeignKey("officers.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class Review(Base):
    """A QA verdict on a call: kept, never edited; the newest one per call is the call's."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_call", "call_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agrees: Mapped[bool] = mapped_column(Boolean)
    """Agrees with the classifier's intent label."""
    label: Mapped[str | None] = mapped_column(String(32))
    """The corrected intent label when the reviewer disagrees."""
    billable: Mapped[bool | None] = mapped_column(Boolean)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


# -- attribution and API access --------------------------------------------------------------


class Attribution(Base):
    """Where a call came from: the web visit that had its tracking number on lease when it rang
    (dynamic number insertion). A call to a number with no live lease has none: it is
    attributed to its campaign alone."""

    __tablename__ = "attributions"
    __table_args__ = (Index("ix_attributions_source", "source", "medium"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    visit_id: Mapped[str] = mapped_column(ID)
    source: Mapped[str | None] = mapped_column(String(200))
    medium: Mapped[str | None] = mapped_column(String(200))
    campaign: Mapped[str | None] = mapped_column(String(200))
    """The ad campaign (``utm_campaign``), not the Warmline campaign the number belongs to."""
    keyword: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str | None] = mapped_column(String(200))
    landing_page: Mapped[str | None] = mapped_column(Text)
    referrer: Mapped[str | None] = mapped_column(Text)
    click_id: Mapped[str | None] = mapped_column(String(200))
    click_id_kind: Mapped[str | None] = mapped_column(String(16))
    """``gclid``, ``msclkid``, ``fbclid``…: which ad network's click id ``click_id`` is."""
    leased_at: Mapped[datetime]


class ApiToken(Base):
    """A user's token for the REST API: only its hash is kept; it acts with its user's role."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    """The token's first characters, shown in lists so a person can tell tokens apart."""
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


# -- outbound webhooks ---------------------------------------------------------------------------


class WebhookEndpoint(Synced):
    """An officer's or a campaign's webhook endpoint, synced from ``webhooks:`` in the
    deployment file. Only the name of the environment variable holding its secret is kept."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    officer_id: Mapped[str | None] = mapped_column(ID)
    campaign_id: Mapped[str | None] = mapped_column(ID)
    events: Mapped[list[Any]] = mapped_column(default=list)
    secret_env: Mapped[str] = mapped_column(String(128))
    timeout_s: Mapped[float] = mapped_column(Float, default=10.0)


class WebhookEvent(Base):
    """The outbox: one event for one endpoint, written in the transaction that recorded its
    fact, then relayed to the delivery queue; its delivery's progress is kept here too."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_unrelayed", "relayed_at", "id"),
        Index("ix_webhook_events_endpoint", "endpoint_id", "created_at"),
        Index("ix_webhook_events_officer", "officer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    """Sent as ``X-Warmline-Delivery`` and the body's ``id``: receivers dedupe on it."""
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    """Endpoint, event and fact: a journal entry applied twice makes no second event."""
    endpoint_id: Mapped[str] = mapped_column(ID)
    officer_id: Mapped[str | None] = mapped_column(ID)
    """The endpoint's officer (None for a campaign's endpoint): whose portal shows it."""
    event: Mapped[str] = mapped_column(String(32))
    call_sid: Mapped[str | None] = mapped_column(ID)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    relayed_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending`` (not queued yet), ``queued``, ``retrying``, ``delivered`` or ``dead``."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    """The receiver's HTTP status on the last attempt (None: no answer)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
