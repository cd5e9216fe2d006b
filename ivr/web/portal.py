"""The loan officer's portal: the calls they were sent, and disputes of the ones they should
not pay for.

- ``GET /portal``: the officer's own transfers, newest first, paged, over an optional period
  (``from``/``to`` days in ``tz``): answers, score, bridged time, billing and the newest
  dispute with the operator's decision.
- ``POST /portal/lines/{line_id}/dispute``: dispute one of their own billing lines with a
  reason. A line the officer may not see (another officer's, a call sent to nobody, an unknown
  id) answers 404, exactly like a page that does not exist; a dispute the records refuse (the
  line did not bill, it is already disputed or credited, no reason) shows the page again with
  why (400); success goes back to the portal with a notice (303).

Only officers open these pages; other roles get 404 (:func:`~ivr.web.auth.signed_in`). Every
query goes through :func:`~ivr.web.recordings.visible_calls`, the one access rule.

The operator's pages (dashboard, disputes) live in :mod:`ivr.web.operator`; their routes are
added here so the application registers one list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import and_, select
from sqlalchemy.orm import Session
from yarl import URL

from ivr.logs import fields
from ivr.records import tables as t
from ivr.records.disputes import DisputeError, dispute
from ivr.web.auth import SignedIn, signed_in
from ivr.web.operator import operator_routes
from ivr.web.portal_hooks import webhook_routes
from ivr.web.queries import CallFilters, OfficerPage, officer_transfers
from ivr.web.recordings import visible_calls
from ivr.web.state import WEB
from ivr.web.templates import render

log = logging.getLogger(__name__)

PAGE_SIZE: Final = 25
MAX_REASON: Final = 2000
FILTER_KEYS: Final = ("from", "to", "tz", "page")
"""The only query parameters the portal takes: the officer's own calls need no other filter."""
DISPUTED: Final = "Your dispute was sent. The operator will review it; the decision shows here."


def _filters(query: Mapping[str, str]) -> tuple[CallFilters, dict[str, str]]:
    """The page's filters (ValueError says what is wrong) and the values to refill the form."""
    given = {key: query.get(key, "").strip() for key in FILTER_KEYS}
    filters = CallFilters.parse({**given, "page_size": str(PAGE_SIZE)})
    return filters, given


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class _Shown:
    page: OfficerPage | None
    """None for an officer user without an officer record."""
    given: dict[str, str]
    zone: ZoneInfo
    error: str


def _shown(session: Session, user: SignedIn, query: Mapping[str, str]) -> _Shown:
    """The page's data. Parsing runs here too, in the worker thread: a time zone's first use
    reads its file."""
    error = ""
    try:
        filters, given = _filters(query)
    except ValueError as problem:
        filters, error = CallFilters(page_size=PAGE_SIZE), str(problem)
        given = {key: query.get(key, "").strip() for key in FILTER_KEYS}
    zone = _zone(given["tz"])
    if not user.officer_id:
        return _Shown(None, given, zone, error)
    page = officer_transfers(session, user.officer_id, filters, visible_calls(user))
    return _Shown(page, given, zone, error)


async def _page(
    request: web.Request,
    user: SignedIn,
    query: Mapping[str, str],
    *,
    error: str = "",
    notice: str = "",
    status: int = 200,
) -> web.Response:
    shown = await request.app[WEB].query(lambda session: _shown(session, user, query))
    if shown.error:
        error, status = shown.error, 400
    context: dict[str, Any] = {
        "page": shown.page,
        "given": shown.given,
        "zone": shown.zone,
        "error": error,
        "notice": notice,
        "page_links": _page_links(shown.given, shown.page),
    }
    return render(request, "portal_transfers.html", context, status)


def _page_links(given: Mapping[str, str], page: OfficerPage | None) -> dict[str, str]:
    """Query strings for the previous and next pages, keeping the period."""
    if page is None:
        return {}
    kept = {key: value for key, value in given.items() if value and key != "page"}
    links = {}
    if page.page > 1:
        links["previous"] = str(URL("/portal").with_query({**kept, "page": page.page - 1}))
    if page.page < page.pages:
        links["next"] = str(URL("/portal").with_query({**kept, "page": page.page + 1}))
    return links


async def portal(request: web.Request) -> web.StreamResponse:
    user = signed_in(request, "officer")
    notice = DISPUTED if request.query.get("disputed", "").isdigit() else ""
    return await _page(request, user, request.query, notice=notice)


def _own_line(session: Session, user: SignedIn, line_id: int) -> bool:
    """Whether billing line ``line_id`` belongs to a call ``user`` may see as theirs."""
    found = session.scalar(
        select(t.BillingLine.id)
        .join(t.Call, t.Call.id == t.BillingLine.call_id)
        .where(
            and_(
                t.BillingLine.id == line_id,
                t.Call.officer_id == user.officer_id,
                visible_calls(user),
            )
        )
    )
    return found is not None


async def dispute_line(request: web.Request) -> web.StreamResponse:
    user = signed_in(request, "officer")
    raw_id = request.match_info["line_id"]
    if not raw_id.isdigit() or not user.officer_id:
        raise web.HTTPNotFound()
    line_id = int(raw_id)
    form = await request.post()
    reason = form.get("reason")
    reason = reason.strip() if isinstance(reason, str) else ""

    def work(session: Session) -> str | None:
        """None when stored; else why not (``""``: not the officer's line at all)."""
        if not _own_line(session, user, line_id):
            return ""
        if len(reason) > MAX_REASON:
            return f"the reason is {len(reason)} characters; at most {MAX_REASON}"
        try:
            dispute(session, line_id, reason, user.username, datetime.now(UTC))
        except DisputeError as refused:
            return str(refused)
        return None

    problem = await request.app[WEB].query(work, write=True)
    if problem == "":
        raise web.HTTPNotFound()
    if problem is not None:
        log.info("portal dispute refused", extra=fields(user_id=user.id, line_id=line_id))
        message = problem[0].upper() + problem[1:]
        return await _page(request, user, {}, error=message, status=400)
    log.info("portal dispute raised", extra=fields(user_id=user.id, line_id=line_id))
    raise web.HTTPSeeOther(str(URL("/portal").with_query(disputed=line_id)))


def portal_routes() -> list[web.RouteDef]:
    return [
        web.get("/portal", portal),
        web.post("/portal/lines/{line_id}/dispute", dispute_line),
        *operator_routes(),
        *webhook_routes(),
    ]
