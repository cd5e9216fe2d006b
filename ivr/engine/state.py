"""The state of one call: serialisable, so any server process can continue any call."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from scoring.qualification import Qualification, QualificationRules

AnswerSource = Literal["keypad", "speech", "voice", "recording", "set", "score"]


class Answer(BaseModel):
    """One filled slot, with how the caller gave it."""

    model_config = ConfigDict(extra="forbid")

    value: str
    source: AnswerSource
    heard: str | None = None
    confidence: float | None = None
    recording: str | None = None
    """voice answers: the audio the transcript came from."""
    signals: dict[str, float] = Field(default_factory=dict)
    """voice answers: Whisper's avg_logprob, no_speech_prob, speech and decoding seconds."""
    attempts: int = 1
    at: float


class HistoryEntry(BaseModel):
    """A timestamped line of what happened: the call's audit trail."""

    model_config = ConfigDict(extra="forbid")

    at: float
    step: str
    event: str
    detail: str | None = None


class TransferAttempt(BaseModel):
    """One officer dialled during a transfer step, and how it ended."""

    model_config = ConfigDict(extra="forbid")

    step: str
    officer: str
    number: str
    claim: str
    started_at: float
    duplicate: bool = False
    """The officer already had this caller inside their window: never billed again."""
    bid: str | None = None
    outcome: str | None = None
    """A ``TransferOutcome``; None while the officer's phone rings or the whisper plays."""
    ended_at: float | None = None
    duration_s: float = 0.0


class ConsentRecord(BaseModel):
    """The recording disclosure a caller heard and, where it was asked, their consent.

    Kept with the call (with ``CallState.flow_version``): what was said, to whom, and what they
    answered, for the call's records.
    """

    model_config = ConfigDict(extra="forbid")

    step: str
    caller_state: str | None
    """Twilio's ``FromState`` as the call arrived; None when it was not reported."""
    all_party: bool
    """The caller's state requires every party's consent (it is in the step's list)."""
    disclosure: str
    """The exact text played: the notice, or the consent question when it was asked."""
    asked: bool
    """Explicit consent was asked for."""
    given: bool | None
    """True or False once answered (no answer after the retries is False); None when it was not
    asked (a one-party notice), or while the question waits (a caller who hangs up on it)."""
    heard: str | None = None
    """What the caller pressed or said to the consent question (the last try)."""
    at: float


class VisitAttribution(BaseModel):
    """The web visit that had the called number on lease when the call arrived (dynamic number
    insertion): where the caller came from, as the publisher's page reported it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    visit_id: str
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    """The ad campaign (``utm_campaign``), not the Warmline campaign."""
    keyword: str | None = None
    content: str | None = None
    landing_page: str | None = None
    referrer: str | None = None
    click_id: str | None = None
    click_id_kind: str | None = None
    """``gclid``, ``msclkid`` or ``fbclid``."""
    leased_at: float


class Caller(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str
    called: str
    campaign: str
    publisher: str
    state: str | None = None
    campaign_lists: dict[str, list[str]] = Field(default_factory=dict)
    voice: bool = False
    scoring: QualificationRules | None = None
    """The campaign's scoring rules when it has its own; None: the defaults."""
    repeat: bool = False
    """Called this campaign inside its duplicate window: flagged, never billed twice."""
    attribution: VisitAttribution | None = None
    """The web visit the called number was leased to; None: the campaign alone."""


class CallState(BaseModel):
    """Where a call is in its flow and everything it has answered."""

    model_config = ConfigDict(extra="forbid")

    call_sid: str
    flow: str
    flow_version: str
    caller: Caller
    status: Literal["active", "ended"] = "active"
    step: str | None = None
    turn: int = 0
    attempts: int = 0
    keypad_only: bool = False
    """The current voice ask fell back to the keypad (speech could not be transcribed)."""
    answers: dict[str, Answer] = Field(default_factory=dict)
    consent: ConsentRecord | None = None
    """The latest consent step's disclosure and answer; None before (or without) one."""
    qualification: Qualification | None = None
    """The latest score step's result: probabilities and the reasons behind the score."""
    history: list[HistoryEntry] = Field(default_factory=list)
    transfers: list[TransferAttempt] = Field(default_factory=list)
    transfer_started_at: float | None = None
    """When the current transfer step was entered: its total wait counts from here."""
    outcome: str | None = None
    started_at: float
    ended_at: float | None = None

    @property
    def slots(self) -> dict[str, str]:
        return {name: answer.value for name, answer in self.answers.items()}

    @property
    def recording_allowed(self) -> bool:
        """False once consent was asked and not given: nothing of the caller is recorded then
        but a message they choose to leave (record and voicemail steps)."""
        consent = self.consent
        return consent is None or not consent.asked or consent.given is True

    @property
    def open_transfer(self) -> TransferAttempt | None:
        """The attempt whose officer leg has not reported an outcome yet."""
        last = self.transfers[-1] if self.transfers else None
        return last if last is not None and last.outcome is None else None

    @property
    def path(self) -> list[str]:
        """The steps entered, in order (a re-prompt does not re-enter)."""
        return [entry.step for entry in self.history if entry.event == "enter"]
