"""``X-Twilio-Signature`` checking for every Twilio webhook, failing closed.

The URL that is checked is the configured public base URL plus the raw path and query the
request arrived with: behind a proxy or load balancer ``request.url`` names the wrong host.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from twilio.request_validator import RequestValidator

from ivr.logs import fields

log = logging.getLogger(__name__)


def signature_middleware(auth_token: str, public_base: str, prefix: str = "/twilio/") -> Middleware:
    """Refuse (403) any request under ``prefix`` whose signature does not match."""
    validator = RequestValidator(auth_token)

    @web.middleware
    async def check_signature(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(prefix):
            signature = request.headers.get("X-Twilio-Signature", "")
            params = await request.post() if request.method == "POST" else {}
            url = public_base + request.raw_path
            if not signature or not validator.validate(url, params, signature):
                log.warning("webhook refused: bad signature", extra=fields(path=request.path))
                raise web.HTTPForbidden(text="Invalid Twilio signature.\n")
        return await handler(request)

    return check_signature
