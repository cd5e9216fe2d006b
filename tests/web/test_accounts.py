"""Accounts on SQLite and PostgreSQL: the rules for users and roles, argon2 hashing and its
rehash, and ``warmline users`` through click's runner (passwords from stdin)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ivr.cli import main
from ivr.web.accounts import (
    HASHER,
    AccountError,
    authenticate,
    create_user,
    disable_user,
    find_user,
    list_users,
    normalise_username,
    set_password,
)
from tests.support.records import add_officer

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
PASSWORD = "a long enough password"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_usernames_are_normalised() -> None:
    assert normalise_username("  Ana.Ruiz@Example.com ") == "ana.ruiz@example.com"
    for bad in ("", "   ", "two words", "-dash-first", "x" * 201, "an\tna", "ana\u00e9"):
        with pytest.raises(AccountError, match="invalid username"):
            normalise_username(bad)


def test_roles_and_officers(records: Engine) -> None:
    with Session(records) as session:
        add_officer(session, "ana")
        officer = create_user(session, " Ana ", PASSWORD, "officer", NOW, officer_id="ana")
        assert (officer.username, officer.role, officer.officer_id) == ("ana", "officer", "ana")
        assert officer.password_hash.startswith("$argon2id$")
        assert PASSWORD not in officer.password_hash
        with pytest.raises(AccountError, match="needs --officer"):
            create_user(session, "bob", PASSWORD, "officer", NOW)
        with pytest.raises(AccountError, match="no officer 'ghost'"):
            create_user(session, "bob", PASSWORD, "officer", NOW, officer_id="ghost")
        with pytest.raises(AccountError, match="only officer users name an officer"):
            create_user(session, "bob", PASSWORD, "qa", NOW, officer_id="ana")
        with pytest.raises(AccountError, match="unknown role 'boss'"):
            create_user(session, "bob", PASSWORD, "boss", NOW)
        with pytest.raises(AccountError, match="already exists"):
            create_user(session, "ANA", PASSWORD, "qa", NOW)
        with pytest.raises(AccountError, match="too short"):
            create_user(session, "bob", "short", "qa", NOW)
        create_user(session, "bob", PASSWORD, "qa", NOW)
        session.commit()
        assert [user.username for user in list_users(session)] == ["ana", "bob"]


def test_authenticate_rehash_and_disable(records: Engine) -> None:
    with Session(records) as session:
        create_user(session, "quinn", PASSWORD, "qa", NOW, hasher=CHEAP)
        session.commit()
        old_hash = find_user(session, "quinn").password_hash  # type: ignore[union-attr]
        assert authenticate(session, "quinn", "wrong password!", NOW) is None
        assert authenticate(session, "nobody", PASSWORD, NOW) is None
        user = authenticate(session, " QUINN", PASSWORD, NOW)
        assert user is not None and user.last_login_at == NOW
        assert user.password_hash != old_hash  # outdated parameters: rehashed at sign-in
        assert not HASHER.check_needs_rehash(user.password_hash)
        assert authenticate(session, "quinn", PASSWORD, NOW) is not None  # still signs in
        set_password(session, "quinn", "another long password")
        assert authenticate(session, "quinn", PASSWORD, NOW) is None
        assert authenticate(session, "quinn", "another long password", NOW) is not None
        disable_user(session, "quinn")
        assert authenticate(session, "quinn", "another long password", NOW) is None
        with pytest.raises(AccountError, match="no user 'ghost'"):
            disable_user(session, "ghost")


@pytest.fixture
def cli(records: Engine, records_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("WARMLINE_DATABASE_URL", records_url)
    with Session(records) as session:
        add_officer(session, "ana", "Ana Ruiz")
        session.commit()
    return CliRunner()


def test_users_commands(cli: CliRunner, records: Engine) -> None:
    added = cli.invoke(
        main,
        ["users", "add", "Ana", "--role", "officer", "--officer", "ana", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    assert added.stdout == "added officer user ana (officer ana)\n"
    typed = cli.invoke(
        main, ["users", "add", "root", "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert typed.exit_code == 0, typed.output
    assert PASSWORD not in typed.output  # the prompt hides it
    listed = cli.invoke(main, ["users", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["username"], r["role"], r["officer_id"], r["active"]) for r in rows] == [
        ("ana", "officer", "ana", True),
        ("root", "admin", None, True),
    ]
    assert rows[0]["last_login_at"] is None and "password_hash" not in rows[0]
    text = cli.invoke(main, ["users", "list"])
    assert "ana" in text.stdout and "officer" in text.stdout and "never signed in" in text.stdout

    changed = cli.invoke(
        main, ["users", "password", "ANA", "--password-stdin"], input="a brand new password\n"
    )
    assert (changed.exit_code, changed.stdout) == (0, "password set for ana\n")
    with Session(records) as session:
        assert authenticate(session, "ana", "a brand new password", NOW) is not None

    disabled = cli.invoke(main, ["users", "disable", "ana"])
    assert (disabled.exit_code, disabled.stdout) == (0, "disabled ana\n")
    rows = json.loads(cli.invoke(main, ["users", "list", "--json"]).stdout)
    assert [r["active"] for r in rows] == [False, True]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add", "bob", "--role", "officer", "--password-stdin"], PASSWORD, "needs --officer"),
        (
            ["add", "bob", "--role", "officer", "--officer", "x", "--password-stdin"],
            PASSWORD,
            "no officer 'x'",
        ),
        (["add", "bob", "--role", "qa", "--password-stdin"], "short", "too short"),
        (["add", "bad name", "--role", "qa", "--password-stdin"], PASSWORD, "invalid username"),
        (["disable", "ghost"], "", "no user 'ghost'"),
        (["password", "ghost", "--password-stdin"], PASSWORD, "no user 'ghost'"),
    ],
)
def test_users_commands_refuse(cli: CliRunner, args: list[str], stdin: str, message: str) -> None:
    result = cli.invoke(main, ["users", *args], input=stdin + "\n")
    assert result.exit_code == 1, result.output
    assert message in result.stderr


def test_users_add_refuses_a_password_argument(cli: CliRunner) -> None:
    result = cli.invoke(main, ["users", "add", "bob", "--role", "qa", "--password", "x"])
    assert result.exit_code == 2
    assert "No such option" in result.stderr
