"""The warm transfer's state machine in the pure engine: route, dial, roll over, give up.

A two-step flow (transfer, then a voicemail fallback) keeps the subject small; routing's answers
are given as ``Routed`` events, as :func:`ivr.turns.take_turn` would give them.
"""

from __future__ import annotations

import pytest

from ivr.engine import UnexpectedEvent, new_call, step
from ivr.engine.actions import Action, Hangup, Record, Release, Route, Say, Transfer
from ivr.engine.events import CallerHungUp, Event, Routed, TransferEnded
from ivr.engine.state import CallState
from ivr.flows import Flow, load_flow_text
from ivr.routing.decision import Decision, Pick
from tests.unit.test_engine import T0, started

pytestmark = pytest.mark.unit

CALLER = "+15125550123"


def transfer_flow(attempts: int = 3, max_wait: int = 120, timeout: int = 20) -> Flow:
    return load_flow_text(
        f"""
flow: connect_only
steps:
  - id: connect
    kind: transfer
    pool: loan_officers
    message: Connecting you now.
    timeout: {timeout}
    attempts: {attempts}
    max_wait: {max_wait}
    holding: Trying another officer.
    on_fail: message
  - id: message
    kind: voicemail
    prompt: Please leave a message.
    next: bye
  - id: bye
    kind: hangup
""",
        "connect_only.yaml",
    )


class Transfer_:
    """One call at the transfer step; ``route``/``end`` answer it as the adapter would."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        start = started()
        self.at = T0
        self.state, self.actions = step(flow, new_call(flow, "CA1", start), start)

    def apply(self, event: Event) -> list[Action]:
        self.state, self.actions = step(self.flow, self.state, event)
        return self.actions

    def route(self, officer: str | None, duplicate: bool = False) -> list[Action]:
        request = self.actions[-1]
        assert isinstance(request, Route)
        pick = (
            Pick(officer, f"+1512555{len(officer):04d}", f"c-{officer}", duplicate)
            if officer
            else None
        )
        return self.apply(Routed(self.at, request.step, Decision(pick, ("x: closed",))))

    def end(self, outcome: str, after_s: float = 10, caller_left: bool = False) -> list[Action]:
        self.at += after_s
        return self.apply(TransferEnded(self.at, outcome, 3.0, caller_left))  # type: ignore[arg-type]


def routed(at: float, officer: str | None, duplicate: bool = False) -> Routed:
    pick = Pick(officer, "+15125550111", f"c-{officer}", duplicate) if officer else None
    return Routed(at, "connect", Decision(pick, ("x: closed",)))


def outcomes(state: CallState) -> list[tuple[str, str | None]]:
    return [(a.officer, a.outcome) for a in state.transfers]


def test_entering_asks_for_an_officer_without_a_caller_turn() -> None:
    call = Transfer_(transfer_flow())
    say, route = call.actions
    assert say == Say("Connecting you now.", "Polly.Joanna", "en-US")
    assert isinstance(route, Route)
    assert (route.request.pool, route.request.tried, route.request.caller) == (
        "loan_officers",
        (),
        CALLER,
    )
    assert route.request.lease_s == 20 + 5 + 60
    assert (call.state.step, call.state.turn, call.state.transfer_started_at) == ("connect", 0, T0)


def test_each_decline_rolls_to_an_officer_not_yet_tried_with_the_holding_message() -> None:
    call = Transfer_(transfer_flow())
    (dial,) = call.route("amy")
    assert isinstance(dial, Transfer) and (dial.officer, dial.claim) == ("amy", "c-amy")
    assert call.state.turn == 1
    release, route = call.end("declined")
    assert release == Release("c-amy", "amy", CALLER, False)
    assert isinstance(route, Route) and route.request.tried == ("amy",)
    holding, dial = call.route("bo")
    assert holding == Say("Trying another officer.", "Polly.Joanna", "en-US")
    assert isinstance(dial, Transfer) and dial.officer == "bo"
    release, hangup = call.end("bridged")
    assert release == Release("c-bo", "bo", CALLER, True)
    assert hangup == Hangup()
    assert (call.state.status, call.state.outcome) == ("ended", "transferred")
    assert outcomes(call.state) == [("amy", "declined"), ("bo", "bridged")]


def test_attempts_run_out_then_the_flows_fallback_without_a_holding_message() -> None:
    call = Transfer_(transfer_flow(attempts=2))
    call.route("amy")
    call.end("no_answer")
    call.route("bo")
    release, say, record = call.end("busy")
    assert release == Release("c-bo", "bo", CALLER, False)
    assert say.text == "Please leave a message."  # type: ignore[union-attr]
    assert isinstance(record, Record)
    assert call.state.step == "message"
    assert ("connect", "transfer_gave_up") in [(h.step, h.event) for h in call.state.history]


def test_the_total_wait_ends_the_rolling_and_cuts_the_last_ring() -> None:
    call = Transfer_(transfer_flow(max_wait=40, timeout=25))
    call.route("amy")
    call.end("no_answer", after_s=25)
    (_, dial) = call.route("bo")
    assert isinstance(dial, Transfer) and dial.timeout_s == 15  # 40 s budget, 25 s spent
    actions = call.end("no_answer", after_s=15)
    assert call.state.step == "message"
    assert not any(isinstance(a, Route) for a in actions)


def test_nobody_to_route_to_goes_straight_to_the_fallback_with_the_reasons() -> None:
    call = Transfer_(transfer_flow())
    actions = call.route(None)
    assert [type(a) for a in actions] == [Say, Record]
    events = [(h.event, h.detail) for h in call.state.history]
    assert ("no_officer", "x: closed") in events
    assert call.state.transfers == []


def test_a_caller_who_hangs_up_while_it_rings_frees_the_slot() -> None:
    call = Transfer_(transfer_flow())
    call.route("amy")
    (release,) = call.apply(CallerHungUp(T0 + 5))
    assert release == Release("c-amy", "amy", CALLER, None)  # slot freed, counts kept
    assert outcomes(call.state) == [("amy", "canceled")]
    assert (call.state.status, call.state.outcome) == ("ended", "abandoned")


def test_a_dial_that_reports_the_caller_gone_tries_nobody_else() -> None:
    call = Transfer_(transfer_flow())
    call.route("amy")
    (release,) = call.end("canceled", caller_left=True)
    assert release == Release("c-amy", "amy", CALLER, False)
    assert (call.state.status, call.state.outcome) == ("ended", "abandoned")


def test_a_repeat_caller_is_flagged_on_the_attempt() -> None:
    call = Transfer_(transfer_flow())
    call.route("amy", duplicate=True)
    assert call.state.transfers[0].duplicate is True
    assert call.state.history[-1].detail == "amy (repeat caller)"


def test_events_out_of_turn_are_refused() -> None:
    call = Transfer_(transfer_flow())
    with pytest.raises(UnexpectedEvent):
        call.end("bridged")  # nobody is ringing yet
    call.route("amy")
    with pytest.raises(UnexpectedEvent):
        call.apply(routed(T0, "bo"))  # amy's phone is still ringing


def test_the_whisper_says_what_is_known_and_how_to_accept() -> None:
    call = Transfer_(transfer_flow())
    (dial,) = call.route("amy")
    assert isinstance(dial, Transfer)
    assert dial.whisper == (
        "Loan type not given, state not given, credit not given. Press 1 to take the call, "
        "or hang up to pass."
    )
