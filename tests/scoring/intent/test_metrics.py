"""Metrics and calibration, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.intent.calibration import fit_temperature, negative_log_likelihood, softmax
from scoring.intent.metrics import evaluate, expected_calibration_error, majority_probabilities

pytestmark = pytest.mark.unit


def _one_hot(indices: list[int]) -> np.ndarray:
    out = np.zeros((len(indices), 5))
    out[np.arange(len(indices)), indices] = 1.0
    return out


def test_precision_recall_f1_and_confusion() -> None:
    truth = [0, 0, 0, 1, 1, 2]
    predicted = [0, 0, 1, 1, 2, 2]
    report = evaluate(truth, _one_hot(predicted))
    ready, shopping, researching = (
        report.per_label[k] for k in ("ready", "shopping", "researching")
    )
    assert (ready.precision, ready.recall, ready.support) == (1.0, 2 / 3, 3)
    assert ready.f1 == pytest.approx(0.8)
    assert (shopping.precision, shopping.recall) == (0.5, 0.5)
    assert (researching.precision, researching.recall) == (0.5, 1.0)
    assert report.confusion[0] == [2, 1, 0, 0, 0]
    assert report.accuracy == pytest.approx(4 / 6)
    # labels with no rows (servicing, not_interested) do not drag the macro average down
    assert report.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_calibration_error_is_the_gap_between_confidence_and_accuracy() -> None:
    probabilities = np.array([[0.9, 0.1, 0, 0, 0]] * 10)
    truth = np.array([0] * 9 + [1])
    assert expected_calibration_error(truth, probabilities) == pytest.approx(0.0)
    truth = np.array([0] * 5 + [1] * 5)
    assert expected_calibration_error(truth, probabilities) == pytest.approx(0.4)


def test_majority_class_always_says_the_most_common_label() -> None:
    probabilities = majority_probabilities([4, 4, 1, 4], rows=3)
    assert probabilities.argmax(axis=1).tolist() == [4, 4, 4]


def test_temperature_scaling_recovers_an_overconfident_models_temperature() -> None:
    rng = np.random.default_rng(7)
    true_logits = rng.normal(0, 1.5, size=(4000, 5))
    truth = np.array([rng.choice(5, p=p) for p in softmax(true_logits)])
    overconfident = true_logits * 3.0
    temperature = fit_temperature(overconfident, truth)
    assert temperature == pytest.approx(3.0, rel=0.1)
    assert negative_log_likelihood(overconfident, truth, temperature) < negative_log_likelihood(
        overconfident, truth, 1.0
    )
    # dividing logits never changes which label wins
    assert (softmax(overconfident, temperature).argmax(1) == overconfident.argmax(1)).all()


@pytest.mark.parametrize(
    ("step", "total", "factor"),
    [(0, 100, 0.1), (9, 100, 1.0), (55, 100, 0.5), (99, 100, 1 / 90), (0, 1, 1.0), (0, 2, 1.0)],
)
def test_learning_rate_warms_up_then_decays(step: int, total: int, factor: float) -> None:
    from scoring.intent.training import learning_rate_factor

    assert learning_rate_factor(step, total, warmup=0.1) == pytest.approx(factor)
