"""The flow language as pydantic models: one model per step kind, unknown fields refused.

This is the first of the two validation phases (the graph checks in :mod:`ivr.flows.checks` are
the second). ``warmline schema`` exports :func:`flow_json_schema` so editors can complete and
check flows as they are typed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from ivr.answers.us_states import US_STATES
from ivr.compliance.consent import ALL_PARTY_CONSENT_STATES
from ivr.flows.conditions import Condition, SlotName

StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
KeypadKey = Annotated[str, Field(pattern=r"^[0-9*#]{1,12}$")]
Seconds = Annotated[int, Field(ge=1, le=3600)]
InputMode = Literal["keypad", "speech", "voice"]
"""keypad: DTMF; speech: the carrier's recogniser; voice: recorded and transcribed by Whisper."""
Text = Annotated[str, Field(min_length=1, max_length=4000)]
StateCode = Annotated[str, Field(json_schema_extra={"enum": sorted(US_STATES)})]
"""A USPS state code (``CA``); checked against the 50 states and DC with the graph checks."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Defaults(_Strict):
    """Flow-wide settings each step may override."""

    voice: str = "Polly.Joanna"
    language: str = "en-US"
    timeout: Annotated[int, Field(ge=1, le=60)] = 5
    retries: Annotated[int, Field(ge=0, le=5)] = 2
    no_input: Text = "Sorry, I didn't hear anything."
    no_match: Text = "Sorry, I didn't understand that."
    keypad_fallback: Text = "Sorry, I couldn't make that out. Please use your keypad."
    """Said when a spoken (voice) answer cannot be used and the question moves to the keypad."""


class _Step(_Strict):
    id: StepId


class _Continues(_Step):
    next: StepId | None = Field(default=None, description="Defaults to the following step.")


class SayStep(_Continues):
    """Speak text to the caller (text-to-speech)."""

    kind: Literal["say"]
    text: Text
    voice: str | None = None
    language: str | None = None


class PlayStep(_Continues):
    """Play an audio file by URL."""

    kind: Literal["play"]
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    loop: Annotated[int, Field(ge=1, le=10)] = 1


class AskStep(_Continues):
    """Ask by keypad and/or speech, parse the answer into a slot, re-prompt on failure."""

    kind: Literal["ask"]
    slot: SlotName
    parser: str
    prompt: Text
    reprompt: Text | None = None
    input: Annotated[list[InputMode], Field(min_length=1)] = ["keypad", "speech"]
    keypad: dict[KeypadKey, str] = Field(default_factory=dict)
    max_digits: Annotated[int, Field(ge=1, le=20)] | None = None
    timeout: Annotated[int, Field(ge=1, le=60)] | None = None
    hints: list[str] = Field(default_factory=list)
    retries: Annotated[int, Field(ge=0, le=5)] | None = None
    no_input: Text | None = None
    no_match: Text | None = None
    max_seconds: Annotated[int, Field(ge=1, le=30)] = 8
    """voice: the longest answer recorded."""
    silence_timeout: Annotated[int, Field(ge=1, le=10)] = 1
    """voice: the silence, in seconds, that ends the answer."""
    on_fail: StepId

    @model_validator(mode="after")
    def _inputs_fit_together(self) -> AskStep:
        if self.keypad and "keypad" not in self.input:
            raise ValueError("has a keypad map but 'input' does not include keypad")
        if "voice" in self.input and "speech" in self.input:
            raise ValueError("'input' cannot have both speech and voice (one recogniser per ask)")
        if "voice" in self.input and "keypad" not in self.input:
            raise ValueError("'input' voice needs keypad too: it is the fallback when speech fails")
        return self


CONSENT_KEYPAD: dict[str, str] = {"1": "yes", "2": "no"}
"""The consent question's keys when a flow gives none: 1 agrees, 2 refuses."""


class AllPartyConsent(_Strict):
    """How a consent step asks callers from all-party-consent states (an ask of ``yes_no``)."""

    states: Annotated[list[StateCode], Field(min_length=1)] = list(ALL_PARTY_CONSENT_STATES)
    """Caller states (Twilio's ``FromState``) asked for consent; the default is
    :data:`ivr.compliance.consent.ALL_PARTY_CONSENT_STATES`."""
    prompt: Text
    reprompt: Text | None = None
    keypad: Annotated[dict[KeypadKey, str], Field(min_length=1)] = dict(CONSENT_KEYPAD)
    """Keys and what they answer, ``yes`` or ``no``."""
    timeout: Annotated[int, Field(ge=1, le=60)] | None = None
    retries: Annotated[int, Field(ge=0, le=5)] | None = None


class ConsentStep(_Continues):
    """The recording disclosure, and explicit consent where the caller's state requires it.

    Callers from a state in ``all_party.states`` are asked ``all_party.prompt`` (keypad or
    speech, yes or no); everyone else, and callers whose state is unknown, hear ``text``. A
    refusal, or no answer after the retries, switches recording off for the rest of the call
    and goes to ``on_refuse`` (default: on, as after a yes). What was played and answered is
    kept with the call (``CallState.consent``).
    """

    kind: Literal["consent"]
    text: Text
    all_party: AllPartyConsent
    on_refuse: StepId | None = Field(
        default=None, description="Where a caller who refuses goes; defaults to 'next'."
    )


class RecordStep(_Continues):
    """Record a free-form spoken answer into a slot (the recording's URL)."""

    kind: Literal["record"]
    slot: SlotName
    prompt: Text
    max_seconds: Seconds = 30
    silence_timeout: Annotated[int, Field(ge=1, le=30)] = 3
    beep: bool = True


class ScoreStep(_Continues):
    """Classify what the caller said and score the call into the slots of ``SCORE_SLOTS``.

    Silent: the server scores within the same turn (no round-trip to the carrier), then the flow
    goes on, usually to a branch on ``intent``, ``score`` or ``qualified``.
    """

    kind: Literal["score"]
    text: Annotated[list[SlotName], Field(min_length=1)] = Field(
        description="Slots whose caller words are classified (their transcript), in order."
    )


SCORE_SLOTS = ("intent", "score", "qualified")
"""What a score step fills: the intent label (or ``unknown``), the score 0–100 as text, and
``yes``/``no`` against the campaign's ``qualified_at``."""


class Case(_Strict):
    when: Condition
    next: StepId


class BranchStep(_Step):
    """Go to the first case whose condition holds, else to ``default``."""

    kind: Literal["branch"]
    cases: Annotated[list[Case], Field(min_length=1)]
    default: StepId | None = None


class SetStep(_Continues):
    """Set slots to fixed values, e.g. to mark a call for routing or reporting."""

    kind: Literal["set"]
    values: Annotated[dict[SlotName, str], Field(min_length=1)]


class TransferStep(_Step):
    """Warm-transfer the caller to an officer of ``pool``; ``on_fail`` when nobody takes it.

    Each officer hears a whisper built from the call and accepts with 1; a decline, no answer,
    busy or failure rolls to the next officer, with ``holding`` said to the caller, until
    ``attempts`` officers were tried or ``max_wait`` seconds have passed.
    """

    kind: Literal["transfer"]
    pool: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    message: Text | None = None
    whisper: Text | None = None
    """Said to the officer before the call's summary, e.g. "Warmline transfer."."""
    timeout: Annotated[int, Field(ge=5, le=120)] = 20
    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    max_wait: Annotated[int, Field(ge=10, le=600)] = 120
    holding: Text = "Please hold while I connect you with another loan officer."
    record: bool = True
    on_fail: StepId


class VoicemailStep(_Continues):
    """Take a message and a call-back request when nobody can take the call now."""

    kind: Literal["voicemail"]
    prompt: Text
    max_seconds: Seconds = 120
    silence_timeout: Annotated[int, Field(ge=1, le=30)] = 5


class HangupStep(_Step):
    """Say an optional goodbye and end the call.

    ``outcome`` names how the call ended for reports; without it the call keeps the outcome it
    already has (``callback_requested`` after a voicemail), else ``completed``.
    """

    kind: Literal["hangup"]
    text: Text | None = None
    outcome: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] | None = None


class GotoStep(_Step):
    """Jump to another step."""

    kind: Literal["goto"]
    target: StepId


Step = Annotated[
    SayStep
    | PlayStep
    | ConsentStep
    | AskStep
    | RecordStep
    | ScoreStep
    | BranchStep
    | SetStep
    | TransferStep
    | VoicemailStep
    | HangupStep
    | GotoStep,
    Field(discriminator="kind"),
]

STEP_MODELS: dict[str, type[BaseModel]] = {
    "say": SayStep,
    "play": PlayStep,
    "consent": ConsentStep,
    "ask": AskStep,
    "record": RecordStep,
    "score": ScoreStep,
    "branch": BranchStep,
    "set": SetStep,
    "transfer": TransferStep,
    "voicemail": VoicemailStep,
    "hangup": HangupStep,
    "goto": GotoStep,
}

WAITING_KINDS = frozenset({"ask", "record", "transfer", "voicemail"})
"""Step kinds that hand control back to the caller (and end a webhook's turn).

Not ``consent``: it waits only for callers from all-party states, and runs straight through
for everyone else, so a loop through it alone could spin."""

TERMINAL_KINDS = frozenset({"hangup"})


class Flow(_Strict):
    """A whole call flow: metadata, defaults and an ordered list of steps."""

    flow: StepId = Field(description="The flow's name, referenced by campaigns.")
    version: Annotated[str, Field(min_length=1, max_length=40)] = "1"
    description: str = ""
    defaults: Defaults = Field(default_factory=Defaults)
    start: StepId | None = Field(default=None, description="Defaults to the first step.")
    steps: Annotated[list[Step], Field(min_length=1)]

    _by_id: dict[str, Step] = PrivateAttr(default_factory=dict)
    _order: list[str] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: Any, /) -> None:
        self._order = [s.id for s in self.steps]
        self._by_id = {s.id: s for s in self.steps}

    @property
    def start_step(self) -> str:
        return self.start or self.steps[0].id

    def step(self, step_id: str) -> Step:
        return self._by_id[step_id]

    def following(self, step_id: str) -> str | None:
        """The id of the step written after ``step_id``, the implicit ``next``."""
        position = self._order.index(step_id)
        return self._order[position + 1] if position + 1 < len(self._order) else None


def next_of(flow: Flow, step: Step) -> str | None:
    """Where a continuing step goes next: its ``next``, else the step written after it."""
    explicit: str | None = getattr(step, "next", None)
    return explicit if explicit is not None else flow.following(step.id)


def flow_json_schema() -> dict[str, Any]:
    """The JSON Schema of a flow file, for editors."""
    schema = Flow.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Warmline call flow"
    return schema
