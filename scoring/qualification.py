"""The qualification score: intent probabilities and prequal answers → 0–100, with its reasons.

Pure: no model, no I/O, no clock. The classifier's :class:`IntentPrediction` (or None when no
model is loaded or the caller said nothing) and what the caller answered go in; a
:class:`Qualification` comes out, and every point in it is explained by a :class:`Reason`, so a
buyer disputing a call, or an operator tuning a campaign, can read why a call scored what it did.

How the score is made (the weights are :class:`QualificationRules`, set per campaign):

1. **Intent**: the expected value ``Σ p(label) · intent_weights[label]`` over the five labels;
   with no prediction, ``intent_unknown`` points (the answers alone then decide).
2. **Answers**: a loan type or a state the campaign does not serve, and the credit band.
3. **Signals**: no words at all, a very short answer, low recogniser confidence.

The sum is rounded per reason, then clamped to 0–100; the call is ``qualified`` at
``qualified_at`` or more. Reasons come in that order (intent, loan type, state, credit band,
words, confidence); adjustments of zero points are left out, the intent reason never is.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scoring.intent.labels import LABELS, Label
from scoring.intent.prediction import IntentPrediction

CREDIT_BANDS: Final[tuple[str, ...]] = ("excellent", "good", "fair", "poor")
"""The credit bands of the ``credit_band`` answer parser (a test keeps the two in step)."""

UNKNOWN_INTENT: Final = "unknown"
"""The intent slot's value when nothing was classified (no model loaded, or no words)."""

NO_MODEL: Final = "intent model not loaded"
"""The reason given when there were words but no prediction."""

DEFAULT_INTENT_WEIGHTS: Final[Mapping[Label, int]] = {
    "ready": 100,
    "shopping": 80,
    "researching": 45,
    "servicing": 0,
    "not_interested": 0,
}
DEFAULT_CREDIT_POINTS: Final[Mapping[str, int]] = {
    "excellent": 5,
    "good": 0,
    "fair": -10,
    "poor": -25,
}

Points = Annotated[int, Field(ge=0, le=100)]
Adjustment = Annotated[int, Field(ge=-100, le=100)]
Penalty = Annotated[int, Field(ge=-100, le=0)]


class QualificationRules(BaseModel):
    """How a campaign turns intent and answers into a score (a deployment's ``scoring:``).

    Maps may name only some keys: the others keep their defaults.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    intent_weights: dict[Label, Points] = Field(
        default_factory=lambda: dict(DEFAULT_INTENT_WEIGHTS),
        description="Points for each intent label, weighted by its probability (0–100 each).",
    )
    intent_unknown: Points = Field(
        default=70,
        description="The intent points when nothing was classified: no model, or no words.",
    )
    credit_bands: dict[str, Adjustment] = Field(
        default_factory=lambda: dict(DEFAULT_CREDIT_POINTS),
        description="Points added (or taken, when negative) for each credit band.",
    )
    loan_type_not_served: Penalty = Field(
        default=-40, description="A loan type the campaign does not buy."
    )
    state_not_served: Penalty = Field(default=-40, description="A state the campaign does not buy.")
    no_words: Penalty = Field(default=-20, description="The caller said nothing to classify.")
    short_answer_words: Annotated[int, Field(ge=0, le=50)] = Field(
        default=3, description="An answer of fewer words than this is a short answer."
    )
    short_answer: Penalty = Field(default=-10, description="A short answer, in words.")
    low_confidence_below: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.5, description="Recogniser confidence below this is low."
    )
    low_confidence: Penalty = Field(default=-10, description="Low recogniser confidence.")
    qualified_at: Points = Field(
        default=60, description="The lowest score of a qualified call (0–100)."
    )

    @field_validator("intent_weights", mode="before")
    @classmethod
    def _known_labels(cls, value: Any) -> Any:
        return _merged(value, DEFAULT_INTENT_WEIGHTS, "intent label")

    @field_validator("credit_bands", mode="before")
    @classmethod
    def _known_bands(cls, value: Any) -> Any:
        return _merged(value, DEFAULT_CREDIT_POINTS, "credit band")


DEFAULT_RULES: Final = QualificationRules()


def _merged(value: Any, defaults: Mapping[Any, int], what: str) -> Any:
    """The defaults overlaid with ``value``; unknown keys refused, each with a did-you-mean."""
    if not isinstance(value, Mapping):
        return value  # pydantic reports the wrong type
    unknown = [str(key) for key in value if key not in defaults]
    if unknown:
        problems = [
            f"unknown {what} '{key}'{_did_you_mean(key, list(defaults))}" for key in unknown
        ]
        raise ValueError("; ".join(problems))
    return {**defaults, **value}


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(choices)})"


@dataclass(frozen=True)
class Prequal:
    """The prequalification answers, as far as the caller gave them (None: not answered)."""

    loan_type: str | None = None
    loan_type_served: bool | None = None
    """None when the loan type is unknown or the campaign lists no loan types."""
    state: str | None = None
    state_served: bool | None = None
    credit_band: str | None = None


@dataclass(frozen=True)
class CallerWords:
    """What the caller said in their own words, with the recogniser's lowest confidence."""

    texts: tuple[str, ...] = ()
    confidence: float | None = None

    @property
    def count(self) -> int:
        return sum(len(text.split()) for text in self.texts)

    @property
    def joined(self) -> str:
        """The words as one utterance, which is what the classifier reads."""
        return " ".join(" ".join(text.split()) for text in self.texts if text.strip())


class Reason(BaseModel):
    """One thing that moved the score, and by how much."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: int
    text: str

    def __str__(self) -> str:
        sign = "−" if self.points < 0 else "+"
        return f"{self.text} ({sign}{abs(self.points)})"


class Qualification(BaseModel):
    """A call's score, whether it qualifies, and why; stored with the call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: Annotated[int, Field(ge=0, le=100)]
    qualified: bool
    label: Label | None = None
    """The most likely intent; None when nothing was classified."""
    probabilities: dict[Label, float] = Field(default_factory=dict)
    reasons: tuple[Reason, ...] = ()

    @property
    def intent(self) -> str:
        """The intent slot's value: the label, or ``unknown``."""
        return self.label or UNKNOWN_INTENT

    @property
    def explained(self) -> list[str]:
        return [str(reason) for reason in self.reasons]


def qualify(
    prediction: IntentPrediction | None,
    prequal: Prequal,
    words: CallerWords,
    rules: QualificationRules = DEFAULT_RULES,
    *,
    unclassified: str = NO_MODEL,
) -> Qualification:
    """Score a call from its intent prediction, its answers and how the caller spoke.

    ``prediction`` is None when no model is loaded or there were no words to classify; the
    intent then counts ``rules.intent_unknown`` points, and the reason says which it was
    (``unclassified`` when there were words).
    """
    reasons = [_intent(prediction, words, rules, unclassified)]
    reasons += _answers(prequal, rules)
    reasons += _signals(words, rules)
    score = max(0, min(100, sum(reason.points for reason in reasons)))
    return Qualification(
        score=score,
        qualified=score >= rules.qualified_at,
        label=prediction.label if prediction else None,
        probabilities=dict(prediction.probabilities) if prediction else {},
        reasons=tuple(reasons),
    )


def _intent(
    prediction: IntentPrediction | None,
    words: CallerWords,
    rules: QualificationRules,
    unclassified: str,
) -> Reason:
    if prediction is not None:
        expected = sum(
            prediction.probabilities.get(label, 0.0) * rules.intent_weights[label]
            for label in LABELS
        )
        label = prediction.label
        return Reason(points=round(expected), text=f"intent {label} {prediction.confidence:.2f}")
    if words.count == 0:
        return Reason(points=rules.intent_unknown, text="intent unknown: no words to classify")
    return Reason(points=rules.intent_unknown, text=unclassified)


def _answers(prequal: Prequal, rules: QualificationRules) -> list[Reason]:
    reasons = []
    if prequal.loan_type_served is False:
        text = f"loan type {prequal.loan_type} not served"
        reasons.append(Reason(points=rules.loan_type_not_served, text=text))
    if prequal.state_served is False:
        text = f"state {prequal.state} not served"
        reasons.append(Reason(points=rules.state_not_served, text=text))
    band = prequal.credit_band
    if band is not None and rules.credit_bands.get(band, 0) != 0:
        reasons.append(Reason(points=rules.credit_bands[band], text=f"credit band {band}"))
    return [reason for reason in reasons if reason.points != 0]


def _signals(words: CallerWords, rules: QualificationRules) -> list[Reason]:
    reasons = []
    count = words.count
    if count == 0:
        reasons.append(Reason(points=rules.no_words, text="no answer in words"))
    elif count < rules.short_answer_words:
        plural = "word" if count == 1 else "words"
        reasons.append(Reason(points=rules.short_answer, text=f"answer only {count} {plural}"))
    confidence = words.confidence
    if count and confidence is not None and confidence < rules.low_confidence_below:
        text = f"recogniser confidence {confidence:.2f}"
        reasons.append(Reason(points=rules.low_confidence, text=text))
    return [reason for reason in reasons if reason.points != 0]
