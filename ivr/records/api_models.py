"""The REST API's response bodies as pydantic models: every handler passes what it answers
through one of these, and the OpenAPI document's schemas are generated from the same models, so
the document describes exactly what the handlers send.

Times are ISO 8601 strings with their UTC offset, as the records module writes them; money is a
string of dollars with two decimals (exact, never a float). Models ignore keys they do not
declare: a field added to a record reaches the API when it is declared here, never undocumented.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Money = Annotated[
    str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", description="Dollars, exact: '45.00'.")
]


class Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class ErrorBody(Body):
    error: str = Field(description="What is wrong, for a person.")


class Me(Body):
    username: str
    role: str = Field(description="admin, qa or officer: what the token may see.")
    officer_id: str | None
    token: str = Field(description="'user' (a user's API token) or 'operator' (the legacy one).")


# -- calls ---------------------------------------------------------------------------------------


class CallRow(Body):
    """One call of the list (``ivr.web.queries.CallRow``)."""

    id: int
    call_sid: str
    started_at: Timestamp
    campaign_id: str
    campaign: str
    publisher_id: str
    publisher: str
    officer_id: str | None
    officer: str | None
    caller: str = Field(description="Masked: '+1••••••0123'.")
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
    revenue: Money | None
    reviewed: bool
    verdict_agrees: bool | None
    verdict_label: str | None
    verdict_billable: bool | None


class CallPage(Body):
    total: int = Field(description="Calls matching the filters, all pages.")
    page: int
    page_size: int
    pages: int = Field(description="Pages the matching calls fill (at most 100).")
    calls: list[CallRow]


class Named(Body):
    id: str
    name: str | None


class Attribution(Body):
    number: str = Field(description="The tracking number dialled.")
    campaign: Named
    publisher: Named
    caller: str = Field(description="Masked.")
    caller_state: str | None
    repeat: bool


class Visit(Body):
    """The web visit that had the tracking number on lease when the call came."""

    visit_id: str
    source: str | None
    medium: str | None
    campaign: str | None = Field(description="The ad campaign (utm_campaign).")
    keyword: str | None
    content: str | None
    landing_page: str | None
    referrer: str | None
    click_id: str | None
    click_id_kind: str | None = Field(description="gclid, msclkid or fbclid.")
    leased_at: Timestamp


class Flow(Body):
    name: str
    version: str


class AnswerItem(Body):
    slot: str
    value: str
    source: str
    heard: str | None = Field(description="What was heard, digits masked.")
    confidence: float | None
    attempts: int
    at: Timestamp


class TransferAttemptItem(Body):
    position: int
    step: str
    officer: str
    number: str = Field(description="The officer leg's number, masked.")
    outcome: str | None
    duplicate: bool
    bid: Money | None
    started_at: Timestamp
    ended_at: Timestamp | None
    duration_s: float


class ScoreItem(Body):
    score: int
    qualified: bool
    intent: str | None
    probabilities: dict[str, float]
    reasons: list[Any]


class Consent(Body):
    id: int
    step: str
    flow: str
    flow_version: str
    caller_state: str | None
    all_party: bool
    disclosure: str
    asked: bool
    given: bool | None
    heard: str | None
    at: Timestamp


class TimelineEvent(Body):
    at: Timestamp
    source: str
    event: str
    sequence: int | None
    step: str | None
    detail: str | None
    data: dict[str, Any]


class TranscriptItem(Body):
    model: str | None
    text: str = Field(description="The whole text, digits masked.")
    segments: list[dict[str, Any]] = Field(description="Timed segments (start, end, text…).")


class RecordingItem(Body):
    recording_sid: str
    duration_s: int | None
    channels: int | None
    source: str | None
    created_at: Timestamp
    audio: str | None = Field(
        description="Where the audio streams from (this API, with the same token); null while "
        "the recording is not stored yet."
    )
    transcribed: bool


class RecordingWithTranscript(RecordingItem):
    transcript: TranscriptItem | None


class AdjustmentItem(Body):
    id: int
    line_id: int
    kind: str = Field(description="dispute or correction.")
    status: str = Field(description="open, accepted or rejected.")
    reason: str
    raised_by: str
    raised_at: Timestamp
    revenue_delta: Money
    payout_delta: Money | None = Field(
        description="What the publisher is paid: null for officers (the operator's business)."
    )
    resolved_by: str | None
    resolved_at: Timestamp | None
    resolution: str | None


class CallBilling(Body):
    line_id: int
    billable: bool
    rule: str
    reason: str
    officer: str | None
    bridged_s: float
    score: int | None
    revenue: Money
    payout: Money | None = Field(
        description="What the publisher is paid: null for officers (the operator's business)."
    )
    net_revenue: Money
    net_payout: Money | None = Field(
        description="What the publisher is paid: null for officers (the operator's business)."
    )
    net_margin: Money | None = Field(
        description="What the publisher is paid: null for officers (the operator's business)."
    )
    consent_id: int | None
    decided_at: Timestamp
    adjustments: list[AdjustmentItem]


class CallRecord(Body):
    """Everything recorded about one call (``ivr.records.record.call_record``)."""

    call_sid: str
    attribution: Attribution
    visit: Visit | None = Field(
        description="null for a call to a printed number or to a pool number on no lease."
    )
    flow: Flow
    status: str
    step: str | None
    outcome: str | None
    started_at: Timestamp
    ended_at: Timestamp | None
    duration_s: int | None
    carrier_status: str | None
    connected: bool
    officer: Named | None
    answers: list[AnswerItem]
    transfer_attempts: list[TransferAttemptItem] = Field(
        description="Every officer tried, in order; an officer sees only their own attempts."
    )
    score: ScoreItem | None
    consent: Consent | None
    timeline: list[TimelineEvent]
    recordings: list[RecordingWithTranscript]
    billing: CallBilling | None


class Recordings(Body):
    call_sid: str
    recordings: list[RecordingItem]


class Transcript(TranscriptItem):
    recording_sid: str


class Transcripts(Body):
    call_sid: str
    transcripts: list[Transcript]


class CallScore(Body):
    call_sid: str
    score: ScoreItem | None = Field(description="null while the call is not scored.")
    confidence: float | None = Field(description="The classifier's probability of its intent.")


# -- billing -------------------------------------------------------------------------------------


class BillingLine(Body):
    line_id: int
    call_sid: str
    started_at: Timestamp
    officer_id: str | None
    publisher_id: str
    campaign_id: str
    connected: bool
    bridged_s: float
    score: int | None
    billable: bool
    rule: str
    reason: str
    revenue: Money = Field(description="As decided, before adjustments.")
    payout: Money | None = Field(
        description="What the publisher is paid: null for officers (the operator's business)."
    )
    net_revenue: Money = Field(description="With the accepted adjustments.")
    net_payout: Money | None = Field(
        description="What the publisher is paid: null for officers (the operator's business)."
    )
    decided_at: Timestamp


class BillingPage(Body):
    total: int
    page: int
    page_size: int
    pages: int
    lines: list[BillingLine]


# -- reports -------------------------------------------------------------------------------------


class PnlRow(Body):
    id: str | None = Field(description="The publisher, campaign or officer; null for totals.")
    name: str
    calls: int
    connected: int
    billable: int
    billable_rate: float | None
    revenue: Money
    payout: Money
    margin: Money
    average_score: float | None
    disputes_open: int
    disputes_accepted: int


class PnlReport(Body):
    by: str
    start: Timestamp = Field(alias="from")
    end: Timestamp = Field(alias="to", description="Excluded.")
    rows: list[PnlRow]
    totals: PnlRow


class CallLine(Body):
    call_sid: str
    started_at: Timestamp
    campaign: str
    publisher: str
    caller: str = Field(description="Masked.")
    state: str | None
    officer: str | None
    connected: bool
    line_id: int | None
    bridged_s: float | None
    score: int | None
    billable: bool | None
    rule: str | None
    reason: str | None
    revenue: Money | None
    payout: Money | None


class CallsReport(Body):
    start: Timestamp = Field(alias="from")
    end: Timestamp = Field(alias="to")
    limit: int
    offset: int
    calls: list[CallLine]
