"""The five intent labels a caller's words are classified into, and what each one means."""

from __future__ import annotations

from typing import Final, Literal

Label = Literal["ready", "shopping", "researching", "servicing", "not_interested"]

LABELS: Final[tuple[Label, ...]] = (
    "ready",
    "shopping",
    "researching",
    "servicing",
    "not_interested",
)
"""In a fixed order: the classifier's output index i is ``LABELS[i]``."""

DEFINITIONS: Final[dict[Label, str]] = {
    "ready": (
        "Wants to apply, get pre-approved or move forward now (offer accepted, closing date, "
        "documents ready)."
    ),
    "shopping": "Comparing rates, fees or lenders; wants a quote; will decide soon.",
    "researching": "Early or general questions, no plan or timeline.",
    "servicing": (
        "About an existing loan: payments, escrow, payoff, statements, forbearance, PMI removal "
        "on the current loan. Not a new-loan lead."
    ),
    "not_interested": (
        "Wrong number, stop calling, spam or sales calls to us, off-topic, silence-like filler."
    ),
}
