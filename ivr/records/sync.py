"""``warmline sync``: the deployment file into the records, idempotently.

Publishers, campaigns, tracking numbers, officers and webhook endpoints are upserted by their
ids; any no longer in the file are marked inactive, never deleted, since calls and billing
lines point at them.
Running it twice changes nothing the second time (the counts say so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.deployment import Setup
from ivr.fields import cents
from ivr.records import tables as t
from ivr.records.migrate import take_turns


@dataclass(frozen=True)
class SyncCounts:
    added: int = 0
    changed: int = 0
    deactivated: int = 0
    unchanged: int = 0

    def __add__(self, other: SyncCounts) -> SyncCounts:
        return SyncCounts(
            self.added + other.added,
            self.changed + other.changed,
            self.deactivated + other.deactivated,
            self.unchanged + other.unchanged,
        )


def sync_deployment(session: Session, setup: Setup, now: datetime) -> dict[str, SyncCounts]:
    """Upsert the deployment's objects; returns what changed per table. Servers starting
    together take turns (the schema lock is held until the session's transaction ends)."""
    take_turns(session.connection())
    d = setup.deployment
    return {
        "publishers": _upsert(
            session, t.Publisher, "id", {p.id: {"name": p.name} for p in d.publishers}, now
        ),
        "campaigns": _upsert(
            session,
            t.Campaign,
            "id",
            {
                c.id: {
                    "name": c.name,
                    "flow": c.flow,
                    "duplicate_window_h": c.duplicates.window_h,
                    "duplicates_across_campaigns": c.duplicates.across_campaigns,
                }
                for c in d.campaigns
            },
            now,
        ),
        "numbers": _upsert(
            session,
            t.TrackingNumber,
            "number",
            {
                n.number: {
                    "campaign_id": n.campaign,
                    "publisher_id": n.publisher,
                    "payout_cents": cents(n.payout),
                }
                for n in d.numbers
            },
            now,
        ),
        "officers": _upsert(
            session,
            t.Officer,
            "id",
            {
                o.id: {
                    "name": o.name,
                    "phone": o.phone,
                    "nmls_id": o.nmls_id,
                    "price_cents": cents(o.price),
                    "min_billable_s": o.min_billable_s,
                    "min_score": o.min_score,
                    "min_credit_band": o.min_credit_band,
                    "loan_types": list(o.loan_types),
                    "licences": {state: day.isoformat() for state, day in o.licences.items()},
                    "duplicate_window_h": o.duplicate_window_h,
                }
                for o in d.officers
            },
            now,
        ),
        "webhooks": _upsert(
            session,
            t.WebhookEndpoint,
            "id",
            {
                w.id: {
                    "url": w.url,
                    "officer_id": w.officer,
                    "campaign_id": w.campaign,
                    "events": list(w.events),
                    "secret_env": w.secret_env,
                    "timeout_s": w.timeout_s,
                }
                for w in d.webhooks
            },
            now,
        ),
    }


def _upsert(
    session: Session,
    model: type[t.Synced],
    key: str,
    wanted: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> SyncCounts:
    existing = {getattr(row, key): row for row in session.scalars(select(model))}
    counts = SyncCounts()
    for ident, values in wanted.items():
        row = existing.get(ident)
        if row is None:
            session.add(model(**{key: ident}, **values, active=True, synced_at=now))
            counts += SyncCounts(added=1)
            continue
        differs = not row.active or any(getattr(row, k) != v for k, v in values.items())
        if differs:
            for name, value in values.items():
                setattr(row, name, value)
            row.active, row.synced_at = True, now
        counts += SyncCounts(changed=1) if differs else SyncCounts(unchanged=1)
    for ident, row in existing.items():
        if ident not in wanted and row.active:
            row.active, row.synced_at = False, now
            counts += SyncCounts(deactivated=1)
    session.flush()
    return counts
