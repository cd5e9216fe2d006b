"""Users' API tokens on SQLite and PostgreSQL: made, listed and revoked with
``warmline users token``; only their hash is stored; a revoked token or a disabled user's token
is refused (401) by the API; the last use is written at most once a minute."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.cli import main
from ivr.records import tables as t
from ivr.web.accounts import AccountError, create_user
from ivr.web.tokens import create_token, revoke_token, token_user
from tests.support.api import Client, api_app
from tests.support.records import add_officer
from tests.support.web import DAY, FAST, PASSWORD

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(records: Engine, records_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("WARMLINE_DATABASE_URL", records_url)
    with Session(records) as session:
        add_officer(session, "ana", "Ana Ruiz")
        create_user(session, "ana", PASSWORD, "officer", DAY, officer_id="ana", hasher=FAST)
        create_user(session, "root", PASSWORD, "admin", DAY, hasher=FAST)
        session.commit()
    return CliRunner()


async def test_token_commands_and_the_api(cli: CliRunner, records: Engine, tmp_path: Path) -> None:
    made = cli.invoke(main, ["users", "token", "create", "ANA", "--name", "crm sync"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("wl_") and len(token) == 46 and "\n" not in token
    assert "not shown again" in made.stderr and token not in made.stderr
    other = cli.invoke(main, ["users", "token", "create", "root", "--name", "reports"])
    root_token = other.stdout.strip()

    with Session(records) as session:
        rows = list(session.scalars(select(t.ApiToken).order_by(t.ApiToken.id)))
        assert [(r.name, r.prefix) for r in rows] == [
            ("crm sync", token[:11]),
            ("reports", root_token[:11]),
        ]
        assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
        for row in rows:  # the plain token is in no column
            stored = [str(getattr(row, c.key)) for c in t.ApiToken.__table__.columns]
            assert token not in stored and root_token not in stored

    listed = cli.invoke(main, ["users", "token", "list", "ana", "--json"])
    assert listed.exit_code == 0, listed.output
    ana_rows = json.loads(listed.stdout)
    assert [(r["username"], r["name"], r["prefix"], r["revoked_at"]) for r in ana_rows] == [
        ("ana", "crm sync", token[:11], None)
    ]
    assert token not in listed.stdout
    every = cli.invoke(main, ["users", "token", "list"])
    assert "crm sync" in every.stdout and "reports" in every.stdout and "never used" in every.stdout
    assert token not in every.stdout and root_token not in every.stdout

    app = api_app(records, tmp_path, operator=None)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        client = Client(session, str(server.make_url("")).rstrip("/"))
        assert (await client.json("/api/me", token))[1]["username"] == "ana"
        with Session(records) as db:
            used = db.scalars(select(t.ApiToken.last_used_at).order_by(t.ApiToken.id)).first()
        assert used is not None  # noted on use

        revoked = cli.invoke(main, ["users", "token", "revoke", str(ana_rows[0]["id"])])
        assert (revoked.exit_code, revoked.stdout) == (
            0,
            f"revoked API token {ana_rows[0]['id']} (crm sync)\n",
        )
        assert (await client.get("/api/me", token)).status == 401
        assert (await client.get("/api/calls", token)).status == 401

        assert (await client.get("/api/me", root_token)).status == 200
        disabled = cli.invoke(main, ["users", "disable", "root"])
        assert disabled.exit_code == 0, disabled.output
        assert (await client.get("/api/me", root_token)).status == 401
        assert (await client.get("/api/calls", root_token)).status == 401

    relisted = json.loads(cli.invoke(main, ["users", "token", "list", "--json"]).stdout)
    assert [r["revoked_at"] is not None for r in relisted] == [True, False]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "ghost", "--name", "x"], "no user 'ghost'"),
        (["create", "ana", "--name", "  "], "a token needs a name"),
        (["list", "ghost"], "no user 'ghost'"),
        (["revoke", "999"], "no API token 999"),
    ],
)
def test_token_commands_refuse(cli: CliRunner, args: list[str], message: str) -> None:
    result = cli.invoke(main, ["users", "token", *args])
    assert result.exit_code == 1, result.output
    assert message in result.stderr


def test_tokens_of_a_disabled_user_cannot_be_made(cli: CliRunner) -> None:
    assert cli.invoke(main, ["users", "disable", "ana"]).exit_code == 0
    result = cli.invoke(main, ["users", "token", "create", "ana", "--name", "x"])
    assert result.exit_code == 1
    assert "user 'ana' is disabled" in result.stderr


def test_last_use_is_written_at_most_once_a_minute(records: Engine) -> None:
    with Session(records) as session:
        add_officer(session, "ana", "Ana Ruiz")
        create_user(session, "ana", PASSWORD, "officer", DAY, officer_id="ana", hasher=FAST)
        made = create_token(session, "ana", "crm", DAY)
        session.commit()
    for at, expected in [
        (DAY, DAY),
        (DAY + timedelta(seconds=59), DAY),
        (DAY + timedelta(seconds=60), DAY + timedelta(seconds=60)),
    ]:
        with Session(records) as session:
            found = token_user(session, made.token, at)
            assert found is not None and (found.username, found.role) == ("ana", "officer")
            session.commit()
            assert session.get(t.ApiToken, made.id).last_used_at == expected  # type: ignore[union-attr]
    with Session(records) as session:
        altered = made.token[:-1] + ("y" if made.token.endswith("x") else "x")
        assert token_user(session, altered, DAY) is None
        assert token_user(session, "not-a-token", DAY) is None
        revoke_token(session, made.id, DAY)
        assert token_user(session, made.token, DAY) is None
        with pytest.raises(AccountError, match="no API token"):
            revoke_token(session, made.id, DAY, user_id=made.id + 1000)
