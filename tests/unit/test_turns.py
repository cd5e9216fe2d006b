"""The shared turn loop and the qualifier: Score actions resolved in-process, never shown to the
caller, the classifier run off the event loop. A tiny stub classifier stands in for the model
here, where the loop is the subject; real-model calls are tested with a trained fixture."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from ivr.deployment import load_setup
from ivr.engine import FlowRuntimeError, new_call
from ivr.engine.actions import Route, Say, Score, Transfer
from ivr.engine.events import CallerHungUp, DigitsEntered, SpeechHeard, TransferEnded
from ivr.engine.state import CallState
from ivr.flows import Flow
from ivr.qualifier import Qualifier
from ivr.routing.decision import Decision, Pick, RouteRequest
from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.local import call_locally
from ivr.turns import take_turn
from scoring.intent.labels import LABELS, Label
from scoring.intent.prediction import IntentPrediction
from tests.support.services import ROOT
from tests.unit.test_engine import T0, started

pytestmark = pytest.mark.unit


class StubClassifier:
    """Says the same label for every text, and remembers what it read and on which thread."""

    def __init__(self, label: Label, probability: float = 0.9) -> None:
        rest = (1 - probability) / (len(LABELS) - 1)
        self.prediction = IntentPrediction(
            {name: probability if name == label else rest for name in LABELS}
        )
        self.texts: list[list[str]] = []
        self.threads: list[int] = []

    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]:
        self.texts.append(list(texts))
        self.threads.append(threading.get_ident())
        return [self.prediction for _ in texts]


class StubRouter:
    """Claims one officer for every route request, and remembers what it was asked and freed."""

    def __init__(self) -> None:
        self.requests: list[RouteRequest] = []
        self.settled: list[tuple[str, bool]] = []
        self.ended: list[str] = []

    async def route(self, request: RouteRequest) -> Decision:
        self.requests.append(request)
        claim = f"claim-{len(self.requests)}"
        return Decision(Pick("ana-ruiz", "+15125550111", claim))

    async def leg_ended(self, claim: str) -> None:
        self.ended.append(claim)

    async def settle(self, claim: str, officer_id: str, caller: str, connected: bool) -> None:
        self.settled.append((claim, connected))


class BrokenClassifier:
    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]:
        raise RuntimeError("the model fell over")


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_setup(ROOT / "warmline.yaml").flows["mortgage"]


async def at_the_goal(flow: Flow, qualifier: Qualifier) -> CallState:
    start = started()
    state, _ = await take_turn(flow, new_call(flow, "CA1", start), start, qualifier)
    for event in (
        DigitsEntered(T0 + 1, "1"),
        SpeechHeard(T0 + 2, "texas"),
        DigitsEntered(T0 + 3, "2"),
    ):
        state, _ = await take_turn(flow, state, event, qualifier)
    assert state.step == "goal"
    return state


async def test_a_score_step_is_resolved_within_the_turn(flow: Flow) -> None:
    classifier = StubClassifier("ready")
    qualifier = Qualifier(classifier)
    state = await at_the_goal(flow, qualifier)
    words = SpeechHeard(T0 + 4, "we got an offer accepted and need a loan", 0.9)
    router = StubRouter()
    state, actions = await take_turn(flow, state, words, qualifier, router)
    assert not any(isinstance(action, Score | Route) for action in actions)
    say, transfer = actions
    assert isinstance(say, Say) and isinstance(transfer, Transfer)
    assert transfer.claim == "claim-1" and transfer.whisper.startswith("New mortgage lead.")
    (request,) = router.requests
    assert (request.call.loan_type, request.call.state, request.call.score) == (
        "refinance",
        "TX",
        93,
    )
    assert classifier.texts == [["we got an offer accepted and need a loan"]]
    assert classifier.threads != [threading.get_ident()]  # never on the event loop's thread
    assert state.slots["intent"] == "ready"
    assert state.qualification is not None
    # 0.9·100 + 0.025·(80 + 45 + 0 + 0) = 93.1
    assert state.qualification.explained == ["intent ready 0.90 (+93)"]
    assert state.qualification.probabilities["ready"] == 0.9
    assert state.path[-4:] == ["goal", "qualify", "route", "connect"]


@pytest.mark.parametrize(
    ("classifier", "reason", "logged"),
    [
        (None, "intent model not loaded (+70)", ""),
        (BrokenClassifier(), "intent model failed (+70)", "intent classification failed"),
    ],
    ids=["no_model", "failing_model"],
)
async def test_without_a_working_model_the_call_scores_from_its_answers(
    flow: Flow,
    caplog: pytest.LogCaptureFixture,
    classifier: BrokenClassifier | None,
    reason: str,
    logged: str,
) -> None:
    qualifier = Qualifier(classifier)
    state = await at_the_goal(flow, qualifier)
    state, _ = await take_turn(
        flow, state, SpeechHeard(T0 + 4, "lower my payment please"), qualifier, StubRouter()
    )
    assert state.qualification is not None
    assert state.qualification.explained == [reason]
    assert (state.slots["intent"], state.step) == ("unknown", "connect")
    assert logged in caplog.text


async def test_silence_is_scored_without_asking_the_classifier(flow: Flow) -> None:
    classifier = StubClassifier("ready")
    qualifier = Qualifier(classifier)
    state = await at_the_goal(flow, qualifier)
    state, _ = await take_turn(flow, state, SpeechHeard(T0 + 4, "um"), qualifier)
    state, _ = await take_turn(flow, state, SpeechHeard(T0 + 5, "uh"), qualifier)
    assert classifier.texts == []
    assert state.qualification is not None
    assert state.qualification.explained[0] == "intent unknown: no words to classify (+70)"


async def test_concurrent_scores_share_one_classifier(flow: Flow) -> None:
    classifier = StubClassifier("shopping")
    qualifier = Qualifier(classifier)
    state = await at_the_goal(flow, qualifier)
    results = await asyncio.gather(
        *(
            take_turn(flow, state, SpeechHeard(T0 + 4, f"compare rates number {n}"), qualifier)
            for n in range(8)
        )
    )
    assert len(classifier.texts) == 8
    assert {final.slots["intent"] for final, _ in results} == {"shopping"}


async def test_a_flow_that_scores_forever_is_stopped() -> None:
    looping = Flow.model_validate(
        {
            "flow": "spin",
            "steps": [
                {"id": "again", "kind": "ask", "slot": "x", "parser": "free_text",
                 "input": ["speech"], "prompt": "Say something.", "on_fail": "bye"},
                {"id": "qualify", "kind": "score", "text": ["x"]},
                {"id": "back", "kind": "goto", "target": "qualify"},
                {"id": "bye", "kind": "hangup"},
            ],
        }
    )  # fmt: skip
    start = started()
    state, _ = await take_turn(looping, new_call(looping, "CA2", start), start, Qualifier(None))
    with pytest.raises(FlowRuntimeError, match="scored or routed 32 times"):
        await take_turn(looping, state, SpeechHeard(T0 + 1, "hello there"), Qualifier(None))


async def test_the_in_process_simulator_scores_through_the_same_loop() -> None:
    setup = load_setup(ROOT / "warmline.yaml")
    classifier = StubClassifier("servicing", 0.97)
    caller = ScriptedCaller(
        [
            {"digits": "1"},
            {"speech": "it's in Texas"},
            {"digits": "2"},
            {"speech": "I have a question about my escrow payment"},
        ]
    )
    call = await call_locally(
        setup, caller, "+18005550100", "+15125550123", lambda: T0, qualifier=Qualifier(classifier)
    )
    assert classifier.texts == [["I have a question about my escrow payment"]]
    assert call.state.path[-3:] == ["qualify", "route", "servicing"]
    assert (call.state.status, call.state.outcome) == ("ended", "not_a_lead")
    assert any("loan servicer" in text for text in call.said)
    assert call.state.qualification is not None
    assert call.state.qualification.explained == ["intent servicing 0.97 (+2)"]
    assert caller.remaining == 0


async def test_releases_are_done_and_never_reach_the_caller(flow: Flow) -> None:
    router = StubRouter()
    qualifier = Qualifier(None)
    state = await at_the_goal(flow, qualifier)
    state, _ = await take_turn(flow, state, SpeechHeard(T0 + 4, "refinance"), qualifier, router)
    declined = TransferEnded(T0 + 30, "declined", 6.0)
    state, actions = await take_turn(flow, state, declined, qualifier, router)
    assert router.settled == [("claim-1", False)]
    assert [type(a).__name__ for a in actions] == ["Say", "Transfer"]  # holding, next officer
    assert router.requests[-1].tried == ("ana-ruiz",)
    state, actions = await take_turn(flow, state, CallerHungUp(T0 + 40), qualifier, router)
    assert (actions, router.ended) == ([], ["claim-2"])
    assert [(a.claim, a.outcome) for a in state.transfers] == [
        ("claim-1", "declined"),
        ("claim-2", "canceled"),
    ]


async def test_without_a_router_a_transfer_takes_the_fallback(flow: Flow) -> None:
    qualifier = Qualifier(None)
    state = await at_the_goal(flow, qualifier)
    state, _ = await take_turn(flow, state, SpeechHeard(T0 + 4, "refinance"), qualifier)
    assert state.step == "callback_offer"
    assert state.history[-2].detail == "routing is not available in this process"
