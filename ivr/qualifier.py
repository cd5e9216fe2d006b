"""The edge that scores calls: the intent classifier (a model, so kept off the event loop) and
the pure :func:`scoring.qualification.qualify`.

The classifier is loaded once per process (``WARMLINE_INTENT_MODEL``, a folder) and each
prediction runs in a worker thread — about 15 ms of CPU, far inside a webhook's budget. Without a
model, or when it fails, calls still score: from the answers alone, and the reasons say so.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, cast

from ivr.engine.actions import Score
from ivr.flows.schema import Flow, ScoreStep
from ivr.logs import fields
from scoring.intent.prediction import IntentPrediction
from scoring.qualification import NO_MODEL, Qualification, qualify

log = logging.getLogger(__name__)

CLASSIFIER_MODULE = "scoring.intent.classifier"
MODEL_FAILED = "intent model failed"


class IntentModel(Protocol):
    """What scoring needs of ``scoring.intent.classifier.IntentClassifier``."""

    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]: ...


class Qualifier:
    """Answers a flow's ``Score`` action with a :class:`Qualification`."""

    def __init__(self, classifier: IntentModel | None = None) -> None:
        self.classifier = classifier
        # One prediction at a time: a tokenizer shared between threads is not safe to use.
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self.classifier is not None

    async def score(self, request: Score) -> Qualification:
        text = request.words.joined
        prediction: IntentPrediction | None = None
        unclassified = NO_MODEL
        if self.classifier is not None and text:
            try:
                prediction = await asyncio.to_thread(self._predict, self.classifier, text)
            except Exception:
                log.exception("intent classification failed", extra=fields(step=request.step))
                unclassified = MODEL_FAILED
        return qualify(
            prediction, request.prequal, request.words, request.rules, unclassified=unclassified
        )

    def _predict(self, classifier: IntentModel, text: str) -> IntentPrediction:
        with self._lock:
            (prediction,) = classifier.predict([text])
        return prediction


def load_classifier(folder: str | Path) -> IntentModel:
    """``IntentClassifier.load(folder)``, imported only now: it brings torch and transformers."""
    module = importlib.import_module(CLASSIFIER_MODULE)
    return cast(IntentModel, module.IntentClassifier.load(folder))


async def open_qualifier(model_dir: str | None, flows: Iterable[Flow]) -> Qualifier:
    """The process's qualifier: with the model when its folder is there, else answers-only.

    A missing or broken model never stops calls; it is logged at start-up (a warning when a
    flow scores calls), and every score's reasons say the model was not loaded.
    """
    scoring = ",".join(
        sorted(f.flow for f in flows if any(isinstance(s, ScoreStep) for s in f.steps))
    )
    try:
        classifier = await asyncio.to_thread(_load_if_present, model_dir)
    except Exception:
        log.exception(
            "intent model could not be loaded; scores use the answers only",
            extra=fields(model_dir=model_dir, flows=scoring),
        )
        return Qualifier(None)
    if classifier is not None:
        log.info("intent model loaded", extra=fields(model_dir=model_dir))
    elif scoring:
        log.warning(
            "flows score calls but no intent model is loaded; scores use the answers only",
            extra=fields(model_dir=model_dir or "(unset)", flows=scoring),
        )
    return Qualifier(classifier)


def _load_if_present(model_dir: str | None) -> IntentModel | None:
    if not model_dir or not Path(model_dir).is_dir():
        return None
    return load_classifier(model_dir)
