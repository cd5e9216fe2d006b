"""``X-Twilio-Signature`` checking for every Twilio webhook, failing closed.

The URL that is checked is the configured public base URL plus the raw path and query the
request arrived with: behind a proxy or load balancer ``request.url`` names the wrong host.

A signature is accepted for the URL with or without its port, as twilio's
``RequestValidator.validate`` accepts it (Twilio's own signing is inconsistent about the port).
:func:`signature_matches` tries the URL as it is written first, so the usual request costs one
HMAC instead of ``validate``'s two, and compares in constant time.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from twilio.request_validator import RequestValidator, add_port, remove_port

from ivr.logs import fields

log = logging.getLogger(__name__)


def signature_matches(
    validator: RequestValidator, url: str, params: Mapping[str, Any], signature: str
) -> bool:
    """Whether ``signature`` signs ``params`` for ``url`` with or without its port."""
    expected = signature.encode()

    def signs(candidate: str) -> bool:
        computed = validator.compute_signature(candidate, params).encode()
        return hmac.compare_digest(computed, expected)

    parsed = urlparse(url)
    if signs(parsed.geturl()):
        return True
    return signs(remove_port(parsed) if parsed.port else add_port(parsed))


def signature_middleware(auth_token: str, public_base: str, prefix: str = "/twilio/") -> Middleware:
    """Refuse (403) any request under ``prefix`` whose signature does not match."""
    validator = RequestValidator(auth_token)

    @web.middleware
    async def check_signature(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(prefix):
            signature = request.headers.get("X-Twilio-Signature", "")
            params = await _text_form(request) if request.method == "POST" else {}
            url = public_base + request.raw_path
            if not signature or not signature_matches(validator, url, params, signature):
                log.warning("webhook refused: bad signature", extra=fields(path=request.path))
                raise web.HTTPForbidden(text="Invalid Twilio signature.\n")
        return await handler(request)

    return check_signature


async def _text_form(request: web.Request) -> Mapping[str, Any]:
    """The webhook's form fields, every one text, as Twilio sends them.

    A body that is no such form (bytes that are not in its charset, an unknown charset, a
    malformed multipart body, a file or binary field) is a 400: left to the signature check or
    the handlers it would be an exception, answered 500 before the signature was ever checked.
    """
    try:
        form = await request.post()
    except (ValueError, LookupError):  # UnicodeDecodeError is a ValueError
        raise web.HTTPBadRequest(text="The webhook body is not a readable form.\n") from None
    if not all(isinstance(value, str) for value in form.values()):
        raise web.HTTPBadRequest(text="Webhook form fields must be text.\n")
    return form
