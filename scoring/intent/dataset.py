"""Labelled utterances as JSON Lines: read with clear ``path:line`` errors, written canonically.

One format serves every source — the utterances we wrote, the mapped public banking sets, QA
verdicts exported from review — so ``warmline train intent --extra FILE`` folds any of them in.
A row is ``{"text", "label"}`` plus optional facts used by the datasheet and the splits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from scoring.intent.labels import LABELS, Label

LOAN_TYPES = ("purchase", "refinance", "cash_out", "heloc", "reverse", "none")
SPEAKERS = ("self", "on_behalf")
MAX_TEXT_CHARS = 2000
_REQUIRED = ("text", "label")
_OPTIONAL = ("loan_type", "speaker", "source", "id", "split")


class DatasetError(ValueError):
    """A data file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Utterance:
    """One caller utterance and its label; ``source`` says where it came from."""

    text: str
    label: Label
    source: str = "warmline"
    loan_type: str | None = None
    speaker: str | None = None
    id: str | None = None
    split: str | None = None

    def as_json(self) -> str:
        row = {key: value for key, value in asdict(self).items() if value is not None}
        return json.dumps(row, ensure_ascii=False, sort_keys=True)


def read_utterances(path: Path, *, default_source: str | None = None) -> list[Utterance]:
    """Every row of a JSON Lines file; raises :class:`DatasetError` naming the first bad line."""
    rows: list[Utterance] = []
    source = default_source or path.stem
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            rows.append(_parse(line, f"{path}:{number}", source))
    return rows


def write_utterances(path: Path, rows: Iterable[Utterance]) -> int:
    """Write rows one per line (sorted keys, UTF-8); returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(row.as_json() + "\n")
            count += 1
    return count


def label_counts(rows: Sequence[Utterance]) -> dict[Label, int]:
    return {label: sum(1 for r in rows if r.label == label) for label in LABELS}


def _parse(line: str, where: str, default_source: str) -> Utterance:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise DatasetError(f"{where}: not valid JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{where}: a row must be a JSON object")
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise DatasetError(f"{where}: unknown field '{unknown[0]}'")
    for key in _REQUIRED:
        if key not in data:
            raise DatasetError(f"{where}: missing field '{key}'")
    for key, value in data.items():
        if value is not None and not isinstance(value, str):
            raise DatasetError(f"{where}: field '{key}' must be a string")
    text = data["text"].strip()
    if not text:
        raise DatasetError(f"{where}: field 'text' is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise DatasetError(f"{where}: field 'text' is longer than {MAX_TEXT_CHARS} characters")
    label = data["label"]
    if label not in LABELS:
        raise DatasetError(f"{where}: label '{label}' is not one of {', '.join(LABELS)}")
    _check_choice(data, "loan_type", LOAN_TYPES, where)
    _check_choice(data, "speaker", SPEAKERS, where)
    return Utterance(
        text=text,
        label=label,
        source=data.get("source") or default_source,
        loan_type=data.get("loan_type"),
        speaker=data.get("speaker"),
        id=data.get("id"),
        split=data.get("split"),
    )


def _check_choice(data: dict[str, str], key: str, choices: Sequence[str], where: str) -> None:
    value = data.get(key)
    if value is not None and value not in choices:
        raise DatasetError(f"{where}: {key} '{value}' is not one of {', '.join(choices)}")
