"""The pure flow engine: events in, actions out, state carried between turns."""

from ivr.engine.engine import FlowRuntimeError, UnexpectedEvent, new_call, step

__all__ = ["FlowRuntimeError", "UnexpectedEvent", "new_call", "step"]
