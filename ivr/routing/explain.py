"""``warmline route --explain``: every officer of a pool, eligible or why not, and the pick.

Pure, like :mod:`ivr.routing.eligibility`: the pick is given only where the strategy decides it
from these inputs alone (waterfall). Round robin, weighted and ping-post choose at call time
from state this function does not see (the rotation, random draws, bids), so for them the
explanation names the candidates and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ivr.routing.eligibility import CallAttributes, Eligibility, Usage, eligibility
from ivr.routing.officers import Officer, Strategy


@dataclass(frozen=True)
class Row:
    officer: Officer
    verdict: Eligibility


@dataclass(frozen=True)
class Explanation:
    pool: str
    strategy: Strategy
    overflow: str | None
    at: datetime
    call: CallAttributes
    rows: list[Row]
    pick: str | None
    """The chosen officer's id, when the strategy decides from these inputs alone."""
    pick_note: str
    """What ``pick:`` says: the officer and why, the candidates at call time, or none."""

    @property
    def candidates(self) -> list[str]:
        return [row.officer.id for row in self.rows if row.verdict.eligible]


def explain(
    pool: str,
    strategy: Strategy,
    overflow: str | None,
    officers: Sequence[Officer],
    call: CallAttributes,
    now: datetime,
    usage: Mapping[str, Usage],
) -> Explanation:
    """Check every officer in pool order; ``usage`` lacks an officer: no calls counted."""
    rows = [Row(o, eligibility(o, call, now, usage.get(o.id, Usage()))) for o in officers]
    eligible = [row.officer for row in rows if row.verdict.eligible]
    pick, note = _pick(strategy, eligible, overflow)
    return Explanation(pool, strategy, overflow, now, call, rows, pick, note)


def _pick(
    strategy: Strategy, eligible: list[Officer], overflow: str | None
) -> tuple[str | None, str]:
    if not eligible:
        then = f"the pool's overflow line {overflow}" if overflow else "the flow's fallback"
        return None, f"none (no officer is eligible: the call goes to {then})"
    if strategy == "waterfall":  # ties keep the pool's order (min is stable)
        first = min(eligible, key=lambda o: o.priority)
        why = f"waterfall: highest priority eligible, priority {first.priority}"
        return first.id, f"{first.id} ({why})"
    names = ", ".join(
        f"{o.id} (weight {o.weight})" if strategy == "weighted" else o.id for o in eligible
    )
    how = {
        "round_robin": "the next in the rotation",
        "weighted": "drawn by weight",
        "ping_post": "the best bid from a ping to each",
    }[strategy]
    return None, f"made at call time ({strategy}: {how}) among {names}"


USAGE_NOT_READ = "usage: not read (no Redis reachable: counts taken as zero)"


def explanation_text(explanation: Explanation, usage_note: str = USAGE_NOT_READ) -> str:
    """A table a person reads: one line per officer, then the pick."""
    call = explanation.call
    header = [
        f"pool {explanation.pool} (strategy {explanation.strategy}) at "
        f"{explanation.at.isoformat()}",
        f"call: loan type {call.loan_type or '?'}, state {call.state or '?'}, credit band "
        f"{call.credit_band or '?'}, score {'?' if call.score is None else call.score}",
        usage_note,
        "",
    ]
    table = [("officer", "name", "eligible", "reasons")] + [
        (
            row.officer.id,
            row.officer.name,
            "yes" if row.verdict.eligible else "no",
            "; ".join(row.verdict.reasons),
        )
        for row in explanation.rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    lines = [
        "  ".join(
            [*(cell.ljust(w) for cell, w in zip(line[:3], widths, strict=True)), line[3]]
        ).rstrip()
        for line in table
    ]
    if not explanation.rows:
        lines.append("(the pool has no officers)")
    return "\n".join([*header, *lines, "", f"pick: {explanation.pick_note}"])


def explanation_json(explanation: Explanation, usage_note: str = USAGE_NOT_READ) -> dict[str, Any]:
    """The same, for machines."""
    call = explanation.call
    return {
        "pool": explanation.pool,
        "strategy": explanation.strategy,
        "at": explanation.at.isoformat(),
        "call": {
            "loan_type": call.loan_type,
            "state": call.state,
            "credit_band": call.credit_band,
            "score": call.score,
        },
        "usage": usage_note.removeprefix("usage: "),
        "officers": [
            {
                "id": row.officer.id,
                "name": row.officer.name,
                "eligible": row.verdict.eligible,
                "reasons": row.verdict.reasons,
            }
            for row in explanation.rows
        ],
        "candidates": explanation.candidates,
        "pick": explanation.pick,
        "pick_note": explanation.pick_note,
        "overflow": explanation.overflow,
    }
