"""Second validation phase: the flow as a graph, checked once the schema has passed.

Every problem is reported, each at the line of the field at fault: duplicate step ids, unknown
targets, unreachable steps, dead ends, branches without a default and loops that never wait for
the caller. The checks on slots, parsers, keypad maps and pools are in
:mod:`ivr.flows.slot_checks`, and whether a slot is filled before it is read in
:mod:`ivr.flows.slot_order`. The graph works on step positions, not ids, so a flow with a
duplicate id is still checked as a whole (a target names the first step with that id).
"""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Iterable, Sequence

from ivr.flows.schema import WAITING_KINDS, BranchStep, Flow, GotoStep, Step
from ivr.flows.slot_checks import check_slots
from ivr.flows.slot_order import check_slot_order
from ivr.problems import Problem
from ivr.schema_errors import format_location
from ivr.yaml_source import Location, Source

Link = tuple[Location, str]
"""A way out of a step: the field naming the target (relative to the step) and the target id."""


class Reporter:
    """Collects problems worded as ``step 'ask_credit': field 'keypad.1': ...``."""

    def __init__(self, flow: Flow, source: Source) -> None:
        self.flow = flow
        self.source = source
        self.problems: list[Problem] = []

    def at(self, location: Location, message: str) -> None:
        """Report a problem that concerns no single step, at the line of ``location``."""
        self.problems.append(self.source.problem(location, message))

    def step(self, index: int, field: Location, message: str) -> None:
        """Report on ``steps[index]``, at the line of ``field`` inside it (the step if empty)."""
        named = f"field '{format_location(field)}': " if field else ""
        step_id = self.flow.steps[index].id
        location = ("steps", index, *field)
        self.problems.append(self.source.problem(location, f"step '{step_id}': {named}{message}"))

    @staticmethod
    def suggest(word: str, choices: Iterable[str]) -> str | None:
        """What ``word`` was most likely meant to be: the same in another case, or close."""
        options = sorted(set(choices))
        for option in options:
            if option.lower() == word.lower():
                return option
        close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
        return close[0] if close else None

    @classmethod
    def did_you_mean(cls, word: str, choices: Iterable[str]) -> str:
        close = cls.suggest(word, choices)
        return f" (did you mean '{close}'?)" if close is not None else ""


def check_flow(
    flow: Flow, source: Source, known_pools: Iterable[str] | None = None
) -> list[Problem]:
    """Every graph and cross-reference problem in ``flow``, sorted; empty when it is sound."""
    report = Reporter(flow, source)
    first = _first_positions(flow, report)
    successors = _check_links(flow, first, report)
    _check_ends(flow, report)
    if flow.start is not None and flow.start not in first:
        hint = report.did_you_mean(flow.start, first)
        report.at(("start",), f"field 'start': unknown step '{flow.start}'{hint}")
    else:
        _check_reachable(flow, first, successors, report)
        check_slot_order(flow, successors, first[flow.start_step], report)
    _check_silent_loops(flow, successors, report)
    check_slots(flow, report, None if known_pools is None else frozenset(known_pools))
    return sorted(report.problems)


def links(step: Step) -> list[Link]:
    """The explicit targets a step names, with the field that names each."""
    if isinstance(step, BranchStep):
        found: list[Link] = [(("cases", k, "next"), case.next) for k, case in enumerate(step.cases)]
        return found + ([(("default",), step.default)] if step.default is not None else [])
    if isinstance(step, GotoStep):
        return [(("target",), step.target)]
    found = []
    for name in ("next", "on_fail", "on_refuse"):
        target: str | None = getattr(step, name, None)
        if target is not None:
            found.append(((name,), target))
    return found


def falls_through(step: Step) -> bool:
    """True for a step that goes on to the step written after it (it continues, no ``next``)."""
    return "next" in type(step).model_fields and getattr(step, "next", None) is None


def _first_positions(flow: Flow, report: Reporter) -> dict[str, int]:
    first: dict[str, int] = {}
    for index, step in enumerate(flow.steps):
        if step.id in first:
            line = report.source.line(("steps", first[step.id], "id"))
            message = f"duplicate step id '{step.id}' (first on line {line})"
            report.at(("steps", index, "id"), message)
        else:
            first[step.id] = index
    return first


def _check_links(flow: Flow, first: dict[str, int], report: Reporter) -> list[list[int]]:
    """Report unknown targets; return each step's successors by position."""
    successors: list[list[int]] = []
    for index, step in enumerate(flow.steps):
        following: list[int] = []
        for field, target in links(step):
            if target in first:
                following.append(first[target])
            else:
                hint = report.did_you_mean(target, first)
                report.step(index, field, f"unknown step '{target}'{hint}")
        if falls_through(step) and index + 1 < len(flow.steps):
            following.append(index + 1)
        successors.append(following)
    return successors


def _check_ends(flow: Flow, report: Reporter) -> None:
    last = len(flow.steps) - 1
    if falls_through(flow.steps[last]):
        message = "the flow ends here: give this last step a 'next', or end with a hangup"
        report.step(last, (), message)
    for index, step in enumerate(flow.steps):
        if isinstance(step, BranchStep) and step.default is None:
            report.step(index, (), "branch has no 'default' for when no case matches")


def _check_reachable(
    flow: Flow, first: dict[str, int], successors: Sequence[Sequence[int]], report: Reporter
) -> None:
    start = first[flow.start_step]
    seen = {start}
    queue = deque([start])
    while queue:
        for following in successors[queue.popleft()]:
            if following not in seen:
                seen.add(following)
                queue.append(following)
    for index, step in enumerate(flow.steps):
        if index not in seen and first[step.id] == index:
            report.step(index, (), f"unreachable from the start step '{flow.start_step}'")


def _check_silent_loops(flow: Flow, successors: Sequence[Sequence[int]], report: Reporter) -> None:
    """A cycle of say/play/set/score/branch/goto steps would spin without waiting for the caller."""
    silent = [i for i, step in enumerate(flow.steps) if step.kind not in WAITING_KINDS]
    inside = set(silent)
    graph = {i: [j for j in successors[i] if j in inside] for i in silent}
    for component in _strong_components(silent, graph):
        head = component[0]
        if len(component) == 1 and head not in graph[head]:
            continue
        cycle = _shortest_cycle(head, set(component), graph)
        names = " -> ".join(flow.steps[i].id for i in [*cycle, head])
        others = [flow.steps[i].id for i in component if i not in cycle]
        also = f" (also through {', '.join(others)})" if others else ""
        report.step(head, (), f"loop that never waits for the caller: {names}{also}")


def _strong_components(nodes: Sequence[int], graph: dict[int, list[int]]) -> list[list[int]]:
    """Tarjan's algorithm without recursion (a long flow must not hit the recursion limit)."""
    order: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    components: list[list[int]] = []
    for root in nodes:
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(graph[root]))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in order:
                    order[child] = low[child] = len(order)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], order[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == order[node]:
                    component: list[int] = []
                    while not component or component[-1] != node:
                        component.append(stack.pop())
                        on_stack.discard(component[-1])
                    components.append(sorted(component))
    return components


def _shortest_cycle(head: int, members: set[int], graph: dict[int, list[int]]) -> list[int]:
    """The positions on a shortest path from ``head`` back to itself, ``head`` first."""
    parent: dict[int, int] = {}
    queue = deque([head])
    while queue:
        node = queue.popleft()
        for child in graph[node]:
            if child == head:
                path = [node]
                while path[-1] != head:
                    path.append(parent[path[-1]])
                return path[::-1]
            if child in members and child not in parent:
                parent[child] = node
                queue.append(child)
    return [head]  # pragma: no cover - a strong component always has its cycle
