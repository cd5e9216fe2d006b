"""A signed-in user's own API tokens page (``/account/tokens``), on SQLite and PostgreSQL with real
Redis: a token is made (shown once, stored hashed), listed by its prefix, revoked; forms without
the CSRF token are refused; another user's token cannot be revoked (404)."""

from __future__ import annotations

import asyncio
import hashlib
import re

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from tests.support.web import Site

pytestmark = pytest.mark.integration

_MADE = re.compile(r'<code id="token-value">(wl_[A-Za-z0-9_-]+)</code>')


def _rows(records: Engine) -> list[tuple[int, str, str, str, bool]]:
    with Session(records) as session:
        found = session.execute(
            select(t.ApiToken, t.User.username)
            .join(t.User, t.User.id == t.ApiToken.user_id)
            .order_by(t.ApiToken.id)
        ).all()
        return [
            (row.id, name, row.prefix, row.token_hash, row.revoked_at is not None)
            for row, name in found
        ]


async def test_make_list_and_revoke_own_tokens(site: Site) -> None:
    ana = await site.signed_in("ana")
    empty = await ana.get("/account/tokens")
    assert empty.status == 200
    assert 'id="no-tokens"' in empty.text and 'href="/account/tokens"' in empty.text

    refused = await ana.post("/account/tokens", {"name": "crm"})  # no CSRF token
    assert refused.status == 403
    made = await ana.post("/account/tokens", {"name": "crm", "csrf_token": await ana.csrf()})
    assert made.status == 200, made.text
    assert made.headers["Cache-Control"] == "no-store"
    match = _MADE.search(made.text)
    assert match, made.text
    token = match.group(1)
    rows = await asyncio.to_thread(_rows, site.records)
    assert [(name, prefix, revoked) for _, name, prefix, _, revoked in rows] == [
        ("ana", token[:11], False)
    ]
    assert rows[0][3] == hashlib.sha256(token.encode()).hexdigest()

    listed = await ana.get("/account/tokens")
    assert token not in listed.text  # shown once only
    assert f"{token[:11]}…" in listed.text and "crm" in listed.text

    blank = await ana.post("/account/tokens", {"name": " ", "csrf_token": await ana.csrf()})
    assert blank.status == 400 and "a token needs a name" in blank.text

    ben = await site.signed_in("ben")
    ident = rows[0][0]
    stolen = await ben.post(f"/account/tokens/{ident}/revoke", {"csrf_token": await ben.csrf()})
    assert stolen.status == 404
    assert (await ana.post(f"/account/tokens/{ident}/revoke", {})).status == 403
    revoked = await ana.post(f"/account/tokens/{ident}/revoke", {"csrf_token": await ana.csrf()})
    assert (revoked.status, revoked.location) == (303, "/account/tokens?revoked=1")
    rows = await asyncio.to_thread(_rows, site.records)
    assert rows[0][4] is True
    after = await ana.get("/account/tokens?revoked=1")
    assert "Token revoked" in after.text and "revoked" in after.text


async def test_signed_out_visitors_are_sent_to_sign_in(site: Site) -> None:
    visitor = site.browser()
    reply = await visitor.get("/account/tokens")
    assert (reply.status, reply.location) == (303, "/login?next=/account/tokens")
