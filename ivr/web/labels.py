"""QA verdicts as labelled training rows: ``warmline export labels`` → ``train intent --extra``.

Each reviewed call gives at most one row, from its newest verdict: the label is the reviewer's
corrected label, or the classifier's when they agreed. The text is the caller's answer to the
``goal`` question (what they heard, else the parsed value): it is exactly what the classifier
labelled and the reviewer judged, and it has the shape of the training rows (one short
utterance). Only when the call has no goal text (the caller said nothing there, or the flow has
no such question) do we fall back to the caller channel of the call's recording transcripts —
the caller's words of the whole call, which the reviewer also heard — cut at a word boundary to
the dataset's :data:`~scoring.intent.dataset.MAX_TEXT_CHARS`. Phone numbers in the text are
masked (training data is no place for them). Calls whose newest verdict gives no text or no
label are skipped and counted.

Rows are written with :func:`scoring.intent.dataset.write_utterances`, the format
:func:`scoring.intent.pipeline.load_training_data` reads, with ``source`` ``qa-review`` and the
call sid as ``id``.

This module is imported by every ``warmline`` command (to register ``export``), so the
database and dataset imports stay inside the functions.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

    from scoring.intent.dataset import Utterance

__all__ = ["GOAL_SLOT", "SOURCE", "LabelExport", "export", "labelled_calls"]

GOAL_SLOT: Final = "goal"
SOURCE: Final = "qa-review"
CALLER: Final = "caller"
NO_TEXT: Final = "no text"
NO_LABEL: Final = "no label"


@dataclass
class LabelExport:
    rows: list[Utterance] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=lambda: {NO_TEXT: 0, NO_LABEL: 0})
    """Reviewed calls left out, by why."""
    from_transcripts: int = 0
    """Rows whose text came from the recording transcript (no goal answer)."""


def labelled_calls(
    session: Session,
    start: datetime | None = None,
    end: datetime | None = None,
    where: ColumnElement[bool] | None = None,
) -> LabelExport:
    """The newest verdict of every reviewed call started in ``[start, end)``, as rows."""
    from sqlalchemy import and_, select

    from ivr.logs import mask_text
    from ivr.records import tables as t
    from scoring.intent.dataset import LOAN_TYPES, MAX_TEXT_CHARS, Utterance
    from scoring.intent.labels import LABELS

    review, call = t.Review, t.Call
    newest = (
        select(t.Review.id)
        .where(t.Review.call_id == call.id)
        .order_by(t.Review.created_at.desc(), t.Review.id.desc())
        .limit(1)
        .correlate(call)
        .scalar_subquery()
    )
    conditions = [review.id == newest]
    if start is not None:
        conditions.append(call.started_at >= start)
    if end is not None:
        conditions.append(call.started_at < end)
    if where is not None:
        conditions.append(where)
    verdicts = session.execute(
        select(call.id, call.call_sid, call.intent, review.agrees, review.label)
        .join(review, review.call_id == call.id)
        .where(and_(*conditions))
        .order_by(call.started_at, call.id)
    ).all()
    ids = [row[0] for row in verdicts]
    answers: dict[int, dict[str, str]] = {}
    for chunk in _chunks(ids):
        for call_id, slot, value, heard in session.execute(
            select(t.Answer.call_id, t.Answer.slot, t.Answer.value, t.Answer.heard).where(
                t.Answer.call_id.in_(chunk), t.Answer.slot.in_((GOAL_SLOT, "loan_type"))
            )
        ):
            text = (heard or value or "").strip() if slot == GOAL_SLOT else value
            answers.setdefault(call_id, {})[slot] = text
    without_goal = [sid for ident, sid, *_ in verdicts if not answers.get(ident, {}).get(GOAL_SLOT)]
    spoken: dict[str, list[str]] = {}
    for chunk in _chunks(without_goal):
        for call_sid, segments in session.execute(
            select(t.Transcript.call_sid, t.Transcript.segments)
            .where(t.Transcript.call_sid.in_(chunk))
            .order_by(t.Transcript.created_at, t.Transcript.id)
        ):
            spoken.setdefault(call_sid, []).extend(_caller_words(segments))
    export = LabelExport()
    for ident, call_sid, classified, agrees, corrected in verdicts:
        label = classified if agrees else corrected
        if label not in LABELS:
            export.skipped[NO_LABEL] += 1
            continue
        given = answers.get(ident, {})
        text = given.get(GOAL_SLOT, "")
        if not text and spoken.get(call_sid):
            text = _cut(" ".join(spoken[call_sid]), MAX_TEXT_CHARS)
            export.from_transcripts += 1 if text else 0
        text = mask_text(text).strip()
        if not text:
            export.skipped[NO_TEXT] += 1
            continue
        loan_type = given.get("loan_type")
        export.rows.append(
            Utterance(
                text=_cut(text, MAX_TEXT_CHARS),
                label=label,
                source=SOURCE,
                loan_type=loan_type if loan_type in LOAN_TYPES else None,
                id=call_sid,
            )
        )
    return export


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    """``IN`` lists of a size both databases take."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def _caller_words(segments: Any) -> list[str]:
    if not isinstance(segments, list):
        return []
    return [
        str(s["text"]).strip()
        for s in segments
        if isinstance(s, dict) and s.get("speaker") == CALLER and str(s.get("text", "")).strip()
    ]


def _cut(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, cut at the last space before it when it is longer."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip()


# -- the command ---------------------------------------------------------------------------------


@click.group()
def export() -> None:
    """Export data from the records (QA-reviewed labels for training)."""


@export.command("labels")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the rows to FILE (JSON Lines); default: standard output.",
)
@click.option("--from", "first", help="First day of the calls' start, YYYY-MM-DD.")
@click.option("--to", "last", help="Last day (inclusive), YYYY-MM-DD.")
@click.option(
    "--tz", "zone", default="UTC", show_default=True, help="Time zone of the days (IANA name)."
)
def export_labels(out: Path | None, first: str | None, last: str | None, zone: str) -> None:
    """Reviewed calls as labelled rows for `warmline train intent --extra FILE`.

    One row per reviewed call (its newest verdict): the caller's words and the reviewer's label
    (the classifier's, when they agreed). Calls are taken by their start; with neither --from
    nor --to, every reviewed call.
    """
    from ivr.records.commands import _fail, _run
    from ivr.records.reports import parse_period
    from scoring.intent.dataset import write_utterances

    start = end = None
    try:
        if first is not None:
            start = parse_period(first, last or first, zone)[0]
        if last is not None:
            end = parse_period(first or last, last, zone)[1]
    except ValueError as error:
        _fail(str(error))
    result = _run(lambda session: labelled_calls(session, start, end))
    if out is not None:
        write_utterances(out, result.rows)
    else:
        for row in result.rows:
            click.echo(row.as_json())
    skipped = ", ".join(f"{n} {why}" for why, n in result.skipped.items() if n) or "none"
    click.echo(
        f"exported {len(result.rows)} labelled calls"
        f"{f' to {out}' if out is not None else ''} "
        f"({result.from_transcripts} from transcripts); skipped: {skipped}",
        err=True,
    )
    sys.stdout.flush()
