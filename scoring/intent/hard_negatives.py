"""Public banking utterances (NLU++ banking, BANKING77) mapped onto Warmline's intent labels.

They are finance-domain text written by other people, which teaches the classifier that bank
words alone are not a mortgage lead. Only rows that fit a label are kept. The mapping, applied
in this order (``docs/intent-data.md`` repeats it with examples):

NLU++ banking, rows about a ``mortgage`` or ``loan``:
  1. a student loan, or a denial with nothing asked ("no, it's not a mortgage") → not_interested
  2. the caller's existing loan (payments ``transfer_payment_deposit``,
     ``cancel_close_leave_freeze``, ``change``, ``balance``, ``existing``, or "my mortgage/loan")
     → servicing
  3. ``make_open_apply_setup_get_activate`` without a question → ready
  4. ``fees_interests`` with ``request_info`` or ``how_much`` → shopping
  5. ``request_info``, ``how`` or ``make_open_apply…`` as a question → researching
  6. anything else is ambiguous and left out.
  Every loan row was then read by hand: :data:`NLUPP_OVERRIDES` corrects the rows the rules
  mislabel and leaves out the ones no label fits (a pending application, a meeting to cancel).
NLU++ banking, other rows:
  7. only greetings, thanks, yes/no, "I don't know", "repeat", "bye" → not_interested (filler),
     at most :data:`NLUPP_PER_FOLD` per fold
  8. other banking (cards, accounts, transfers, …): at most :data:`NLUPP_PER_FOLD` per fold →
     not_interested (off-topic for a mortgage line); rows with no intent are left out.
BANKING77 (test split; card and transfer questions to a bank): :data:`BANKING77_PER_CATEGORY`
rows per category → not_interested.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from scoring.intent.dataset import Utterance
from scoring.intent.labels import Label

NLUPP_PER_FOLD = 4
BANKING77_PER_CATEGORY = 2
"""The caps keep the public rows a minority of ``not_interested`` (our own calls stay the bulk)."""
NLUPP_OVERRIDES: dict[str, Label | None] = {
    "nlupp-0-23": None,  # when will I receive my mortgage? (a pending loan)
    "nlupp-0-48": None,  # why was my loan declined?
    "nlupp-0-50": None,  # cancel the meeting about my mortgage
    "nlupp-2-56": None,  # is this loan on the name …?
    "nlupp-3-52": None,  # I got my answers … another question
    "nlupp-5-51": "researching",  # can my mortgage be higher than 14000 pounds
    "nlupp-6-51": None,  # a meeting about cards and loans
    "nlupp-6-53": "researching",  # list all my mortgage options
    "nlupp-6-58": "servicing",  # loans that I still owe
    "nlupp-8-59": None,  # I have a mortgage?
    "nlupp-12-58": "researching",  # does the loaned money go into my current account
    "nlupp-13-19": None,  # a personal loan before Saturday
    "nlupp-13-44": None,
    "nlupp-13-50": None,  # a meeting about cards and loans
    "nlupp-13-53": None,  # I don't want to modify my mortgage
    "nlupp-14-20": None,  # postpone the loan
    "nlupp-14-31": None,  # thanks, I'll see what I can do
    "nlupp-14-58": "servicing",  # loans that I have to pay
    "nlupp-14-59": "researching",  # does the money from the loan go into my current account
    "nlupp-17-26": None,  # when will my loan be approved? (a pending application)
    "nlupp-17-57": "researching",  # apply later this year, find out about rates
    "nlupp-18-56": "ready",  # I want to apply for a loan, what should I do?
}
"""Hand-read corrections of rules 1–6, by row id (``nlupp-<fold>-<index>``); None: left out."""
_LOAN = frozenset({"mortgage", "loan"})
_EXISTING = frozenset(
    {"transfer_payment_deposit", "cancel_close_leave_freeze", "change", "balance", "existing"}
)
_QUESTION = frozenset({"request_info", "how", "dont_know"})
_FILLER = frozenset(
    {"greet", "thank", "affirm", "deny", "acknowledge", "end_call", "dont_know", "repeat"}
)


def nlupp_label(text: str, intents: Iterable[str]) -> Label | None:
    """The Warmline label of one NLU++ row, or None when it does not fit one (rules 1–7)."""
    tags = frozenset(intents)
    lowered = text.lower()
    if tags & _LOAN:
        if "student" in lowered or ("deny" in tags and not tags & (_QUESTION | _EXISTING)):
            return "not_interested"
        mine = any(f"my {word}" in lowered for word in ("mortgage", "loan", "current"))
        if tags & _EXISTING or mine:
            return "servicing"
        if "make_open_apply_setup_get_activate" in tags and not tags & _QUESTION:
            return "ready"
        if "fees_interests" in tags and tags & {"request_info", "how_much"}:
            return "shopping"
        if tags & {"request_info", "how", "make_open_apply_setup_get_activate"}:
            return "researching"
        return None
    if tags and tags <= _FILLER:
        return "not_interested"
    return None


def nlupp_rows(folder: Path) -> list[Utterance]:
    """Mapped NLU++ banking rows (rules 1–8), in fold order."""
    rows: list[Utterance] = []
    for fold in range(20):
        path = folder / f"fold{fold}.json"
        filler: list[Utterance] = []
        off_topic: list[Utterance] = []
        for index, item in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            text = str(item["text"]).strip()
            intents = [str(i) for i in item.get("intents") or []]
            row_id = f"nlupp-{fold}-{index}"
            label = NLUPP_OVERRIDES.get(row_id, nlupp_label(text, intents))
            if row_id in NLUPP_OVERRIDES and label is None:
                continue
            if label is not None and set(intents) & _LOAN:
                rows.append(Utterance(text, label, source="nlupp_banking", id=row_id))
            elif label is not None:
                filler.append(Utterance(text, label, source="nlupp_banking", id=row_id))
            elif intents:
                off_topic.append(Utterance(text, "not_interested", "nlupp_banking", id=row_id))
        rows.extend(_sample(filler, NLUPP_PER_FOLD))
        rows.extend(_sample(off_topic, NLUPP_PER_FOLD))
    return rows


def banking77_rows(folder: Path) -> list[Utterance]:
    """A fixed sample of BANKING77 test rows per category, all ``not_interested``."""
    by_category: dict[str, list[Utterance]] = defaultdict(list)
    with (folder / "test.csv").open(encoding="utf-8", newline="") as handle:
        for index, record in enumerate(csv.DictReader(handle)):
            row = Utterance(
                record["text"].strip(),
                "not_interested",
                source="banking77",
                id=f"banking77-{index}",
            )
            by_category[record["category"]].append(row)
    return [
        row
        for category in sorted(by_category)
        for row in _sample(by_category[category], BANKING77_PER_CATEGORY)
    ]


def _sample(rows: list[Utterance], count: int) -> list[Utterance]:
    """A deterministic sample: the rows whose text hashes lowest (no RNG, no order effects)."""
    return sorted(rows, key=lambda r: hashlib.sha256(r.text.encode()).hexdigest())[:count]
