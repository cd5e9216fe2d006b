"""A signed-in user's own REST API tokens: list them, make one (shown once), revoke one.

- ``GET /account/tokens``: the user's tokens (name, prefix, made, last used, revoked) and the
  form that makes one.
- ``POST /account/tokens``: ``name`` → :func:`ivr.web.tokens.create_token` for the signed-in
  user; the page again, showing the new token this once (the page is never cached); a refused
  name shows the page with why (400).
- ``POST /account/tokens/{token_id}/revoke``: revoke one of the user's own tokens, back to the
  list (303); another user's token or an unknown id is 404.

Every role may open it: a token acts with its user's role (see ``docs/api.md``). Both forms carry
the session's CSRF token, checked by the web middleware like every other form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.web.accounts import AccountError
from ivr.web.auth import SignedIn, signed_in
from ivr.web.state import WEB
from ivr.web.templates import render
from ivr.web.tokens import create_token, list_tokens, revoke_token

PATH: Final = "/account/tokens"
REVOKED: Final = "Token revoked: it no longer opens the API."


def _mine(session: Session, user: SignedIn) -> list[t.ApiToken]:
    return [row for row, _ in list_tokens(session, user.username)]


async def _page(
    request: web.Request,
    user: SignedIn,
    *,
    made: str = "",
    error: str = "",
    notice: str = "",
    status: int = 200,
) -> web.Response:
    rows = await request.app[WEB].query(lambda session: _mine(session, user))
    context: dict[str, Any] = {"tokens": rows, "made": made, "error": error, "notice": notice}
    return render(request, "account_tokens.html", context, status)


async def tokens_page(request: web.Request) -> web.StreamResponse:
    user = signed_in(request)
    notice = REVOKED if request.query.get("revoked") == "1" else ""
    return await _page(request, user, notice=notice)


async def make_token(request: web.Request) -> web.StreamResponse:
    user = signed_in(request)
    form = await request.post()
    name = form.get("name")
    now = datetime.now(UTC)

    def work(session: Session) -> str:
        label = name if isinstance(name, str) else ""
        return create_token(session, user.username, label, now).token

    try:
        token = await request.app[WEB].query(work, write=True)
    except AccountError as error:
        return await _page(request, user, error=str(error), status=400)
    return await _page(request, user, made=token)


async def revoke(request: web.Request) -> web.StreamResponse:
    user = signed_in(request)
    raw = request.match_info["token_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPNotFound()
    now = datetime.now(UTC)
    try:
        await request.app[WEB].query(
            lambda session: revoke_token(session, int(raw), now, user_id=user.id), write=True
        )
    except AccountError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"{PATH}?revoked=1")


def token_routes() -> list[web.RouteDef]:
    return [
        web.get(PATH, tokens_page),
        web.post(PATH, make_token),
        web.post(PATH + "/{token_id}/revoke", revoke),
    ]
