"""QA review pages: the call list, a call's page with its recording and transcript, verdicts
and the review queue, and the JSON behind them.

- ``GET /qa/calls``: the filtered, sorted, paged call list (:func:`ivr.web.queries.list_calls`);
  a bad filter value shows the page again with what is wrong (400).
- ``GET /qa/calls/{call_sid}``: everything recorded about one call, the players and the
  clickable transcript (``static/qa.js`` seeks), the verdict history and the verdict form.
- ``POST /qa/calls/{call_sid}/verdict``: store a verdict; back to the call page (303), or on to
  the next call when the form came from the queue; a refused verdict shows the page again with
  why (400).
- ``GET /qa/queue``: the least confident unreviewed call (303), or a page saying there is none.
- ``GET /app/api/calls`` and ``GET /app/api/calls/{call_sid}``: the list page and the call
  record as JSON, numbers masked.

Admins and QA staff only; officers get 404 (they have the portal). Every query goes through
:func:`~ivr.web.recordings.visible_calls`, the one access rule, and runs off the event loop.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Final

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.logs import fields
from ivr.records import tables as t
from ivr.web.auth import SignedIn, signed_in
from ivr.web.qa_forms import (
    VerdictForm,
    clock,
    given_filters,
    list_url,
    page_links,
    parse_filters,
    parse_sort,
    sentence,
    sort_links,
    when,
)
from ivr.web.qa_views import (
    CallView,
    call_url,
    load_call,
    load_list,
    public_record,
    recording_url,
)
from ivr.web.queries import (
    CallFilters,
    CallPage,
    VerdictError,
    list_calls,
    record_verdict,
    review_queue,
)
from ivr.web.recordings import visible_calls
from ivr.web.state import WEB
from ivr.web.templates import render
from scoring.intent.labels import LABELS

log = logging.getLogger(__name__)

REVIEWERS: Final = ("admin", "qa")
QUEUE_PATH: Final = "/qa/queue"
SAVED: Final = "Verdict saved."
SAVED_NEXT: Final = "Verdict saved. Here is the next call in the queue."


def _reviewer(request: web.Request) -> SignedIn:
    return signed_in(request, *REVIEWERS)


# -- the call list -------------------------------------------------------------------------------


async def call_list(request: web.Request) -> web.StreamResponse:
    user = _reviewer(request)
    given = given_filters(request.query)
    view = await request.app[WEB].query(lambda session: load_list(session, user, given))
    try:
        shown = parse_sort(given)
    except ValueError:
        shown = CallFilters()
    context = {
        "given": given,
        "choices": view.choices,
        "page": view.page,
        "error": view.error,
        "sorts": sort_links(given, shown),
        "pages": page_links(given, view.page),
        "clear_url": list_url({}),
        "zone": view.zone,
        "call_url": call_url,
        "when": when,
        "clock": clock,
    }
    return render(request, "qa_calls.html", context, 400 if view.error else 200)


# -- one call ------------------------------------------------------------------------------------


def _call_page(
    request: web.Request,
    view: CallView,
    *,
    form: VerdictForm,
    error: str = "",
    notice: str = "",
    status: int = 200,
) -> web.Response:
    sid = view.record["call_sid"]
    context = {
        "call": view.record,
        "view": view,
        "form": form,
        "labels": LABELS,
        "error": error,
        "notice": notice,
        "action": call_url(sid) + "/verdict",
        "call_url": call_url,
        "recording_url": recording_url,
        "when": when,
        "clock": clock,
    }
    # Opened from the review queue, the page belongs under that link in the header.
    section = QUEUE_PATH if form.queue else None
    return render(request, "qa_call.html", context, status, section=section)


async def call_page(request: web.Request) -> web.StreamResponse:
    user = _reviewer(request)
    sid = request.match_info["call_sid"]
    view = await request.app[WEB].query(lambda session: load_call(session, user, sid))
    if view is None:
        raise web.HTTPNotFound()
    queue = request.query.get("queue") == "1"
    saved = request.query.get("saved") == "1"
    notice = (SAVED_NEXT if queue else SAVED) if saved else ""
    return _call_page(request, view, form=VerdictForm(queue=queue), notice=notice)


async def post_verdict(request: web.Request) -> web.StreamResponse:
    user = _reviewer(request)
    sid = request.match_info["call_sid"]
    form = VerdictForm.read(await request.post())

    def work(session: Session) -> tuple[str, str | None]:
        """``("saved", next call or None)``; ``("refused", why)``; ``("missing", None)``."""
        where = visible_calls(user)
        if session.scalar(select(t.Call.id).where(t.Call.call_sid == sid, where)) is None:
            return "missing", None
        try:
            agrees, label, billable = form.verdict()
            record_verdict(
                session, sid, user.id, agrees, label, billable, form.notes, datetime.now(UTC), where
            )
        except VerdictError as refused:
            session.rollback()
            return "refused", str(refused)
        following = review_queue(session, where, limit=1) if form.queue else []
        return "saved", following[0].call_sid if following else None

    state = request.app[WEB]
    outcome, detail = await state.query(work, write=True)
    if outcome == "missing":
        raise web.HTTPNotFound()
    if outcome == "refused":
        log.info("qa verdict refused", extra=fields(user_id=user.id, call=sid))
        view = await state.query(lambda session: load_call(session, user, sid))
        if view is None:
            raise web.HTTPNotFound()
        return _call_page(request, view, form=form, error=sentence(detail or ""), status=400)
    log.info("qa verdict recorded", extra=fields(user_id=user.id, call=sid))
    if not form.queue:
        raise web.HTTPSeeOther(call_url(sid, saved="1"))
    if detail is None:
        raise web.HTTPSeeOther(f"{QUEUE_PATH}?saved=1")
    raise web.HTTPSeeOther(call_url(detail, queue="1", saved="1"))


# -- the review queue ----------------------------------------------------------------------------


async def queue(request: web.Request) -> web.StreamResponse:
    user = _reviewer(request)

    def work(session: Session) -> str | None:
        first = review_queue(session, visible_calls(user), limit=1)
        return first[0].call_sid if first else None

    following = await request.app[WEB].query(work)
    if following is not None:
        raise web.HTTPSeeOther(call_url(following, queue="1"))
    notice = SAVED if request.query.get("saved") == "1" else ""
    return render(request, "qa_queue_empty.html", {"notice": notice})


# -- JSON ----------------------------------------------------------------------------------------


async def api_calls(request: web.Request) -> web.StreamResponse:
    user = _reviewer(request)
    given = given_filters(request.query)

    def work(session: Session) -> CallPage | str:
        try:
            filters = parse_filters(given)
        except ValueError as problem:
            return str(problem)
        return list_calls(session, filters, visible_calls(user))

    page = await request.app[WEB].query(work)
    if isinstance(page, str):
        return web.json_response({"error": page}, status=400)
    return web.json_response(page.as_dict())


async def api_call(request: web.Request) -> web.StreamResponse:
    user = _reviewer(request)
    sid = request.match_info["call_sid"]
    view = await request.app[WEB].query(lambda session: load_call(session, user, sid))
    if view is None:
        raise web.HTTPNotFound(text='{"error": "no such call"}', content_type="application/json")
    return web.json_response(public_record(view))


def qa_routes() -> list[web.RouteDef]:
    return [
        web.get("/qa/calls", call_list),
        web.get("/qa/calls/{call_sid}", call_page),
        web.post("/qa/calls/{call_sid}/verdict", post_verdict),
        web.get(QUEUE_PATH, queue),
        web.get("/app/api/calls", api_calls),
        web.get("/app/api/calls/{call_sid}", api_call),
    ]
