"""Users' tokens for the REST API (``/api/…``): made, listed, revoked, and checked.

A token is ``wl_`` and 43 random URL-safe characters (:func:`secrets.token_urlsafe`, 256 bits),
shown once when it is made. Only its SHA-256 is stored: for a random secret of that size a fast
hash is enough (nothing to guess from it, nothing to stretch), and it lets a request find its
token with one indexed equality. The first characters are kept apart as the token's prefix, so
a person can tell tokens apart in a list. A token acts as its user, with the user's role; it
stops working when revoked or when its user is disabled. Its last use is written at most once a
minute, so a busy client does not turn every read into a write.

Everything here is synchronous and takes a SQLAlchemy session: the CLI calls it directly, the
API from a worker thread.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.web.accounts import AccountError, find_user

TOKEN_MARK: Final = "wl_"  # noqa: S105 (the tokens' visible mark, not a secret)
PREFIX_LENGTH: Final = len(TOKEN_MARK) + 8
MAX_NAME: Final = 100
USE_EVERY: Final = timedelta(minutes=1)
"""``last_used_at`` is written again only when it is older than this."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``token`` is its only appearance in plain text."""

    id: int
    username: str
    name: str
    prefix: str
    token: str


@dataclass(frozen=True)
class TokenUser:
    """Who a valid token acts as."""

    token_id: int
    user_id: int
    username: str
    role: str
    officer_id: str | None


def create_token(session: Session, username: str, name: str, now: datetime) -> NewToken:
    """A new token for the active user ``username``, named ``name`` (what it is for)."""
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"no user {username.strip().lower()!r}")
    if not user.active:
        raise AccountError(f"user {user.username!r} is disabled")
    label = name.strip()
    if not label or len(label) > MAX_NAME:
        raise AccountError(f"a token needs a name of 1-{MAX_NAME} characters (what it is for)")
    token = TOKEN_MARK + secrets.token_urlsafe(32)
    row = t.ApiToken(
        user_id=user.id,
        name=label,
        prefix=token[:PREFIX_LENGTH],
        token_hash=token_hash(token),
        created_at=now,
        last_used_at=None,
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    return NewToken(row.id, user.username, label, row.prefix, token)


def list_tokens(session: Session, username: str | None = None) -> list[tuple[t.ApiToken, str]]:
    """Tokens (revoked ones too) with their user's name, oldest first; one user's or all."""
    query = select(t.ApiToken, t.User.username).join(t.User, t.User.id == t.ApiToken.user_id)
    if username is not None:
        user = find_user(session, username)
        if user is None:
            raise AccountError(f"no user {username.strip().lower()!r}")
        query = query.where(t.ApiToken.user_id == user.id)
    rows = session.execute(query.order_by(t.ApiToken.id)).all()
    return [(row, name) for row, name in rows]


def revoke_token(
    session: Session, token_id: int, now: datetime, *, user_id: int | None = None
) -> t.ApiToken:
    """Revoke a token (kept, for the record); ``user_id``: only if it is this user's."""
    row = session.get(t.ApiToken, token_id)
    if row is None or (user_id is not None and row.user_id != user_id):
        raise AccountError(f"no API token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        session.flush()
    return row


def token_user(session: Session, token: str, now: datetime) -> TokenUser | None:
    """Who ``token`` acts as, if it is a live token of an active user; notes its use."""
    if not token.startswith(TOKEN_MARK):
        return None
    digest = token_hash(token)
    found = session.execute(
        select(t.ApiToken, t.User)
        .join(t.User, t.User.id == t.ApiToken.user_id)
        .where(t.ApiToken.token_hash == digest)
    ).one_or_none()
    if found is None:
        return None
    row, user = found
    if not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.revoked_at is not None or not user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= USE_EVERY:
        row.last_used_at = now
        session.flush()
    return TokenUser(row.id, user.id, user.username, user.role, user.officer_id)
