"""The publisher-facing routes of dynamic number insertion: the snippet and the lease.

``GET /dni/dni.js`` serves the snippet a publisher's page includes. ``POST
/dni/{campaign}/lease`` (JSON, see :class:`ivr.dni.visit.LeaseRequest`) answers ``{"number",
"expires_at", "expires_in", "pooled"}``: the visit's pool number until ``expires_at`` (epoch
seconds; ``expires_in`` seconds from now, for clients whose clock is off), or the campaign's
default number (``pooled`` false) for a minute when the pool is exhausted. Only the campaign's
configured origins may ask (CORS, checked on the preflight and again on the request itself);
every refusal is a 4xx with a JSON ``error``. These routes are outside the Twilio signature
check and the web pages' sessions: they are public, and take nothing but the bounded request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError
from redis.exceptions import RedisError

from ivr.deployment import Campaign, Setup, WebPool
from ivr.dni.pool import Lease, NumberPool
from ivr.dni.visit import MAX_BODY_BYTES, LeaseRequest, problems
from ivr.logs import fields
from ivr.metrics import ServerMetrics
from ivr.web.throttle import client_address

log = logging.getLogger(__name__)

SNIPPET_PATH = Path(__file__).with_name("static") / "dni.js"
EXHAUSTED_RETRY_S = 60
"""How long a page shows the default number before it asks again when the pool was full."""
PREFLIGHT_MAX_AGE_S = 600
ASK_WINDOW_S = 600
"""The window of a campaign's ``asks_per_address``."""


class DniEndpoint:
    """The snippet and lease routes for one deployment."""

    def __init__(
        self,
        setup: Setup,
        pool: NumberPool,
        metrics: ServerMetrics,
        clock: Callable[[], float],
        *,
        trust_forwarded_for: bool = False,
    ) -> None:
        self.setup = setup
        self.trust_forwarded_for = trust_forwarded_for
        self.pool = pool
        self.metrics = metrics
        self.clock = clock
        self.snippet = SNIPPET_PATH.read_bytes()  # at start-up, never on the event loop's turn
        self._campaigns = {
            c.id: (c, c.web_pool) for c in setup.deployment.campaigns if c.web_pool is not None
        }

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/dni/dni.js", self.script, allow_head=True),
            web.options("/dni/{campaign}/lease", self.preflight),
            web.post("/dni/{campaign}/lease", self.lease),
        ]

    async def script(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.snippet,
            content_type="text/javascript",
            charset="utf-8",
            headers={
                "Cache-Control": "public, max-age=3600",
                "Cross-Origin-Resource-Policy": "cross-origin",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def preflight(self, request: web.Request) -> web.Response:
        _, settings = self._campaign(request)
        origin = _allowed_origin(request, settings)
        return web.Response(
            status=204,
            headers={
                **_cors(origin),
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
            },
        )

    async def lease(self, request: web.Request) -> web.Response:
        campaign, settings = self._campaign(request)
        cors = _cors(_allowed_origin(request, settings))
        visit = await _lease_request(request, cors)
        now = self.clock()
        numbers = self.setup.web_pool_numbers(campaign.id)
        address = client_address(request, self.trust_forwarded_for)
        try:
            asked = await self.pool.ask(campaign.id, address, ASK_WINDOW_S)
            limited = asked > settings.asks_per_address
            lease = (
                Lease(None, "exhausted", now)
                if limited
                else await self.pool.lease(
                    campaign.id, numbers, visit.attribution(now), now, settings.lease_minutes * 60
                )
            )
        except RedisError:
            log.exception("number pool unavailable", extra=fields(campaign=campaign.id))
            raise _error(web.HTTPServiceUnavailable, "number pool unavailable", cors) from None
        outcome = "limited" if limited else lease.outcome
        self.metrics.dni_leases.labels(campaign=campaign.id, outcome=outcome).inc()
        if lease.number is None:
            if limited:
                log.info("number lease limited: address", extra=fields(campaign=campaign.id))
            else:
                self.metrics.dni_pool_exhausted.labels(campaign=campaign.id).inc()
                log.info("number pool exhausted", extra=fields(campaign=campaign.id))
            answer = {
                "number": settings.default_number,
                "expires_at": now + EXHAUSTED_RETRY_S,
                "expires_in": EXHAUSTED_RETRY_S,
                "pooled": False,
            }
        else:
            answer = {
                "number": lease.number,
                "expires_at": lease.expires_at,
                "expires_in": settings.lease_minutes * 60,
                "pooled": True,
            }
        return web.json_response(answer, headers={**cors, "Cache-Control": "no-store"})

    def _campaign(self, request: web.Request) -> tuple[Campaign, WebPool]:
        found = self._campaigns.get(request.match_info["campaign"])
        if found is None:
            raise _error(web.HTTPNotFound, "no such campaign with a web number pool", {})
        return found


def _allowed_origin(request: web.Request, settings: WebPool) -> str:
    origin = request.headers.get("Origin", "")
    if origin not in settings.origins:
        log.info("number lease refused: origin", extra=fields(path=request.path))
        raise _error(web.HTTPForbidden, "this page's origin may not ask for numbers", {})
    return origin


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


async def _lease_request(request: web.Request, cors: dict[str, str]) -> LeaseRequest:
    """The body, bounded and validated; a 4xx that says what is wrong otherwise."""
    if request.content_type != "application/json":
        raise _error(web.HTTPUnsupportedMediaType, "send application/json", cors)
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise _too_large(length, cors)
    body = bytearray()
    while len(body) <= MAX_BODY_BYTES:  # bounded whether or not a Content-Length was sent
        chunk = await request.content.read(MAX_BODY_BYTES + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > MAX_BODY_BYTES:
        raise _too_large(len(body), cors)
    try:
        data = json.loads(bytes(body))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested beyond reason
        raise _error(web.HTTPBadRequest, "the body is not JSON", cors) from None
    if not isinstance(data, dict):
        raise _error(web.HTTPBadRequest, "the body must be a JSON object", cors)
    try:
        return LeaseRequest.model_validate(data)
    except ValidationError as error:
        raise _error(web.HTTPBadRequest, "; ".join(problems(error)), cors) from None


def _error(kind: type[web.HTTPError], message: str, headers: dict[str, str]) -> web.HTTPError:
    """An HTTP error whose JSON body says what was wrong."""
    return kind(
        text=json.dumps({"error": message}),
        content_type="application/json",
        headers={**headers, "Cache-Control": "no-store"},
    )


def _too_large(size: int, headers: dict[str, str]) -> web.HTTPError:
    return web.HTTPRequestEntityTooLarge(
        MAX_BODY_BYTES,
        size,
        text=json.dumps({"error": f"request body over {MAX_BODY_BYTES} bytes"}),
        content_type="application/json",
        headers={**headers, "Cache-Control": "no-store"},
    )
