"""``warmline users``: the web pages' accounts from the terminal.

Registered on the main command by :mod:`ivr.cli`. The database is the records database
(``Settings().records_url``), migrated first when it needs it, as ``warmline sync`` does.
Passwords are typed twice at a hidden prompt, or read from stdin with ``--password-stdin`` for
scripts; never taken as an argument, where they would land in shell history and ``ps``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ivr.records import tables as t

T = TypeVar("T")
ROLE_CHOICE = click.Choice(["admin", "qa", "officer"])


def _in_records(work: Callable[[Session], T]) -> T:
    """``work`` in one committed session on the migrated records database; a refused account
    change ends the command with its reason."""
    from ivr.cli import _fail, _settings
    from ivr.records.commands import _database
    from ivr.records.database import sessions
    from ivr.records.migrate import upgrade
    from ivr.web.accounts import AccountError

    url = _settings({}).records_url
    with _database(url) as engine:
        upgrade(engine)
        with sessions(engine)() as session:
            try:
                result = work(session)
            except AccountError as error:
                _fail(str(error))
            session.commit()
            return result


def _password(from_stdin: bool) -> str:
    from ivr.cli import _fail
    from ivr.web.accounts import AccountError, check_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password)
    except AccountError as error:
        _fail(str(error))
    return password


def _user_dict(user: t.User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "officer_id": user.officer_id,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


_PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin (for scripts) instead of a prompt.",
)


@click.group()
def users() -> None:
    """Web accounts: admins, QA staff and loan officers."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the user may see and do.")
@click.option("--officer", "officer_id", help="Officer users: the officer record's id.")
@_PASSWORD_STDIN
def users_add(username: str, role: str, officer_id: str | None, password_stdin: bool) -> None:
    """Add a user who signs in as USERNAME (letters are lower-cased)."""
    from ivr.cli import _fail
    from ivr.web.accounts import AccountError, create_user, normalise_username

    try:
        normalise_username(username)
    except AccountError as error:
        _fail(str(error))
    password = _password(password_stdin)
    user = _in_records(
        lambda s: _user_dict(
            create_user(s, username, password, role, datetime.now(UTC), officer_id=officer_id)
        )
    )
    officer = f" (officer {user['officer_id']})" if user["officer_id"] else ""
    click.echo(f"added {user['role']} user {user['username']}{officer}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def users_list(as_json: bool) -> None:
    """Every user, active or not."""
    from ivr.web.accounts import list_users

    rows = _in_records(lambda s: [_user_dict(user) for user in list_users(s)])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no users yet: add one with `warmline users add USERNAME --role admin`")
        return
    width = max(len(row["username"]) for row in rows)
    for row in rows:
        status = "active" if row["active"] else "disabled"
        officer = row["officer_id"] or "-"
        last = row["last_login_at"] or "never signed in"
        click.echo(f"{row['username']:<{width}}  {row['role']:<7}  {officer}  {status}  {last}")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable USERNAME: no more sign-ins, and their open sessions end at once."""
    from ivr.web.accounts import disable_user

    name = _in_records(lambda s: disable_user(s, username).username)
    click.echo(f"disabled {name}")


@users.command("password")
@click.argument("username")
@_PASSWORD_STDIN
def users_password(username: str, password_stdin: bool) -> None:
    """Set USERNAME's password."""
    from ivr.cli import _fail
    from ivr.web.accounts import find_user, set_password

    if _in_records(lambda s: find_user(s, username) is None):
        _fail(f"no user {username.strip().lower()!r}")
    password = _password(password_stdin)
    name = _in_records(lambda s: set_password(s, username, password).username)
    click.echo(f"password set for {name}")


# -- API tokens ----------------------------------------------------------------------------------


@users.group("token")
def users_token() -> None:
    """Users' tokens for the REST API (/api/…): each acts with its user's role."""


def _token_dict(row: t.ApiToken, username: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "username": username,
        "name": row.name,
        "prefix": row.prefix,
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


@users_token.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for (shown in lists).")
def token_create(username: str, name: str) -> None:
    """Make a token for USERNAME and print it: it is shown this once, and only its hash kept."""
    from ivr.web.tokens import create_token

    made = _in_records(lambda s: create_token(s, username, name, datetime.now(UTC)))
    click.echo(
        f"API token {made.id} ({made.name}) for {made.username}: "
        "keep it now, it is not shown again",
        err=True,
    )
    click.echo(made.token)


@users_token.command("list")
@click.argument("username", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def token_list(username: str | None, as_json: bool) -> None:
    """Tokens (revoked ones too) of USERNAME, or of everyone: never the tokens themselves."""
    from ivr.web.tokens import list_tokens

    rows = _in_records(lambda s: [_token_dict(row, name) for row, name in list_tokens(s, username)])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no API tokens: make one with `warmline users token create USER --name NAME`")
        return
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        last = row["last_used_at"] or "never used"
        click.echo(
            f"{row['id']:>4}  {row['prefix']}…  {row['username']}  {row['name']}  {state}  {last}"
        )


@users_token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke API token TOKEN_ID (see `list`): it stops working at once."""
    from ivr.web.tokens import revoke_token

    name = _in_records(lambda s: revoke_token(s, token_id, datetime.now(UTC)).name)
    click.echo(f"revoked API token {token_id} ({name})")
