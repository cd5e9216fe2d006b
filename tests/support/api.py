"""The REST API under test: the web fixture's users, calls and stored recordings
(:func:`tests.support.web.seed`) plus billing lines (:func:`seed_portal`), a score and a
transcript, and an API token for every user."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.records.api import records_routes
from ivr.web.tokens import create_token
from tests.support.records import add_score
from tests.support.web import DAY, seed, seed_portal

OPERATOR_TOKEN = "operator-token-0123456789abcdef"
USERS = ("root", "quinn", "ana", "ben")
SEGMENTS = [
    {"start": 0.0, "end": 2.5, "text": "I want to refinance", "speaker": "caller"},
    {"start": 2.5, "end": 4.0, "text": "call me at 512 555 0199", "speaker": "caller"},
]


def seed_api(records: Engine, root: Path) -> dict[str, str]:
    """Everything the API tests read; returns each user's API token (plain, as shown once)."""
    seed(records, root)
    seed_portal(records)
    with Session(records) as session:
        ana = session.scalars(select(t.Call).where(t.Call.call_sid == "CA-ana")).one()
        add_score(session, ana, score=81, intent="ready", confidence=0.62)
        session.add(
            t.Transcript(
                recording_sid="RE-ana", call_sid="CA-ana", model="tiny.en",
                text="I want to refinance call me at 512 555 0199", segments=SEGMENTS,
                created_at=DAY,
            )
        )  # fmt: skip
        tokens = {name: create_token(session, name, "tests", DAY).token for name in USERS}
        session.commit()
    return tokens


def api_app(records: Engine, root: Path, operator: str | None = OPERATOR_TOKEN) -> web.Application:
    app = web.Application()
    token = None if operator is None else SecretStr(operator)
    app.add_routes(records_routes(records, token, recordings_dir=str(root)))
    return app


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class Client:
    """GETs with one bearer token (or none)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    async def get(
        self, path: str, token: str | None, headers: dict[str, str] | None = None
    ) -> Reply:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        async with self.session.get(self.base + path, headers=sent) as response:
            return Reply(response.status, response.headers, await response.read())

    async def json(self, path: str, token: str | None) -> tuple[int, Any]:
        reply = await self.get(path, token)
        return reply.status, reply.json()


class ThreadedServer:
    """An aiohttp application served from a thread of its own, for synchronous clients (the
    property test drives it with ``requests`` from hypothesis examples)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def __enter__(self) -> str:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the API server did not start")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
