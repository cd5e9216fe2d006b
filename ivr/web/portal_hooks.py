"""``GET /webhooks``: webhook endpoints and their recent deliveries.

An officer sees their own endpoints and deliveries; an admin sees every endpoint's. What is
shown: the event, its status, attempts, the last error and when it was delivered — never a
secret (an admin sees the name of the variable that holds it) nor a payload (it carries the
caller's number). Other roles get 404.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.web.auth import signed_in
from ivr.web.state import WEB
from ivr.web.templates import render

RECENT: Final = 100


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    endpoint_id: str
    event: str
    call_sid: str | None
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        shown = asdict(self)
        for name in ("created_at", "delivered_at"):
            at = shown[name]
            shown[name] = None if at is None else at.isoformat()
        return shown


def visible_endpoints(session: Session, officer_id: str | None) -> list[t.WebhookEndpoint]:
    """``officer_id``'s endpoints, or every one when None (an admin)."""
    query = select(t.WebhookEndpoint).order_by(t.WebhookEndpoint.id)
    if officer_id is not None:
        query = query.where(t.WebhookEndpoint.officer_id == officer_id)
    return list(session.scalars(query))


def recent_deliveries(
    session: Session,
    officer_id: str | None,
    status: str | None = None,
    endpoint: str | None = None,
    limit: int = RECENT,
) -> list[Delivery]:
    """Newest first: ``officer_id``'s endpoints' deliveries, or everyone's when None."""
    query = select(t.WebhookEvent).order_by(t.WebhookEvent.id.desc()).limit(limit)
    if officer_id is not None:
        query = query.where(t.WebhookEvent.officer_id == officer_id)
    if status is not None:
        query = query.where(t.WebhookEvent.status == status)
    if endpoint is not None:
        query = query.where(t.WebhookEvent.endpoint_id == endpoint)
    return [
        Delivery(
            delivery_id=row.delivery_id,
            endpoint_id=row.endpoint_id,
            event=row.event,
            call_sid=row.call_sid,
            status=row.status,
            attempts=row.attempts,
            last_status=row.last_status,
            last_error=row.last_error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )
        for row in session.scalars(query)
    ]


async def webhooks_page(request: web.Request) -> web.StreamResponse:
    user = signed_in(request, "officer", "admin")
    admin = user.role == "admin"

    def work(session: Session) -> dict[str, Any]:
        if not admin and not user.officer_id:
            return {"endpoints": [], "deliveries": [], "linked": False}
        owner = None if admin else user.officer_id
        endpoints = [
            {
                "id": e.id,
                "owner": f"officer {e.officer_id}" if e.officer_id else f"campaign {e.campaign_id}",
                "url": e.url,
                "events": list(e.events),
                "secret_env": e.secret_env if admin else None,
                "active": e.active,
            }
            for e in visible_endpoints(session, owner)
        ]
        deliveries = recent_deliveries(session, owner)
        return {"endpoints": endpoints, "deliveries": deliveries, "linked": True}

    shown = await request.app[WEB].query(work)
    return render(request, "portal_webhooks.html", {**shown, "admin": admin})


def webhook_routes() -> list[web.RouteDef]:
    return [web.get("/webhooks", webhooks_page)]
