"""Call recordings for the pages, never public, and the one rule of which calls a user sees.

``GET /recordings/{recording_sid}`` streams the stored audio to a signed-in user allowed to see
the recording's call, with HTTP range requests (206) so the player can seek. Anyone else, an
unknown sid, a recording not stored yet and a stored path that would leave the recording store
all get the same 404.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web
from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from ivr.logs import fields
from ivr.recordings.storage import LocalRecordingStore
from ivr.records import tables as t
from ivr.web.auth import SignedIn, signed_in
from ivr.web.state import WEB

log = logging.getLogger(__name__)

AUDIO_HEADERS = {
    "Content-Type": "audio/wav",
    "Cache-Control": "private, no-store",
    "Content-Disposition": "inline",
}


def visible_calls(user: SignedIn) -> ColumnElement[bool]:
    """Which calls ``user`` may see, as a where-clause on ``t.Call``: admins and QA staff all
    of them, an officer only the calls bridged to their own officer record. Every page that
    shows calls, recordings or billing lines filters by this one rule."""
    if user.role in ("admin", "qa"):
        return true()
    if user.role == "officer" and user.officer_id:
        return t.Call.officer_id == user.officer_id
    return false()


def recording_file(session: Session, user: SignedIn, recording_sid: str, root: str) -> Path | None:
    """The recording's stored file, if ``user`` may hear it and it is inside the store."""
    stored = session.scalars(
        select(t.Recording.path)
        .join(t.Call, t.Call.call_sid == t.Recording.call_sid)
        .where(t.Recording.recording_sid == recording_sid, visible_calls(user))
    ).one_or_none()
    if not stored:
        return None
    try:
        path = LocalRecordingStore(root).path(stored)
    except ValueError:
        log.warning("recording path escapes the store", extra=fields(recording=recording_sid))
        return None
    return path if path.is_file() else None


async def recording(request: web.Request) -> web.StreamResponse:
    user = signed_in(request)
    state = request.app[WEB]
    sid = request.match_info["recording_sid"]
    root = state.settings.recordings_dir
    path = await state.query(lambda session: recording_file(session, user, sid, root))
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers=AUDIO_HEADERS)


def recording_routes() -> list[web.RouteDef]:
    return [web.get("/recordings/{recording_sid}", recording)]
