"""The warm transfer's pure parts: what routing is asked, what the officer hears, when to stop.

A transfer step is a small state machine inside the engine. Entering it asks the router for an
officer (a :class:`~ivr.engine.actions.Route` action, answered in the same webhook with a
``Routed`` event). A pick is dialled with a whisper; the dial's outcome arrives as
``TransferEnded``. ``bridged`` ends the call as transferred. ``declined``, ``no_answer``,
``busy``, ``failed`` and ``canceled`` free the officer's slot and, while attempts and the
step's total wait last, the caller hears the holding message and routing is asked again without
the officers already tried. Nobody left, or the budget spent: the flow's ``on_fail``. The
caller hanging up frees the ringing officer's slot. Every exit leaves the caller somewhere.
"""

from __future__ import annotations

from ivr.answers.loan_type import CASH_OUT, HELOC, PURCHASE, REFINANCE, REVERSE
from ivr.answers.us_states import STATE_NAMES
from ivr.engine.actions import Route
from ivr.engine.score_request import answer_of
from ivr.engine.state import CallState, TransferAttempt
from ivr.flows.schema import Flow, TransferStep
from ivr.routing.decision import RouteRequest
from ivr.routing.eligibility import CallAttributes

WHISPER_ALLOWANCE_S = 60
"""How long an answered officer may take over the whisper before the slot's lease ends."""
TWILIO_RING_BUFFER_S = 5
"""Twilio rings five seconds past a ``<Dial timeout>``."""
MIN_RING_S = 5
ACCEPT_KEY = "1"

LOAN_TYPE_WORDS = {
    REFINANCE: "Refinance",
    CASH_OUT: "Cash-out refinance",
    PURCHASE: "Purchase",
    HELOC: "Home equity line",
    REVERSE: "Reverse mortgage",
}


def attributes(flow: Flow, state: CallState) -> CallAttributes:
    """The call as routing and bidders may see it: answers and score, never the caller."""
    scored = state.qualification
    return CallAttributes(
        loan_type=answer_of(flow, state, "loan_type"),
        state=answer_of(flow, state, "us_state"),
        credit_band=answer_of(flow, state, "credit_band"),
        score=scored.score if scored is not None else None,
    )


def round_attempts(state: CallState, step: TransferStep) -> list[TransferAttempt]:
    """This visit's attempts (a flow may come back to a transfer step later)."""
    started = state.transfer_started_at
    return [
        a
        for a in state.transfers
        if a.step == step.id and started is not None and a.started_at >= started
    ]


def route_action(flow: Flow, state: CallState, step: TransferStep) -> Route:
    tried = tuple(a.officer for a in round_attempts(state, step))
    request = RouteRequest(
        pool=step.pool,
        call=attributes(flow, state),
        caller=state.caller.number,
        campaign=state.caller.campaign,
        repeat=state.caller.repeat,
        tried=tried,
        lease_s=step.timeout + TWILIO_RING_BUFFER_S + WHISPER_ALLOWANCE_S,
    )
    return Route(step.id, request)


def ring_seconds(state: CallState, step: TransferStep, at: float) -> int:
    """The step's ring time, cut to what is left of its total wait."""
    started = state.transfer_started_at if state.transfer_started_at is not None else at
    left = step.max_wait - (at - started)
    return max(MIN_RING_S, min(step.timeout, int(left)))


def may_try_again(state: CallState, step: TransferStep, at: float) -> bool:
    started = state.transfer_started_at if state.transfer_started_at is not None else at
    tries = len(round_attempts(state, step))
    return tries < step.attempts and at - started + MIN_RING_S <= step.max_wait


def whisper_text(flow: Flow, state: CallState, step: TransferStep) -> str:
    """What the officer hears before accepting: "Refinance, Texas, good credit, score 87"."""
    call = attributes(flow, state)
    parts = [
        LOAN_TYPE_WORDS.get(call.loan_type or "", "Loan type not given"),
        _state_name(call.state),
        f"{call.credit_band} credit" if call.credit_band else "credit not given",
    ]
    if call.score is not None:
        parts.append(f"score {call.score}")
    lead = f"{step.whisper} " if step.whisper else ""
    return f"{lead}{', '.join(parts)}. Press {ACCEPT_KEY} to take the call, or hang up to pass."


def _state_name(code: str | None) -> str:
    name = STATE_NAMES.get(code or "")
    if name is None:
        return "state not given"
    return " ".join(word if word == "of" else word.capitalize() for word in name.split())
