"""The REST API (``/api/…``, JSON): calls, recordings, transcripts, scores, billing lines and
reports, with the web pages' role rules; described by ``GET /api/openapi.json``.

Every route but the document needs ``Authorization: Bearer <token>``: a user's API token
(:mod:`ivr.web.tokens`), which acts with its user's role, or the operator token from
``WARMLINE_API_TOKEN`` (compared in constant time), which acts as an admin. What a caller may
see is the pages' rule, :func:`ivr.web.recordings.visible_calls`: admins and QA staff every
call, an officer the calls bridged to them. A call outside it answers 404 exactly like a call
that does not exist; the reports are the admin dashboard's figures and answer 404 to other
roles, as ``/dashboard`` does. The routes and the document come from one table,
:data:`OPERATIONS`, and every JSON body passes through its model in :mod:`ivr.records.api_models`.

Days are whole days in ``tz`` (UTC by default), ``to`` included, as in ``warmline report``.
Phone numbers are always masked. Queries run in a worker thread with a session of their own:
the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, SecretStr
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ivr.logs import fields
from ivr.records import api_models as m
from ivr.records import reports
from ivr.records.api_queries import api_record, billing_lines, call_confidence
from ivr.records.database import sessions
from ivr.web.auth import SignedIn
from ivr.web.queries import SORTS, CallFilters, list_calls
from ivr.web.recordings import AUDIO_HEADERS, recording_file, visible_calls
from ivr.web.tokens import token_user
from scoring.intent.labels import LABELS

log = logging.getLogger(__name__)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_LIMIT = 10_000
MAX_OFFSET = 2**31 - 1
UNAUTHORIZED: Final = "missing or wrong bearer token (Authorization: Bearer …)"
OPERATOR: Final = SignedIn(id=0, username="operator", role="admin", officer_id=None, csrf_token="")
"""Who the legacy ``WARMLINE_API_TOKEN`` acts as: an admin with no account."""
ADMIN_ONLY: Final = ("admin",)
NO_STORE: Final = {"Cache-Control": "private, no-store"}
CALL_KEYS: Final = (
    "from", "to", "tz", "campaign", "publisher", "officer", "intent", "score_min", "score_max",
    "outcome", "billable", "reviewed", "sort", "order", "page", "page_size",
)  # fmt: skip
BILLING_KEYS: Final = (
    "from", "to", "tz", "officer", "publisher", "campaign", "billable", "page", "page_size",
)  # fmt: skip


class BadParameter(ValueError):
    """A query parameter the API cannot use (answered 400 with the message)."""


class NotFound(LookupError):
    """Nothing the caller may see here (answered 404 with the message)."""


CALLER: Final = web.RequestKey("warmline_api_caller", SignedIn)
TOKEN_KIND: Final = web.RequestKey("warmline_api_token_kind", str)


# -- the table of operations: routes and document ------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["query", "path"]
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    path: str
    handler: str
    """The :class:`RecordsApi` method answering it."""
    summary: str
    tag: str
    roles: str
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    """The 200 body; None: the recording's audio."""
    errors: tuple[int, ...] = (400, 401, 503)
    public: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _q(name: str, description: str, schema: dict[str, Any], required: bool = False) -> Param:
    return Param(name, "query", schema, description, required)


STRING: Final = {"type": "string"}
DAY: Final = {"type": "string", "format": "date"}
YES_NO: Final = {"type": "string", "enum": ["yes", "no"]}
PAGE: Final = {"type": "integer", "minimum": 1, "maximum": 100, "default": 1}
PAGE_SIZE: Final = {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}
PERIOD: Final = (
    _q("from", "First day (YYYY-MM-DD) in tz, included.", DAY),
    _q("to", "Last day (YYYY-MM-DD) in tz, included.", DAY),
    _q("tz", "IANA time zone of the days (UTC by default).", {**STRING, "default": "UTC"}),
)
REQUIRED_PERIOD: Final = tuple(
    Param(p.name, p.where, p.schema, p.description, p.name != "tz") for p in PERIOD
)
CALL_SID: Final = Param("call_sid", "path", STRING, "The carrier's call id.", True)
VISIBLE: Final = "Admins and QA staff: any call. Officers: only calls bridged to them (else 404)."


def operations(groups: tuple[str, ...]) -> tuple[Operation, ...]:
    """Every operation; ``groups``: the P&L's ``by`` values (the report module's)."""
    return (
        Operation(
            "/api/openapi.json",
            "document",
            "This document (no token needed).",
            "meta",
            "Anyone: it describes the API and holds no data.",
            body=None,
            errors=(),
            public=True,
        ),
        Operation("/api/me", "me", "Who the token acts as.", "meta", "Any token.", body=m.Me),
        Operation(
            "/api/calls",
            "calls",
            "Calls, filtered, sorted and paged.",
            "calls",
            VISIBLE,
            params=(
                *PERIOD,
                _q("campaign", "A campaign id.", STRING),
                _q("publisher", "A publisher id.", STRING),
                _q("officer", "An officer id.", STRING),
                _q("intent", "The classifier's label.", {"type": "string", "enum": list(LABELS)}),
                _q("score_min", "Lowest score.", {"type": "integer", "minimum": 0, "maximum": 100}),
                _q(
                    "score_max", "Highest score.", {"type": "integer", "minimum": 0, "maximum": 100}
                ),
                _q("outcome", "The call's outcome (e.g. transferred).", STRING),
                _q("billable", "Calls whose billing line bills (yes) or not (no).", YES_NO),
                _q("reviewed", "Calls with (yes) or without (no) a QA verdict.", YES_NO),
                _q(
                    "sort",
                    "Sort key.",
                    {"type": "string", "enum": list(SORTS), "default": "started"},
                ),
                _q(
                    "order",
                    "Sort order.",
                    {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
                ),
                _q("page", "Page number (at most 100: narrow the filters to go further).", PAGE),
                _q("page_size", "Calls per page.", PAGE_SIZE),
            ),
            body=m.CallPage,
            errors=(400, 401, 503),
        ),
        Operation(
            "/api/calls/{call_sid}",
            "call",
            "One call's whole record.",
            "calls",
            VISIBLE,
            params=(CALL_SID,),
            body=m.CallRecord,
            errors=(400, 401, 404, 503),
        ),
        Operation(
            "/api/calls/{call_sid}/recordings",
            "recordings",
            "A call's recordings.",
            "recordings",
            VISIBLE,
            params=(CALL_SID,),
            body=m.Recordings,
            errors=(400, 401, 404, 503),
        ),
        Operation(
            "/api/recordings/{recording_sid}/audio",
            "audio",
            "A recording's audio (WAV), with HTTP range requests.",
            "recordings",
            VISIBLE + " An unknown or unstored recording is 404 too.",
            params=(Param("recording_sid", "path", STRING, "The recording's id.", True),),
            body=None,
            errors=(400, 401, 404, 503),
        ),
        Operation(
            "/api/calls/{call_sid}/transcripts",
            "transcripts",
            "A call's transcripts, with timed segments.",
            "transcripts",
            VISIBLE,
            params=(CALL_SID,),
            body=m.Transcripts,
            errors=(400, 401, 404, 503),
        ),
        Operation(
            "/api/calls/{call_sid}/score",
            "score",
            "A call's score and its reasons.",
            "scores",
            VISIBLE,
            params=(CALL_SID,),
            body=m.CallScore,
            errors=(400, 401, 404, 503),
        ),
        Operation(
            "/api/billing/lines",
            "lines",
            "Billing lines, newest first, paged.",
            "billing",
            "Admins and QA staff: every line. Officers: only their own calls' lines.",
            params=(
                *PERIOD,
                _q("officer", "An officer id.", STRING),
                _q("publisher", "A publisher id.", STRING),
                _q("campaign", "A campaign id.", STRING),
                _q("billable", "Lines that bill (yes) or not (no).", YES_NO),
                _q("page", "Page number (at most 100).", PAGE),
                _q("page_size", "Lines per page.", PAGE_SIZE),
            ),
            body=m.BillingPage,
            errors=(400, 401, 503),
        ),
        Operation(
            "/api/reports/pnl",
            "pnl",
            "The P&L over whole days, grouped.",
            "reports",
            "Admins only (as the dashboard); other roles get 404.",
            params=(
                _q("by", "What to group by.", {"type": "string", "enum": list(groups)}, True),
                *REQUIRED_PERIOD,
            ),
            body=m.PnlReport,
            errors=(400, 401, 404, 503),
        ),
        Operation(
            "/api/reports/calls",
            "report_calls",
            "Every call of a period, oldest first, with its billing net of adjustments.",
            "reports",
            "Admins only (as the dashboard); other roles get 404.",
            params=(
                *REQUIRED_PERIOD,
                _q(
                    "limit",
                    "Calls at most.",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 1000},
                ),
                _q(
                    "offset",
                    "Calls skipped.",
                    {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
                ),
            ),
            body=m.CallsReport,
            errors=(400, 401, 404, 503),
        ),
    )


def records_routes(
    engine: Engine, token: SecretStr | None, *, recordings_dir: str = "recordings"
) -> list[web.RouteDef]:
    """The API's routes. ``token``: the operator token (admin-equivalent), or None to accept
    users' tokens only. ``recordings_dir``: the recording store the audio streams from."""
    from ivr.records.api_openapi import openapi_document

    api = RecordsApi(engine, token, recordings_dir)
    table = operations(reports.GROUPS)
    api.document_body = openapi_document(table)
    routes = []
    for operation in table:
        handler: Handler = getattr(api, operation.handler)
        # A path parameter is any one segment, braces included (aiohttp's default excludes them).
        path = re.sub(r"\{(\w+)\}", r"{\1:[^/]+}", operation.path)
        routes.append(web.get(path, handler if operation.public else api.guarded(handler)))
    return routes


class RecordsApi:
    def __init__(self, engine: Engine, token: SecretStr | None, recordings_dir: str) -> None:
        self.sessions = sessions(engine)
        self._operator = None if token is None else token.get_secret_value().encode()
        self.recordings_dir = recordings_dir
        self.document_body: dict[str, Any] = {}

    # -- who is asking ---------------------------------------------------------------------------

    def guarded(self, handler: Handler) -> Handler:
        """``handler`` behind a bearer token; a bad parameter answers 400, a call the caller
        may not see 404, a database failure 503."""

        async def guard(request: web.Request) -> web.StreamResponse:
            try:
                caller = await self._caller(request)
                if caller is None:
                    return web.json_response(
                        {"error": UNAUTHORIZED},
                        status=401,
                        headers={"WWW-Authenticate": 'Bearer realm="warmline"', **NO_STORE},
                    )
                request[CALLER] = caller
                if any(
                    "\x00" in v for v in (*request.query.values(), *request.match_info.values())
                ):
                    raise BadParameter("parameters cannot contain NUL characters")
                return await handler(request)
            except BadParameter as error:
                return _error(400, str(error))
            except NotFound as error:
                return _error(404, str(error))
            except SQLAlchemyError:
                log.exception("records API: database error", extra=fields(path=request.path))
                return _error(503, "the records database is unavailable")

        return guard

    async def _caller(self, request: web.Request) -> SignedIn | None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        secret = given.strip()
        if scheme.lower() != "bearer" or not secret:
            return None
        if self._operator is not None and hmac.compare_digest(secret.encode(), self._operator):
            request[TOKEN_KIND] = "operator"
            return OPERATOR
        now = datetime.now(UTC)
        found = await self._query(lambda session: token_user(session, secret, now), write=True)
        if found is None:
            return None
        request[TOKEN_KIND] = "user"
        role: Literal["admin", "qa", "officer"]
        role = "admin" if found.role == "admin" else "qa" if found.role == "qa" else "officer"
        return SignedIn(found.user_id, found.username, role, found.officer_id, "")

    async def _query(self, work: Callable[[Session], T], *, write: bool = False) -> T:
        def run() -> T:
            with self.sessions() as session:
                result = work(session)
                if write:
                    session.commit()
                return result

        return await asyncio.to_thread(run)

    # -- operations ------------------------------------------------------------------------------

    async def document(self, request: web.Request) -> web.Response:
        return web.json_response(self.document_body)

    async def me(self, request: web.Request) -> web.Response:
        user = request[CALLER]
        return _answer(
            m.Me,
            {
                "username": user.username,
                "role": user.role,
                "officer_id": user.officer_id,
                "token": request[TOKEN_KIND],
            },
        )

    async def calls(self, request: web.Request) -> web.Response:
        user = request[CALLER]
        given = _given(request.query, CALL_KEYS)

        def work(session: Session) -> dict[str, Any]:
            filters = _filters(given)
            return list_calls(session, filters, visible_calls(user)).as_dict()

        return _answer(m.CallPage, await self._query(work))

    async def _record(self, request: web.Request) -> dict[str, Any]:
        user, sid = request[CALLER], request.match_info["call_sid"]
        record = await self._query(lambda s: api_record(s, sid, visible_calls(user)))
        if record is None:
            raise NotFound(f"no call '{sid}'")
        return record

    async def call(self, request: web.Request) -> web.Response:
        return _answer(m.CallRecord, for_role(request[CALLER], await self._record(request)))

    async def recordings(self, request: web.Request) -> web.Response:
        record = await self._record(request)
        return _answer(
            m.Recordings, {"call_sid": record["call_sid"], "recordings": record["recordings"]}
        )

    async def transcripts(self, request: web.Request) -> web.Response:
        record = await self._record(request)
        transcripts = [
            {"recording_sid": item["recording_sid"], **item["transcript"]}
            for item in record["recordings"]
            if item["transcript"] is not None
        ]
        return _answer(m.Transcripts, {"call_sid": record["call_sid"], "transcripts": transcripts})

    async def score(self, request: web.Request) -> web.Response:
        record = await self._record(request)
        sid = record["call_sid"]
        confidence = await self._query(lambda s: call_confidence(s, sid))
        return _answer(
            m.CallScore, {"call_sid": sid, "score": record["score"], "confidence": confidence}
        )

    async def audio(self, request: web.Request) -> web.StreamResponse:
        """The pages' recording route, behind the token: the same rule, the same 404s."""
        user, sid = request[CALLER], request.match_info["recording_sid"]
        root = self.recordings_dir
        path = await self._query(lambda session: recording_file(session, user, sid, root))
        if path is None:
            raise NotFound(f"no recording '{sid}'")
        return web.FileResponse(path, headers=AUDIO_HEADERS)

    async def lines(self, request: web.Request) -> web.Response:
        user = request[CALLER]
        given = _given(request.query, BILLING_KEYS)

        def work(session: Session) -> dict[str, Any]:
            page = billing_lines(session, _filters(given), visible_calls(user)).as_dict()
            if user.role == "officer":
                page["lines"] = [_without_payout(line) for line in page["lines"]]
            return page

        return _answer(m.BillingPage, await self._query(work))

    def _admin(self, request: web.Request) -> None:
        if request[CALLER].role not in ADMIN_ONLY:
            raise NotFound("not found")

    async def pnl(self, request: web.Request) -> web.Response:
        self._admin(request)
        by = _param(request, "by")
        if by not in reports.GROUPS:
            raise BadParameter(f"'by' must be one of {', '.join(reports.GROUPS)} (got '{by}')")
        first, last, zone = _days(request)

        def work(session: Session) -> reports.PnlReport:
            start, end = _period(first, last, zone)
            return reports.pnl(session, by, start, end)

        return _answer(m.PnlReport, (await self._query(work)).as_dict())

    async def report_calls(self, request: web.Request) -> web.Response:
        self._admin(request)
        first, last, zone = _days(request)
        limit = _number(request, "limit", reports.DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _number(request, "offset", 0, 0, MAX_OFFSET)

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

        return _answer(m.CallsReport, await self._query(work))


PAYOUT_FIELDS = ("payout", "net_payout", "net_margin", "payout_delta")
"""What the publisher is paid, and the operator's margin: never shown to an officer, as the
portal never shows them."""


def for_role(user: SignedIn, record: dict[str, Any]) -> dict[str, Any]:
    """A call record as ``user`` may read it: an officer sees what they pay, not what the
    publisher is paid, and only their own transfer attempts (not who else was offered the
    call, or their bids)."""
    if user.role != "officer":
        return record
    billing = record.get("billing")
    if billing is not None:
        billing = _without_payout(billing)
        billing["adjustments"] = [_without_payout(a) for a in billing["adjustments"]]
    attempts = [a for a in record["transfer_attempts"] if a["officer"] == user.officer_id]
    return {**record, "billing": billing, "transfer_attempts": attempts}


def _without_payout(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (None if k in PAYOUT_FIELDS else v) for k, v in item.items()}


def _answer(model: type[BaseModel], data: Mapping[str, Any]) -> web.Response:
    """``data`` as ``model`` declares it: what the document says is what is sent."""
    body = model.model_validate(data).model_dump(mode="json", by_alias=True)
    return web.json_response(body, headers=NO_STORE)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=NO_STORE)


def _given(query: Mapping[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    return {key: query[key] for key in keys if key in query}


def _filters(given: Mapping[str, str]) -> CallFilters:
    """In the worker thread: a time zone's first use reads its file."""
    try:
        return CallFilters.parse(given)
    except ValueError as error:
        raise BadParameter(str(error)) from None


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
