"""One turn as every adapter takes it: the engine's step, with its edge requests resolved.

A ``score`` step ends the engine's step with a :class:`~ivr.engine.actions.Score` action, and
a transfer step with a :class:`~ivr.engine.actions.Route` action. The caller hears nothing of
either and the carrier is never asked: the qualifier scores or the router claims an officer,
the engine gets the ``Scored`` or ``Routed`` event, and this repeats until the turn waits for
the caller or ends. :class:`~ivr.engine.actions.Release` actions free officers' slots on the
way. The Twilio webhooks and the terminal simulator both call :func:`take_turn`, so a flow
scores and routes the same way on the phone and in the terminal.
"""

from __future__ import annotations

from typing import Protocol

from ivr.engine import FlowRuntimeError, step
from ivr.engine.actions import Action, Release, Route, Score
from ivr.engine.events import Event, Routed, Scored
from ivr.engine.state import CallState
from ivr.flows.schema import Flow
from ivr.qualifier import Qualifier
from ivr.routing.decision import Decision, RouteRequest

MAX_RESOLVED_PER_TURN = 32
"""A flow's checks refuse loops that never wait; this only stops one that slipped through."""
NO_ROUTER = "routing is not available in this process"


class Routing(Protocol):
    """What a turn needs of the router (:class:`ivr.routing.router.Router`)."""

    async def route(self, request: RouteRequest) -> Decision: ...

    async def leg_ended(self, claim: str) -> None: ...

    async def settle(self, claim: str, officer_id: str, caller: str, connected: bool) -> None: ...


async def take_turn(
    flow: Flow,
    state: CallState,
    event: Event,
    qualifier: Qualifier,
    router: Routing | None = None,
) -> tuple[CallState, list[Action]]:
    """Apply ``event``, scoring and routing as the flow asks; returns only what the caller gets.

    Without a router (a process that cannot route), a transfer finds nobody and the flow's
    fallback runs.
    """
    state, actions = step(flow, state, event)
    heard: list[Action] = []
    for _ in range(MAX_RESOLVED_PER_TURN):
        actions = await _release(actions, router)
        request = actions[-1] if actions and isinstance(actions[-1], Score | Route) else None
        if request is None:
            return state, heard + actions
        heard += actions[:-1]
        answer: Event
        if isinstance(request, Score):
            answer = Scored(event.at, request.step, await qualifier.score(request))
        else:
            decision = (
                await router.route(request.request) if router else Decision(None, (NO_ROUTER,))
            )
            answer = Routed(event.at, request.step, decision)
        state, actions = step(flow, state, answer)
    raise FlowRuntimeError(
        f"flow '{flow.flow}' scored or routed {MAX_RESOLVED_PER_TURN} times without waiting"
    )


async def _release(actions: list[Action], router: Routing | None) -> list[Action]:
    """Free the slots the engine let go of; the rest of the actions are the caller's."""
    for action in actions:
        if isinstance(action, Release) and router is not None:
            if action.connected is None:
                await router.leg_ended(action.claim)
            else:
                await router.settle(action.claim, action.officer, action.caller, action.connected)
    return [a for a in actions if not isinstance(a, Release)]
