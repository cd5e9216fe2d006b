"""Security headers for every web response: no framing, no sniffing, no inline script, and
no caching of pages that carry data."""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
STATIC_PREFIX = "/static/"


def add_security_headers(path: str, headers: web.StreamResponse | web.HTTPException) -> None:
    """Set the headers (a handler's own Cache-Control, as on recordings, is kept). Static
    files may be cached; everything else may show somebody's data and is never stored."""
    target = headers.headers
    for name, value in SECURITY_HEADERS.items():
        target.setdefault(name, value)
    if not path.startswith(STATIC_PREFIX):
        target.setdefault("Cache-Control", "no-store")
