"""The data behind the QA pages, gathered in one worker-thread call per page: the call list
with its filter choices, and one call's record with its players, transcript lines and verdicts.
Every read applies :func:`~ivr.web.recordings.visible_calls`; nothing here touches the event
loop (the handlers in :mod:`ivr.web.qa` run these through ``WebState.query``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.records.record import call_record
from ivr.web.auth import SignedIn
from ivr.web.qa_forms import (
    Choices,
    Line,
    load_choices,
    parse_filters,
    sentence,
    transcript_lines,
    zone_of,
)
from ivr.web.queries import CallPage, Verdict, list_calls, verdicts
from ivr.web.recordings import visible_calls


def call_url(call_sid: str, **query: str) -> str:
    """A call's page (its sid quoted whole: it is one path segment)."""
    path = f"/qa/calls/{quote(call_sid, safe='')}"
    return f"{path}?{urlencode(query)}" if query else path


def recording_url(recording_sid: str) -> str:
    """Where the player streams a recording from: Warmline itself, never the carrier."""
    return f"/recordings/{quote(recording_sid, safe='')}"


@dataclass(frozen=True)
class ListView:
    choices: Choices
    page: CallPage | None
    """None when a filter value is wrong (``error`` says which)."""
    error: str
    zone: ZoneInfo


def load_list(session: Session, user: SignedIn, given: dict[str, str]) -> ListView:
    """The list page's data. Parsing happens here, in the worker thread, because a time zone's
    first use reads its file."""
    try:
        filters = parse_filters(given)
    except ValueError as problem:
        return ListView(load_choices(session), None, sentence(str(problem)), zone_of({}))
    page = list_calls(session, filters, visible_calls(user))
    return ListView(load_choices(session), page, "", zone_of(given))


@dataclass(frozen=True)
class Recording:
    sid: str
    stored: bool
    """The audio is in the store (the player has something to load)."""
    duration_s: int | None
    channels: int | None
    model: str | None
    transcribed: bool
    lines: list[Line]


@dataclass(frozen=True)
class CallView:
    record: dict[str, Any]
    confidence: float | None
    recordings: list[Recording]
    history: list[Verdict] = field(default_factory=list)


def load_call(session: Session, user: SignedIn, call_sid: str) -> CallView | None:
    """The call's record, players and verdicts; None when ``user`` may not see it (or there is
    no such call): the same 404 either way."""
    where = visible_calls(user)
    call_id = session.scalar(select(t.Call.id).where(t.Call.call_sid == call_sid, where))
    if call_id is None:
        return None
    record = call_record(session, call_sid)
    if record is None:  # removed between the two reads
        return None
    confidence = session.scalar(select(t.Score.confidence).where(t.Score.call_id == call_id))
    recordings = [
        Recording(
            sid=item["recording_sid"],
            stored=bool(item["path"]),
            duration_s=item["duration_s"],
            channels=item["channels"],
            model=None if item["transcript"] is None else item["transcript"]["model"],
            transcribed=item["transcript"] is not None,
            lines=transcript_lines(item["transcript"]),
        )
        for item in record["recordings"]
    ]
    return CallView(record, confidence, recordings, verdicts(session, call_sid, where))


def public_record(view: CallView) -> dict[str, Any]:
    """The record for the browser: recordings by their own streaming URL (never the carrier's,
    nor the store's path), plus the classifier's confidence and the verdicts."""
    record = dict(view.record)
    record["recordings"] = [
        {
            **{key: value for key, value in item.items() if key not in ("url", "path")},
            "audio": recording_url(item["recording_sid"]) if item["path"] else None,
        }
        for item in view.record["recordings"]
    ]
    record["confidence"] = view.confidence
    record["verdicts"] = [verdict.as_dict() for verdict in view.history]
    return record
