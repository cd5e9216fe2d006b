"""A person at the terminal as the caller: prompts printed, digits or words typed."""

from __future__ import annotations

import asyncio
import re

import click

from ivr.simulator.caller import (
    DialAnswer,
    DialOutcome,
    Digits,
    GatherInput,
    HangUp,
    RecordAnswer,
    RecordInput,
    Silence,
    Speech,
)
from ivr.simulator.model import Heard
from ivr.simulator.twiml_reader import Dial, Gather, Record

_KEYS = re.compile(r"^[0-9*#]+$")
HELP = "Type digits (1, 75201) or words; an empty line is silence; /hangup ends the call."


class TerminalCaller:
    """Implements the carrier's ``Caller`` protocol by asking the person at the keyboard."""

    def __init__(self) -> None:
        self._shown = 0

    def show(self, heard: Heard) -> None:
        if heard.kind == "say":
            click.secho(f"  IVR: {heard.text}", fg="cyan")
        elif heard.kind == "play":
            click.secho(f"  IVR: <plays {heard.url}>", fg="cyan")

    async def _line(self, prompt: str) -> str:
        return (
            await asyncio.to_thread(click.prompt, prompt, default="", show_default=False)
        ).strip()

    def _show_all(self, heard: list[Heard]) -> None:
        for item in heard:
            self.show(item)

    async def gather(self, heard: list[Heard], spec: Gather) -> GatherInput:
        self._show_all(heard)
        modes = " or ".join(
            m for m, on in (("keys", spec.accepts_dtmf), ("words", spec.accepts_speech)) if on
        )
        answer = await self._line(f"  you ({modes})")
        if answer == "/hangup":
            return HangUp()
        if not answer:
            return Silence()
        if _KEYS.match(answer) and spec.accepts_dtmf:
            return Digits(answer)
        return Speech(answer, 0.9)

    async def record(self, heard: list[Heard], spec: Record) -> RecordAnswer:
        self._show_all(heard)
        answer = await self._line(f"  you (speak up to {spec.max_length}s: type it, or empty)")
        if answer == "/hangup":
            return HangUp()
        if not answer:
            return Silence()
        return RecordInput(audio=None, duration_s=max(1.0, len(answer.split()) / 2.5))

    async def dial(self, heard: list[Heard], spec: Dial) -> DialAnswer:
        self._show_all(heard)
        number = spec.targets[0].address if spec.targets else "?"
        click.secho(f"  … ringing {number}", fg="yellow")
        choice = await self._line("  officer (a=answers, n=no answer, b=busy, /hangup)")
        if choice == "/hangup":
            return HangUp()
        if choice.startswith("n"):
            return DialOutcome("no-answer")
        if choice.startswith("b"):
            return DialOutcome("busy")
        return DialOutcome("completed", answered=True, accept_digit="1", duration_s=120.0)
