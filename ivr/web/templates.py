"""Server-rendered pages with Jinja2: autoescaped, compiled once at start-up.

Templates ship inside the package (``ivr/web/templates``). They are all compiled when the web
is set up, before the event loop serves anything, and never reloaded, so rendering a page reads
no file on the loop. :func:`render` gives every template the signed-in ``user``,
``csrf_input()``, the hidden field every form must carry, and ``nav``, the header's links for the
user's role (:func:`navigation`), each marked when it is the page shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from ivr.web.auth import CSRF_FIELD, SignedIn, current_user
from ivr.web.state import WEB

_REVIEW: Final = (("/qa/calls", "Calls"), ("/qa/queue", "Review queue"))
NAVIGATION: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    "officer": (("/portal", "My transfers"), ("/webhooks", "Webhooks")),
    "qa": _REVIEW,
    "admin": (
        *_REVIEW,
        ("/dashboard", "Dashboard"),
        ("/disputes", "Disputes"),
        ("/webhooks", "Webhooks"),
    ),
}
"""The header's links (path, title) for each role: the pages that role may open. The pages
themselves carry no navigation of their own."""


@dataclass(frozen=True)
class NavLink:
    href: str
    title: str
    current: Literal["page", "true"] | None
    """``"page"``: the page shown is this link's page; ``"true"``: the page shown is within
    this link's section (a call's page is under Calls, or under Review queue when opened from
    the queue); None otherwise. Written as the link's ``aria-current``."""


def navigation(user: SignedIn | None, path: str, section: str | None = None) -> list[NavLink]:
    """The header's links for ``user``'s role (none when signed out), the current one marked.

    ``section`` is the link the page at ``path`` belongs under when its path does not say.
    """
    if user is None:
        return []
    under = section or path
    links = []
    for href, title in NAVIGATION[user.role]:
        current: Literal["page", "true"] | None = None
        if path == href:
            current = "page"
        elif under == href or under.startswith(href + "/"):
            current = "true"
        links.append(NavLink(href, title, current))
    return links


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
    section: str | None = None,
) -> web.Response:
    """The page, with ``user``, ``csrf_input()`` and ``nav`` in its context.

    ``csrf_token`` overrides the session's token (the sign-in form uses its pre-session one);
    ``section`` is the header link the page belongs under when its path does not say
    (:func:`navigation`).
    """
    user = current_user(request)
    token = csrf_token or (user.csrf_token if user else "")

    def csrf_input() -> Markup:
        return Markup('<input type="hidden" name="{}" value="{}">').format(
            CSRF_FIELD, escape(token)
        )

    page = request.app[WEB].templates.get_template(template)
    body = page.render(
        {
            **(context or {}),
            "user": user,
            "csrf_input": csrf_input,
            "nav": navigation(user, request.path, section),
        }
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
