"""Temperature scaling: one scalar that makes the classifier's probabilities mean what they say.

Fitted on the dev split's logits by minimising the negative log-likelihood (Guo et al., 2017); it
divides the logits, so the ranking — and every label decision — is unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar

MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0


def softmax(logits: npt.ArrayLike, temperature: float = 1.0) -> npt.NDArray[np.float64]:
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    result: npt.NDArray[np.float64] = exp / exp.sum(axis=-1, keepdims=True)
    return result


def negative_log_likelihood(
    logits: npt.ArrayLike, truth: npt.ArrayLike, temperature: float
) -> float:
    probabilities = softmax(logits, temperature)
    y = np.asarray(truth, dtype=np.int64)
    picked = probabilities[np.arange(len(y)), y]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())


def fit_temperature(logits: npt.ArrayLike, truth: npt.ArrayLike) -> float:
    """The temperature in [0.05, 20] that minimises dev NLL (searched on a log scale)."""
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, truth, math.exp(log_t)),
        bounds=(math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)),
        method="bounded",
    )
    return float(math.exp(result.x))
