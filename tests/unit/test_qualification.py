"""The qualification score, pure: every reason, the thresholds, clamping, rules and their checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ivr.answers import PARSERS
from scoring.intent.labels import LABELS, Label
from scoring.intent.prediction import IntentPrediction
from scoring.qualification import (
    CREDIT_BANDS,
    DEFAULT_RULES,
    CallerWords,
    Prequal,
    QualificationRules,
    qualify,
)

pytestmark = pytest.mark.unit

GOAL = CallerWords(("I'd like to refinance and lower my rate",), 0.92)
SERVED = Prequal(
    loan_type="refinance",
    loan_type_served=True,
    state="TX",
    state_served=True,
    credit_band="good",
)


def predicted(**probabilities: float) -> IntentPrediction:
    rest = (1.0 - sum(probabilities.values())) / (len(LABELS) - len(probabilities))
    full: dict[Label, float] = {label: probabilities.get(label, rest) for label in LABELS}
    return IntentPrediction(full)


def test_intent_counts_as_the_expected_value_of_the_label_weights() -> None:
    prediction = predicted(ready=0.91, shopping=0.05, researching=0.04, servicing=0.0)
    result = qualify(prediction, SERVED, GOAL)
    # 0.91·100 + 0.05·80 + 0.04·45 = 96.8
    assert result.explained == ["intent ready 0.91 (+97)"]
    assert (result.score, result.qualified, result.label, result.intent) == (
        97,
        True,
        "ready",
        "ready",
    )
    assert result.probabilities == prediction.probabilities


@pytest.mark.parametrize(
    ("label", "score"),
    [
        ("ready", 100),
        ("shopping", 80),
        ("researching", 45),
        ("servicing", 0),
        ("not_interested", 0),
    ],
)
def test_a_certain_label_scores_its_weight(label: Label, score: int) -> None:
    result = qualify(predicted(**{label: 1.0}), SERVED, GOAL)
    assert (result.score, result.label) == (score, label)
    assert result.qualified is (score >= 60)


def test_without_a_model_the_answers_alone_decide_and_the_reason_says_so() -> None:
    result = qualify(None, SERVED, GOAL)
    assert result.explained == ["intent model not loaded (+70)"]
    assert (result.score, result.qualified, result.label, result.intent) == (
        70,
        True,
        None,
        "unknown",
    )
    assert result.probabilities == {}


def test_no_words_is_unknown_intent_and_a_penalty() -> None:
    result = qualify(None, SERVED, CallerWords((), 0.2))
    assert result.explained == [
        "intent unknown: no words to classify (+70)",
        "no answer in words (−20)",
    ]
    assert result.score == 50 and not result.qualified  # and low confidence of nothing is no reason


def test_answers_that_are_not_served_and_the_credit_band_each_move_the_score() -> None:
    prequal = Prequal(
        loan_type="reverse",
        loan_type_served=False,
        state="WY",
        state_served=False,
        credit_band="poor",
    )
    result = qualify(predicted(ready=1.0), prequal, GOAL)
    assert result.explained == [
        "intent ready 1.00 (+100)",
        "loan type reverse not served (−40)",
        "state WY not served (−40)",
        "credit band poor (−25)",
    ]
    assert result.score == 0  # 100 − 105, clamped


@pytest.mark.parametrize(
    ("band", "reasons", "score"),
    [
        ("excellent", ["credit band excellent (+5)"], 75),
        ("good", [], 70),  # zero points: not a reason
        ("fair", ["credit band fair (−10)"], 60),
        ("poor", ["credit band poor (−25)"], 45),
        (None, [], 70),  # not asked
    ],
)
def test_credit_bands(band: str | None, reasons: list[str], score: int) -> None:
    result = qualify(None, Prequal(credit_band=band), GOAL)
    assert result.explained[1:] == reasons
    assert result.score == score


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        (("refinance",), "answer only 1 word (−10)"),
        (("lower rate",), "answer only 2 words (−10)"),
        (("lower my rate",), None),
        (("refi", "please"), "answer only 2 words (−10)"),  # words of every text count
    ],
)
def test_a_very_short_answer_is_a_penalty(texts: tuple[str, ...], reason: str | None) -> None:
    result = qualify(None, SERVED, CallerWords(texts))
    assert result.explained[1:] == ([reason] if reason else [])


@pytest.mark.parametrize(
    ("confidence", "reason"),
    [(0.31, "recogniser confidence 0.31 (−10)"), (0.5, None), (0.93, None), (None, None)],
)
def test_low_recogniser_confidence_is_a_penalty(
    confidence: float | None, reason: str | None
) -> None:
    result = qualify(None, SERVED, CallerWords(GOAL.texts, confidence))
    assert result.explained[1:] == ([reason] if reason else [])


def test_reasons_come_in_the_documented_order() -> None:
    prequal = Prequal(state="WY", state_served=False, credit_band="fair")
    result = qualify(predicted(shopping=0.8), prequal, CallerWords(("quote",), 0.2))
    assert [reason.text for reason in result.reasons] == [
        "intent shopping 0.80",
        "state WY not served",
        "credit band fair",
        "answer only 1 word",
        "recogniser confidence 0.20",
    ]
    assert result.score == max(0, sum(reason.points for reason in result.reasons))


def test_the_score_is_clamped_to_0_and_100() -> None:
    generous = QualificationRules(credit_bands={"excellent": 50})
    high = qualify(predicted(ready=1.0), Prequal(credit_band="excellent"), GOAL, generous)
    assert (high.score, sum(r.points for r in high.reasons)) == (100, 150)
    low = qualify(predicted(servicing=1.0), Prequal(credit_band="poor"), CallerWords(()))
    assert (low.score, sum(r.points for r in low.reasons)) == (0, -45)


def test_qualified_is_the_threshold_inclusive() -> None:
    fair = Prequal(credit_band="fair")  # 70 − 10 = 60 without a model
    assert qualify(None, fair, GOAL).qualified is True
    assert qualify(None, fair, GOAL, QualificationRules(qualified_at=61)).qualified is False
    assert qualify(None, fair, GOAL, QualificationRules(qualified_at=0)).qualified is True


def test_rules_change_the_result() -> None:
    researching = predicted(researching=1.0)
    assert qualify(researching, SERVED, GOAL).score == 45
    keen = QualificationRules(intent_weights={"researching": 75})
    assert keen.intent_weights == {**DEFAULT_RULES.intent_weights, "researching": 75}
    assert qualify(researching, SERVED, GOAL, keen).score == 75
    lenient = QualificationRules(short_answer_words=0, no_words=0, intent_unknown=40)
    terse = qualify(None, SERVED, CallerWords(("refi",)), lenient)
    assert terse.explained == ["intent model not loaded (+40)"]
    silent = qualify(None, SERVED, CallerWords(()), lenient)
    assert silent.explained == ["intent unknown: no words to classify (+40)"]
    harsh = QualificationRules(state_not_served=-100, low_confidence_below=0.95)
    result = qualify(None, Prequal(state="WY", state_served=False), GOAL, harsh)
    assert result.explained[1:] == [
        "state WY not served (−100)",
        "recogniser confidence 0.92 (−10)",
    ]


def test_a_failed_model_says_so_instead_of_not_loaded() -> None:
    result = qualify(None, SERVED, GOAL, unclassified="intent model failed")
    assert result.explained == ["intent model failed (+70)"]


def test_the_same_inputs_give_the_same_qualification() -> None:
    prediction = predicted(ready=0.55, shopping=0.3)
    assert qualify(prediction, SERVED, GOAL) == qualify(prediction, SERVED, GOAL)


def test_the_default_rules_are_the_documented_ones() -> None:
    assert DEFAULT_RULES.model_dump() == {
        "intent_weights": {
            "ready": 100,
            "shopping": 80,
            "researching": 45,
            "servicing": 0,
            "not_interested": 0,
        },
        "intent_unknown": 70,
        "credit_bands": {"excellent": 5, "good": 0, "fair": -10, "poor": -25},
        "loan_type_not_served": -40,
        "state_not_served": -40,
        "no_words": -20,
        "short_answer_words": 3,
        "short_answer": -10,
        "low_confidence_below": 0.5,
        "low_confidence": -10,
        "qualified_at": 60,
    }


def test_credit_bands_are_the_answer_parsers() -> None:
    assert frozenset(CREDIT_BANDS) == PARSERS["credit_band"].values


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"intent_weights": {"redy": 90}}, "unknown intent label 'redy' (did you mean 'ready'?)"),
        (
            {"credit_bands": {"pour": -30, "ok": 1}},
            "unknown credit band 'pour' (did you mean 'poor'?); unknown credit band 'ok' "
            "(known: excellent, good, fair, poor)",
        ),
        ({"intent_weights": {"ready": 120}}, "Input should be less than or equal to 100"),
        ({"qualified_at": -1}, "Input should be greater than or equal to 0"),
        ({"no_words": 5}, "Input should be less than or equal to 0"),
        ({"low_confidence_below": 1.5}, "Input should be less than or equal to 1"),
        ({"qualifed_at": 70}, "Extra inputs are not permitted"),
    ],
)
def test_rules_refuse_unknown_names_and_out_of_range_values(
    rules: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match="\n") as caught:
        QualificationRules.model_validate(rules)
    assert message in str(caught.value)


def test_rules_are_frozen() -> None:
    with pytest.raises(ValidationError):
        DEFAULT_RULES.qualified_at = 10  # type: ignore[misc]
