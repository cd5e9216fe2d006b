"""The operator's pages (admins only; everyone else gets 404): the dashboard and disputes.

- ``GET /dashboard``: over a period (``from``/``to`` days in ``tz``; the last 30 days by
  default), the charts of :mod:`ivr.web.dashboard` as inline SVG and the P&L by publisher
  (:func:`ivr.records.reports.pnl`, the same figures as ``warmline report pnl``).
- ``GET /disputes``: open disputes with their line, call, officer and reason, and the latest
  decisions.
- ``POST /disputes/{adjustment_id}``: ``decision`` accept or reject, a ``note`` for the officer
  and ``keep_payout`` (accepting only) → :func:`ivr.records.disputes.resolve`. The officer sees
  the decision and the note in their portal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web
from sqlalchemy.orm import Session
from yarl import URL

from ivr.logs import fields
from ivr.records.disputes import DisputeError, resolve
from ivr.records.reports import period, pnl
from ivr.web.auth import signed_in
from ivr.web.dashboard import dashboard
from ivr.web.portal_charts import charts, parse_period_query
from ivr.web.portal_disputes import dispute_exists, open_disputes, resolved_disputes
from ivr.web.state import WEB
from ivr.web.templates import render

log = logging.getLogger(__name__)

ADMIN: Final = "admin"
MAX_NOTE: Final = 2000
RESOLVED: Final = {
    "accept": "Dispute accepted: the line is credited.",
    "reject": "Dispute rejected.",
}


def _dashboard_context(session: Session, query: Mapping[str, str]) -> dict[str, Any]:
    """The page's context; ``error`` set when the period is wrong. Runs in the worker thread,
    parsing included: a time zone's first use reads its file."""
    try:
        chosen = parse_period_query(query, datetime.now(UTC))
    except ValueError as problem:
        given = {key: query.get(key, "") for key in ("from", "to", "tz")}
        return {"form": given, "error": str(problem), "charts": [], "report": None}
    start, end = period(chosen.first, chosen.last, chosen.zone)
    figures = dashboard(session, chosen.first, chosen.last, chosen.zone)
    report = pnl(session, "publisher", start, end)
    return {"form": chosen.form, "error": "", "charts": charts(figures), "report": report}


async def dashboard_page(request: web.Request) -> web.StreamResponse:
    signed_in(request, ADMIN)
    query = dict(request.query)
    context = await request.app[WEB].query(lambda session: _dashboard_context(session, query))
    return render(request, "operator_dashboard.html", context, 400 if context["error"] else 200)


async def _disputes(
    request: web.Request, *, notice: str = "", error: str = "", status: int = 200
) -> web.Response:
    def work(session: Session) -> tuple[Any, Any]:
        return open_disputes(session), resolved_disputes(session)

    waiting, decided = await request.app[WEB].query(work)
    context = {"open": waiting, "resolved": decided, "notice": notice, "error": error}
    return render(request, "operator_disputes.html", context, status)


async def disputes_page(request: web.Request) -> web.StreamResponse:
    signed_in(request, ADMIN)
    notice = RESOLVED.get(request.query.get("resolved", ""), "")
    return await _disputes(request, notice=notice)


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def resolve_dispute(request: web.Request) -> web.StreamResponse:
    user = signed_in(request, ADMIN)
    raw_id = request.match_info["adjustment_id"]
    if not raw_id.isdigit():
        raise web.HTTPNotFound()
    adjustment_id = int(raw_id)
    form = await request.post()
    decision, note = _text(form, "decision"), _text(form, "note")
    keep_payout = _text(form, "keep_payout") in ("1", "on", "yes", "true")

    def work(session: Session) -> str | None:
        """None when resolved; else why not (``""``: no such dispute)."""
        if not dispute_exists(session, adjustment_id):
            return ""
        if decision not in RESOLVED:
            return "choose accept or reject"
        if len(note) > MAX_NOTE:
            return f"the note is {len(note)} characters; at most {MAX_NOTE}"
        try:
            resolve(
                session,
                adjustment_id,
                decision == "accept",
                user.username,
                note,
                datetime.now(UTC),
                keep_payout=keep_payout,
            )
        except DisputeError as refused:
            return str(refused).replace("--keep-payout", "keeping the payout")
        return None

    problem = await request.app[WEB].query(work, write=True)
    if problem == "":
        raise web.HTTPNotFound()
    if problem is not None:
        message = problem[0].upper() + problem[1:]
        return await _disputes(request, error=message, status=400)
    log.info(
        "dispute resolved on the web",
        extra=fields(user_id=user.id, adjustment_id=adjustment_id, decision=decision),
    )
    raise web.HTTPSeeOther(str(URL("/disputes").with_query(resolved=decision)))


def operator_routes() -> list[web.RouteDef]:
    return [
        web.get("/dashboard", dashboard_page),
        web.get("/disputes", disputes_page),
        web.post("/disputes/{adjustment_id}", resolve_dispute),
    ]
