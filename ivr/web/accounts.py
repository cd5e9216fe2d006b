"""Web accounts: who may sign in, with which role, and how their passwords are kept.

Passwords are hashed with argon2id (argon2-cffi); a stored hash made with older parameters is
replaced at the next successful sign-in. Verification costs the same whether the user exists,
is disabled or typed the wrong password, so timing does not tell an attacker which usernames
are real. Everything here is synchronous and takes a SQLAlchemy session: the CLI calls it
directly, the web pages from a worker thread.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from functools import cache
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.records import tables as t

Role = Literal["admin", "qa", "officer"]
ROLES: tuple[Role, ...] = get_args(Role)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,199}")

HASHER = PasswordHasher()
"""argon2id with the library's current recommended parameters."""


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why, for a person."""


def normalise_username(raw: str) -> str:
    """Usernames compare case-insensitively and without stray spaces: ``" Ana "`` is ``ana``."""
    name = raw.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise AccountError(
            f"invalid username {raw!r}: use 1-200 letters, digits and . _ @ + - "
            "(starting with a letter or digit)"
        )
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is too long: at most {MAX_PASSWORD} characters")


def hash_password(password: str, hasher: PasswordHasher = HASHER) -> str:
    check_password(password)
    return hasher.hash(password)


@cache
def _decoy_hash() -> str:
    """A hash of nobody's password, verified for unknown users so they cost as much as real."""
    return HASHER.hash(secrets.token_urlsafe(24))


def as_role(role: str) -> Role:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    return role


def find_user(session: Session, username: str) -> t.User | None:
    try:
        name = normalise_username(username)
    except AccountError:
        return None
    return session.scalars(select(t.User).where(t.User.username == name)).one_or_none()


def _existing(session: Session, username: str) -> t.User:
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"no user {username.strip().lower()!r}")
    return user


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    now: datetime,
    officer_id: str | None = None,
    hasher: PasswordHasher = HASHER,
) -> t.User:
    """Add a user; an officer user must name an officer record, other roles must not."""
    name = normalise_username(username)
    checked = as_role(role)
    if checked == "officer":
        if not officer_id:
            raise AccountError("an officer user needs --officer ID (the officer record's id)")
        if session.get(t.Officer, officer_id) is None:
            raise AccountError(
                f"no officer {officer_id!r} in the records (run `warmline sync` first?)"
            )
    elif officer_id:
        raise AccountError(f"only officer users name an officer (this one is {checked})")
    if find_user(session, name) is not None:
        raise AccountError(f"user {name!r} already exists")
    user = t.User(
        username=name,
        password_hash=hash_password(password, hasher),
        role=checked,
        officer_id=officer_id if checked == "officer" else None,
        active=True,
        created_at=now,
        last_login_at=None,
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[t.User]:
    return list(session.scalars(select(t.User).order_by(t.User.username)))


def disable_user(session: Session, username: str) -> t.User:
    """Disable a user: they cannot sign in, and their open sessions stop at the next request
    (the web checks ``active`` on every request). Never deleted: reviews point at users."""
    user = _existing(session, username)
    user.active = False
    session.flush()
    return user


def set_password(
    session: Session, username: str, password: str, hasher: PasswordHasher = HASHER
) -> t.User:
    user = _existing(session, username)
    user.password_hash = hash_password(password, hasher)
    session.flush()
    return user


def authenticate(
    session: Session, username: str, password: str, now: datetime, hasher: PasswordHasher = HASHER
) -> t.User | None:
    """The active user with this username and password, else None (whatever the reason).

    A user's hash made with outdated parameters is rehashed; the sign-in time is kept. The
    caller commits.
    """
    user = find_user(session, username)
    stored = user.password_hash if user is not None else _decoy_hash()
    try:
        hasher.verify(stored, password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if hasher.check_needs_rehash(stored):
        user.password_hash = hasher.hash(password)
    user.last_login_at = now
    session.flush()
    return user


def active_user(session: Session, user_id: int) -> t.User | None:
    """The user behind a session, if they still exist and are still active."""
    user = session.get(t.User, user_id)
    return user if user is not None and user.active else None
