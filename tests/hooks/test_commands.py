"""``warmline webhooks``, on SQLite and PostgreSQL: endpoints, deliveries, dead letters, a test
event to a local receiver; no output ever shows a secret or a payload (the caller's number)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner, Result
from redis.asyncio import Redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.cli import main
from ivr.hooks.outbox import Outbox
from ivr.hooks.signing import verify
from ivr.records import tables as t
from tests.hooks.support import SECRET, SECRET_ENV, SEEDED_AT, endpoint, seed_hooks
from tests.support.records import CALLER, add_call
from tests.support.services import ROOT, ManagedProcess, clean_env, free_port

pytestmark = pytest.mark.integration


def warmline(url: str, *args: str, secret: bool = True) -> Result:
    env = {"WARMLINE_DATABASE_URL": url, SECRET_ENV: SECRET if secret else ""}
    return CliRunner().invoke(main, list(args), env=env)


def test_webhooks_commands_list_endpoints_deliveries_and_dead_letters(
    records: Engine, records_url: str
) -> None:
    ids = seed_hooks(records)

    listed = warmline(records_url, "webhooks", "endpoints")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        f"ana-crm  officer ana  http://127.0.0.1:9/hooks  events completed,billable  "
        f"secret ${SECRET_ENV} set",
        f"ben-crm  officer ben  http://127.0.0.1:9/hooks  events completed,billable  "
        f"secret ${SECRET_ENV} set",
    ]
    unset = warmline(records_url, "webhooks", "endpoints", "--json", secret=False)
    assert [e["secret_set_here"] for e in json.loads(unset.output)] == [False, False]

    dead = warmline(records_url, "webhooks", "dead", "--json")
    assert dead.exit_code == 0, dead.output
    (letter,) = json.loads(dead.output)
    assert (letter["delivery_id"], letter["status"], letter["attempts"]) == (ids["ben"], "dead", 8)
    assert letter["last_error"] == "HTTP 503"

    recent = warmline(records_url, "webhooks", "deliveries", "--endpoint", "ana-crm")
    assert recent.exit_code == 0, recent.output
    assert recent.output == (
        f"{ids['ana']}  2026-11-24 12:00:00Z  ana-crm  completed  delivered  attempts 2"
        "  delivered 2026-11-24 12:00:00Z\n"
    )
    for result in (listed, dead, recent):
        assert SECRET not in result.output and CALLER not in result.output

    missing = warmline(records_url, "webhooks", "requeue", "evt_nope")
    assert missing.exit_code == 1
    assert "no dead delivery evt_nope" in missing.output


@pytest.fixture
def local_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A receiver in a thread of its own (the command runs its own event loop)."""
    got: list[tuple[dict[str, str], bytes]] = []
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def handle(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    async def serve() -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/hooks", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    def run() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(serve())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    yield f"http://127.0.0.1:{port}/hooks", got
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_webhooks_test_sends_one_signed_test_event(
    records: Engine,
    records_url: str,
    local_receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, got = local_receiver
    with Session(records) as session, session.begin():
        session.add(endpoint("ana-crm", "ana", url))
    sent = warmline(records_url, "webhooks", "test", "ana-crm")
    assert sent.exit_code == 0, sent.output
    ((headers, body),) = got
    delivery = headers["X-Warmline-Delivery"]
    assert sent.output == f"test event {delivery} delivered to ana-crm: HTTP 204\n"
    assert headers["X-Warmline-Event"] == "test"
    assert verify(SECRET, headers["X-Warmline-Signature"], body, time.time())
    assert json.loads(body)["type"] == "test"

    refused = warmline(records_url, "webhooks", "test", "ana-crm", secret=False)
    assert refused.exit_code == 1
    assert f"the secret's variable {SECRET_ENV} is not set" in refused.output
    assert len(got) == 1


def test_warmline_deliver_relays_and_posts_until_sigterm(
    records: Engine,
    records_url: str,
    redis: Redis,
    redis_url: str,
    local_receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
    tmp_path: Path,
) -> None:
    """The command as an operator runs it: a process of its own, no model, stopped by SIGTERM."""
    url, got = local_receiver
    with Session(records) as session, session.begin():
        session.add(endpoint("ana-crm", "ana", url))
        session.flush()
        call, _ = add_call(session, call_sid="CA-deliver", started_at=SEEDED_AT, officer="ana")
        Outbox(session, SEEDED_AT).add("completed", call, "ana", call.call_sid, {})

    refused = warmline(records_url, "deliver", secret=False)
    assert refused.exit_code == 1
    assert refused.output.splitlines()[-1] == (
        "warmline: not starting: no secret in the environment for webhook endpoints "
        f"ana-crm ({SECRET_ENV})"
    )

    env = clean_env(
        {"WARMLINE_DATABASE_URL": records_url, "WARMLINE_REDIS_URL": redis_url, SECRET_ENV: SECRET}
    )
    log_path = tmp_path / "deliver.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ivr", "deliver"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    deliverer = ManagedProcess(process, log_path)
    try:
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert len(got) == 1, deliverer.log()
    finally:
        code = deliverer.stop(signal.SIGTERM)
    assert code == 0, deliverer.log()
    headers, body = got[0]
    assert verify(SECRET, headers["X-Warmline-Signature"], body, time.time())
    assert json.loads(body)["data"]["call"]["call_sid"] == "CA-deliver"
    with Session(records) as session:
        row = session.scalars(select(t.WebhookEvent)).one()
        assert (row.status, row.attempts) == ("delivered", 1)
    output = deliverer.log()
    assert "warmline: delivering webhooks from" in output
    assert SECRET not in output and CALLER not in output
