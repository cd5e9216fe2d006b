"""``/webhooks`` over a real app, on SQLite and PostgreSQL: an officer sees their own endpoints
and deliveries, an admin everyone's (with the secrets' variable names), QA nothing (404); no
page shows a secret or a payload (the caller's number)."""

from __future__ import annotations

import asyncio

import pytest

from tests.hooks.support import SECRET, SECRET_ENV, seed_hooks
from tests.support.records import CALLER
from tests.support.web import Site, table_rows

pytestmark = pytest.mark.integration


async def test_an_officer_sees_their_own_webhooks_and_an_admin_all(site: Site) -> None:
    ids = await asyncio.to_thread(seed_hooks, site.records)
    ana = await site.signed_in("ana")
    page = await ana.get("/webhooks")
    assert page.status == 200, page.text
    assert [row[:4] for row in table_rows(page.text, "endpoints")[1:]] == [
        ["ana-crm", "officer ana", "http://127.0.0.1:9/hooks", "completed, billable"]
    ]
    rows = table_rows(page.text, "deliveries")[1:]
    assert [row[1:] for row in rows] == [
        ["ana-crm", "completed", "CA-ana-hooked", "delivered", "2", "—", "2026-11-24 12:00:00"]
    ]
    assert ids["ben"] not in page.text and "ben-crm" not in page.text
    assert SECRET_ENV not in page.text  # an officer is not told where the secret lives

    root = await site.signed_in("root")
    page = await root.get("/webhooks")
    assert page.status == 200, page.text
    assert [row[0] for row in table_rows(page.text, "endpoints")[1:]] == ["ana-crm", "ben-crm"]
    assert [row[4] for row in table_rows(page.text, "endpoints")[1:]] == [SECRET_ENV] * 2
    statuses = {row[1]: row[4:7] for row in table_rows(page.text, "deliveries")[1:]}
    assert statuses == {"ana-crm": ["delivered", "2", "—"], "ben-crm": ["dead", "8", "HTTP 503"]}
    assert SECRET not in page.text
    assert CALLER not in page.text

    quinn = await site.signed_in("quinn")
    assert (await quinn.get("/webhooks")).status == 404
