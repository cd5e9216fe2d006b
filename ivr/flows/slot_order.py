"""Slots read before anything could have filled them: a branch on ``score`` ahead of the score step.

A forward "may be filled" analysis over the flow graph: a slot counts as filled on entry to a step
when at least one path from the start fills it first (loops included, so a menu that repeats is
fine). A branch that tests a slot no path has filled yet, or a score step that classifies a slot
no earlier ask fills, is reported — the same mistake as a slot nothing fills at all
(:mod:`ivr.flows.slot_checks`), but one a flat check cannot see. ``present`` tests are exempt:
asking whether a slot is filled yet is what they are for. Unreachable steps are left to the
reachability check.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from ivr.flows.schema import AskStep, BranchStep, Flow, ScoreStep, Step
from ivr.flows.slot_checks import leaf_tests, step_fills

if TYPE_CHECKING:
    from ivr.flows.checks import Reporter

Fills = Callable[[Step], Iterable[str]]


def check_slot_order(
    flow: Flow, successors: Sequence[Sequence[int]], start: int, report: Reporter
) -> None:
    """Report slot tests and score texts that no path from ``start`` fills first."""
    filled = filled_on_entry(flow, successors, start, step_fills)
    asked = filled_on_entry(flow, successors, start, _asked)
    for index, step in enumerate(flow.steps):
        if isinstance(step, BranchStep) and (before := filled[index]) is not None:
            for k, case in enumerate(step.cases):
                for location, test in leaf_tests(case.when, ("cases", k, "when")):
                    if test.operator == "present":
                        continue
                    filler = _first_filler(flow, test.slot, step_fills)
                    if test.slot not in before and filler is not None:
                        report.step(index, (*location, "slot"), _message(test.slot, filler))
        elif isinstance(step, ScoreStep) and (before := asked[index]) is not None:
            for k, slot in enumerate(step.text):
                filler = _first_filler(flow, slot, _asked)
                if slot not in before and filler is not None:
                    report.step(index, ("text", k), _message(slot, filler))


def filled_on_entry(
    flow: Flow, successors: Sequence[Sequence[int]], start: int, fills: Fills
) -> list[frozenset[str] | None]:
    """For each step, the slots some path from ``start`` may have filled when it is entered.

    None for a step no path reaches. A worklist to the fixed point: sets only grow, so it ends.
    """
    entry: list[set[str] | None] = [None] * len(flow.steps)
    entry[start] = set()
    work = deque([start])
    while work:
        index = work.popleft()
        before = entry[index]
        assert before is not None
        after = before | set(fills(flow.steps[index]))
        for following in successors[index]:
            known = entry[following]
            if known is None or not after <= known:
                entry[following] = after | (known or set())
                work.append(following)
    return [None if slots is None else frozenset(slots) for slots in entry]


def _asked(step: Step) -> Iterable[str]:
    return (step.slot,) if isinstance(step, AskStep) else ()


def _first_filler(flow: Flow, slot: str, fills: Fills) -> str | None:
    return next((step.id for step in flow.steps if slot in fills(step)), None)


def _message(slot: str, filler: str) -> str:
    return f"slot '{slot}' is not filled on any path to this step (step '{filler}' fills it)"
