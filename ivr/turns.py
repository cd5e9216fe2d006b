"""One turn as every adapter takes it: the engine's step, with score steps resolved in-process.

A ``score`` step ends the engine's step with a :class:`~ivr.engine.actions.Score` action. The
caller hears nothing of it and the carrier is never asked: the qualifier scores, the engine gets
the ``Scored`` event, and this repeats until the turn waits for the caller or ends. The Twilio
webhooks and the terminal simulator both call :func:`take_turn`, so a flow scores the same way on
the phone and in the terminal.
"""

from __future__ import annotations

from ivr.engine import FlowRuntimeError, step
from ivr.engine.actions import Action, Score
from ivr.engine.events import Event, Scored
from ivr.engine.state import CallState
from ivr.flows.schema import Flow
from ivr.qualifier import Qualifier

MAX_SCORES_PER_TURN = 32
"""A flow's checks refuse loops that never wait; this only stops one that slipped through."""


async def take_turn(
    flow: Flow, state: CallState, event: Event, qualifier: Qualifier
) -> tuple[CallState, list[Action]]:
    """Apply ``event``, scoring as the flow asks; the actions never include a ``Score``."""
    state, actions = step(flow, state, event)
    heard: list[Action] = []
    for _ in range(MAX_SCORES_PER_TURN):
        request = actions[-1] if actions and isinstance(actions[-1], Score) else None
        if request is None:
            return state, heard + actions
        heard += actions[:-1]
        qualification = await qualifier.score(request)
        state, actions = step(flow, state, Scored(event.at, request.step, qualification))
    raise FlowRuntimeError(
        f"flow '{flow.flow}' scored {MAX_SCORES_PER_TURN} times without waiting for the caller"
    )
