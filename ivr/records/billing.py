"""Whether a call bills, to whom and for how much, and the one rule that decided it.

Pure: the call's facts, the officer it was bridged to and any earlier billable call from the
same caller are passed in, so each rule can be tested at its edges and a line is decided the
same way whenever its facts are replayed. The rules, in the order they are checked:

1. connected — bridged to an officer (``DialBridged=true``), not just rung;
2. a buyer — bridged to an officer in the deployment, not the overflow line;
3. duration — bridged at least the officer's ``min_billable_s`` (exactly the minimum bills);
4. duplicate — no earlier billable call from the same caller inside the campaign's window (to
   this campaign, or any if ``across_campaigns``) or the officer's own window; a call exactly
   a window's length later is no longer a duplicate;
5. filters — the officer's licence, loan types and minimums, as answered on the call;
6. score — at least the officer's ``min_billable_score``, when set.

Revenue is the officer's price (or the winning ping-post bid); payout is the tracking
number's payout to its publisher for the campaign; margin is the difference. A call that does
not bill has neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from ivr.routing.eligibility import CallAttributes, unmet_filters
from ivr.routing.officers import Officer

Rule = Literal["billable", "not_connected", "no_buyer", "short", "duplicate", "filters", "score"]


@dataclass(frozen=True)
class PriorCall:
    """An earlier billable call from the same caller."""

    call_sid: str
    started_at: datetime
    campaign: str
    officer: str | None


@dataclass(frozen=True)
class CallFacts:
    """What billing needs to know about one ended call."""

    call_sid: str
    campaign: str
    started_at: datetime
    bridged_officer: str | None
    """The officer (or overflow line) the caller was bridged to; None if nobody was."""
    bridged_s: float
    bid: Decimal | None
    attributes: CallAttributes
    attempts: Sequence[str] = ()
    """Each officer leg's outcome, in order (for the reason of a call that did not connect)."""


@dataclass(frozen=True)
class DuplicateWindows:
    campaign_h: int
    across_campaigns: bool


@dataclass(frozen=True)
class Verdict:
    billable: bool
    rule: Rule
    reason: str
    revenue: Decimal = Decimal("0")
    payout: Decimal = Decimal("0")

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.payout


def decide(
    facts: CallFacts,
    officer: Officer | None,
    payout: Decimal,
    windows: DuplicateWindows,
    earlier: Sequence[PriorCall],
) -> Verdict:
    """The billing verdict for ``facts``; ``earlier`` is the caller's earlier billable calls."""
    if facts.bridged_officer is None:
        tried = ", ".join(facts.attempts)
        why = f"{len(facts.attempts)} tried: {tried}" if facts.attempts else "no officer tried"
        return Verdict(False, "not_connected", f"not connected ({why})")
    if officer is None:
        return Verdict(False, "no_buyer", f"bridged to {facts.bridged_officer}, not a buyer")
    seconds = int(facts.bridged_s)
    if seconds < officer.min_billable_s:
        return Verdict(False, "short", f"bridged {seconds} s < {officer.min_billable_s} s minimum")
    original = duplicate_of(facts, officer, windows, earlier)
    if original is not None:
        ago = describe_age(facts.started_at - original.started_at)
        return Verdict(False, "duplicate", f"duplicate of call {original.call_sid} {ago} ago")
    unmet = unmet_filters(officer, facts.attributes, facts.started_at)
    if unmet:
        return Verdict(False, "filters", "filters not met: " + "; ".join(unmet))
    least = officer.min_billable_score
    score = facts.attributes.score
    if least is not None and (score is None or score < least):
        shown = "unknown" if score is None else str(score)
        return Verdict(False, "score", f"score {shown} < {least} minimum")
    revenue = facts.bid if facts.bid is not None else officer.price
    return Verdict(
        True,
        "billable",
        f"bridged {seconds} s ≥ {officer.min_billable_s} s to {officer.id}",
        revenue=revenue,
        payout=payout,
    )


def duplicate_of(
    facts: CallFacts, officer: Officer, windows: DuplicateWindows, earlier: Sequence[PriorCall]
) -> PriorCall | None:
    """The most recent earlier billable call this one repeats inside a window, if any."""
    for prior in sorted(earlier, key=lambda p: p.started_at, reverse=True):
        if prior.call_sid == facts.call_sid or prior.started_at > facts.started_at:
            continue
        age = facts.started_at - prior.started_at
        same_campaign = windows.across_campaigns or prior.campaign == facts.campaign
        if same_campaign and age < timedelta(hours=windows.campaign_h):
            return prior
        if prior.officer == officer.id and age < timedelta(hours=officer.duplicate_window_h):
            return prior
    return None


def describe_age(age: timedelta) -> str:
    """``2 days``, ``5 h``, ``40 min``: how long before a call its original came."""
    seconds = int(age.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 3600:
        return f"{seconds // 3600} h"
    return f"{max(seconds // 60, 0)} min"
