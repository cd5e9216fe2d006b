"""Shared pieces of the webhook tests: a deployment with endpoints, and local receivers.

A receiver is a small aiohttp app on a real local socket that records every request (headers
and raw body) and answers with the statuses it is told, in turn; ``hang_s`` makes it wait
before answering, past an endpoint's timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from ivr.hooks.outbox import Outbox
from ivr.records import tables as t
from tests.support.records import add_call

SECRET_ENV = "WARMLINE_HOOK_SECRET_AMY"
SECRET = "whsec-amy-0123456789abcdef-not-for-logs"
OPS_SECRET_ENV = "WARMLINE_HOOK_SECRET_OPS"
OPS_SECRET = "whsec-ops-fedcba9876543210-not-for-logs"
SEEDED_AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CALLED_AT = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


def hooked_deployment(
    base: Path, folder: Path, url: str = "http://127.0.0.1:9/hooks", timeout_s: float = 10.0
) -> Path:
    """``base`` with two endpoints: Amy's (every event) and the sunbelt campaign's."""
    data = yaml.safe_load(base.read_text())
    data["webhooks"] = [
        {
            "id": "amy-crm",
            "officer": "amy-ng",
            "url": url,
            "events": [
                "transferred",
                "completed",
                "billable",
                "disputed",
                "transcript_ready",
                "score_ready",
            ],
            "secret_env": SECRET_ENV,
            "timeout_s": timeout_s,
        },
        {
            "id": "sunbelt-ops",
            "campaign": "sunbelt-refi",
            "url": url,
            "events": ["completed", "billable"],
            "secret_env": OPS_SECRET_ENV,
        },
    ]
    path = folder / "hooked-deployment.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)
    """Answers, in turn; 200 once they run out."""
    hang_s: list[float] = field(default_factory=list)
    """Waits before answering, in turn; none once they run out."""
    received: list[Received] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), await request.read()))
        if self.hang_s:
            await asyncio.sleep(self.hang_s.pop(0))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok" if status < 300 else "no")


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    app = web.Application()
    server = TestServer(app, host="127.0.0.1")
    box: list[Receiver] = []

    async def handle(request: web.Request) -> web.Response:
        return await box[0].handle(request)

    app.router.add_post("/hooks", handle)
    async with server:
        box.append(Receiver(str(server.make_url("/hooks"))))
        yield box[0]


def endpoint(ident: str, officer: str, url: str = "http://127.0.0.1:9/hooks") -> t.WebhookEndpoint:
    return t.WebhookEndpoint(
        id=ident,
        url=url,
        officer_id=officer,
        campaign_id=None,
        events=["completed", "billable"],
        secret_env=SECRET_ENV,
        timeout_s=5.0,
        active=True,
        synced_at=SEEDED_AT,
    )


def seed_hooks(records: Engine, officers: tuple[str, ...] = ("ana", "ben")) -> dict[str, str]:
    """An endpoint per officer and a ``completed`` event for a call of each; delivery ids by
    officer (ana's delivered, ben's dead)."""
    ids = {}
    with Session(records) as session, session.begin():
        for officer in officers:
            session.add(endpoint(f"{officer}-crm", officer))
            session.flush()
            call, _ = add_call(
                session, call_sid=f"CA-{officer}-hooked", started_at=CALLED_AT, officer=officer
            )
            Outbox(session, SEEDED_AT).add("completed", call, officer, call.call_sid, {})
            ids[officer] = session.scalars(
                select(t.WebhookEvent.delivery_id).where(t.WebhookEvent.call_sid == call.call_sid)
            ).one()
        session.execute(
            update(t.WebhookEvent)
            .where(t.WebhookEvent.officer_id == "ana")
            .values(status="delivered", attempts=2, last_status=200, delivered_at=SEEDED_AT)
        )
        session.execute(
            update(t.WebhookEvent)
            .where(t.WebhookEvent.officer_id == "ben")
            .values(status="dead", attempts=8, last_status=503, last_error="HTTP 503")
        )
    return ids
