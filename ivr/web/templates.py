"""Server-rendered pages with Jinja2: autoescaped, compiled once at start-up.

Templates ship inside the package (``ivr/web/templates``). They are all compiled when the web
is set up, before the event loop serves anything, and never reloaded, so rendering a page reads
no file on the loop. :func:`render` gives every template the signed-in ``user`` and
``csrf_input()``, the hidden field every form must carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from ivr.web.auth import CSRF_FIELD, current_user
from ivr.web.state import WEB


def load_templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("ivr.web", "templates"),
        autoescape=True,
        auto_reload=False,
        cache_size=-1,
        undefined=jinja2.StrictUndefined,
    )
    for name in environment.list_templates(extensions=["html"]):
        environment.get_template(name)
    return environment


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    status: int = 200,
    *,
    csrf_token: str | None = None,
) -> web.Response:
    """The page, with ``user`` and ``csrf_input()`` in its context.

    ``csrf_token`` overrides the session's token (the sign-in form uses its pre-session one).
    """
    user = current_user(request)
    token = csrf_token or (user.csrf_token if user else "")

    def csrf_input() -> Markup:
        return Markup('<input type="hidden" name="{}" value="{}">').format(
            CSRF_FIELD, escape(token)
        )

    page = request.app[WEB].templates.get_template(template)
    body = page.render({**(context or {}), "user": user, "csrf_input": csrf_input})
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
