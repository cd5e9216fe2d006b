"""The records' JSON API (``/api/…``), behind a bearer token from the environment.

- ``GET /api/reports/pnl?by=publisher|campaign|officer&from=YYYY-MM-DD&to=YYYY-MM-DD[&tz=ZONE]``
- ``GET /api/reports/calls?from=…&to=…[&tz=…][&limit=…][&offset=…]``
- ``GET /api/calls/{call_sid}``

Every route needs ``Authorization: Bearer <WARMLINE_API_TOKEN>`` (compared in constant time);
without a token configured there are no routes at all. Days are whole days in ``tz`` (UTC by
default), ``to`` included, as in ``warmline report``. Phone numbers are always masked here.
Queries run in a worker thread with a session of their own: the event loop never waits on the
database.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ivr.logs import fields
from ivr.records import reports
from ivr.records.database import sessions

log = logging.getLogger(__name__)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_LIMIT = 10_000


class BadParameter(ValueError):
    """A query parameter the API cannot use (answered 400 with the message)."""


def records_routes(engine: Engine, token: SecretStr | None) -> list[web.RouteDef]:
    """The API's routes; none at all without a token (every /api path is then 404)."""
    if token is None:
        return []
    api = RecordsApi(engine, token.get_secret_value())
    return [
        web.get("/api/reports/pnl", api.guarded(api.pnl)),
        web.get("/api/reports/calls", api.guarded(api.calls)),
        web.get("/api/calls/{call_sid}", api.guarded(api.call)),
    ]


class RecordsApi:
    def __init__(self, engine: Engine, token: str) -> None:
        self.sessions = sessions(engine)
        self._token = token.encode()

    def guarded(self, handler: Handler) -> Handler:
        """``handler`` behind the bearer token; a bad parameter answers 400 with its message."""

        async def guard(request: web.Request) -> web.StreamResponse:
            if not self._authorized(request.headers.get("Authorization", "")):
                return web.json_response(
                    {"error": "missing or wrong bearer token (Authorization: Bearer …)"},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="warmline"'},
                )
            try:
                return await handler(request)
            except BadParameter as error:
                return web.json_response({"error": str(error)}, status=400)
            except SQLAlchemyError:
                log.exception("records API: database error", extra=fields(path=request.path))
                return web.json_response(
                    {"error": "the records database is unavailable"}, status=503
                )

        return guard

    def _authorized(self, header: str) -> bool:
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)

    async def _query(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.sessions() as session:
                return work(session)

        return await asyncio.to_thread(run)

    async def pnl(self, request: web.Request) -> web.Response:
        by = _param(request, "by")
        if by not in reports.GROUPS:
            raise BadParameter(f"'by' must be one of {', '.join(reports.GROUPS)} (got '{by}')")
        first, last, zone = _days(request)

        def work(session: Session) -> reports.PnlReport:
            start, end = _period(first, last, zone)
            return reports.pnl(session, by, start, end)

        return web.json_response((await self._query(work)).as_dict())

    async def calls(self, request: web.Request) -> web.Response:
        first, last, zone = _days(request)
        limit = _number(request, "limit", reports.DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _number(request, "offset", 0, 0, None)

        def work(session: Session) -> dict[str, object]:
            start, end = _period(first, last, zone)
            listing = reports.calls(session, start, end, limit=limit, offset=offset)
            return {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "limit": limit,
                "offset": offset,
                "calls": [line.as_dict() for line in listing],
            }

        return web.json_response(await self._query(work))

    async def call(self, request: web.Request) -> web.Response:
        call_sid = request.match_info["call_sid"]
        record = await self._query(lambda s: reports.call_record(s, call_sid))
        if record is None:
            return web.json_response({"error": f"no call '{call_sid}'"}, status=404)
        return web.json_response(record)


def _param(request: web.Request, name: str) -> str:
    value = request.query.get(name, "").strip()
    if not value:
        raise BadParameter(f"the '{name}' parameter is required")
    return value


def _days(request: web.Request) -> tuple[str, str, str]:
    return _param(request, "from"), _param(request, "to"), request.query.get("tz", "").strip()


def _period(first: str, last: str, zone: str) -> tuple[datetime, datetime]:
    """The period's bounds; in the worker thread, since a time zone is read from disk."""
    try:
        return reports.parse_period(first, last, zone or "UTC")
    except ValueError as error:
        raise BadParameter(str(error)) from None


def _number(request: web.Request, name: str, default: int, least: int, most: int | None) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadParameter(f"'{name}' must be a whole number (got '{text}')") from None
    if value < least or (most is not None and value > most):
        bound = f"{least}–{most}" if most is not None else f"at least {least}"
        raise BadParameter(f"'{name}' must be {bound} (got {value})")
    return value
