"""Who is turned away or flagged before the first question, against a real server process.

The do-not-call list is a file the running server re-reads on SIGHUP (and when it changes);
a repeat caller inside the campaign's window is flagged on the call state in Redis.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml
from redis.asyncio import Redis
from twilio.request_validator import RequestValidator

from tests.e2e.conftest import stored_state
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, ServerProcess, start_server

pytestmark = pytest.mark.e2e

TRACKING = "+18005550100"
REFUSED = "We're sorry, we are unable to take your call. Goodbye."


@pytest.fixture(scope="module")
def blocklist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dnc") / "do-not-call.txt"
    path.write_text("# numbers that asked not to be called\n(512) 555-0177\n")
    return path


@pytest.fixture(scope="module")
def door_server(
    redis_url: str,
    scenario_deployment_path: Path,
    blocklist: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerProcess]:
    data = yaml.safe_load(scenario_deployment_path.read_text())
    data["blocklist"] = [str(blocklist)]
    deployment = tmp_path_factory.mktemp("door") / "warmline.yaml"
    deployment.write_text(yaml.safe_dump(data, sort_keys=False))
    server = start_server(redis_url, None, deployment.parent, deployment=deployment)
    yield server
    server.stop()


async def call_arrives(server: ServerProcess, caller: str) -> tuple[str, str]:
    """Post Twilio's first webhook of a new call from ``caller``; its CallSid and TwiML."""
    call_sid = "CA" + secrets.token_hex(16)
    params = {
        "CallSid": call_sid,
        "AccountSid": ACCOUNT_SID,
        "From": caller,
        "To": TRACKING,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    url = f"{server.url}/twilio/voice"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=params, headers={"X-Twilio-Signature": signature}) as response,
    ):
        assert response.status == 200
        return call_sid, await response.text()


def add_line(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


def said(twiml: str) -> list[str]:
    return [el.text or "" for el in ET.fromstring(twiml).iter("Say")]


async def test_a_listed_caller_is_refused_politely_and_leaves_no_call(
    door_server: ServerProcess, redis: Redis
) -> None:
    call_sid, twiml = await call_arrives(door_server, "+15125550177")
    assert said(twiml) == [REFUSED]
    assert [el.tag for el in ET.fromstring(twiml)] == ["Say", "Hangup"]
    assert await redis.exists(f"warmline:call:{call_sid}") == 0
    assert "call refused: blocklist" in door_server.log()
    assert "5125550177" not in door_server.log()  # masked: +1•••••••0177


async def test_the_list_is_reloaded_on_sighup(door_server: ServerProcess, blocklist: Path) -> None:
    caller = "+12145550188"
    _, before = await call_arrives(door_server, caller)
    assert "may be recorded" in said(before)[0]
    await asyncio.to_thread(add_line, blocklist, "214-555-0188  # asked today")
    door_server.process.send_signal(signal.SIGHUP)
    for _ in range(100):  # the reload runs in a thread; give it a moment
        _, after = await call_arrives(door_server, caller)
        if said(after) == [REFUSED]:
            break
        await asyncio.sleep(0.05)
    assert said(after) == [REFUSED]
    assert door_server.process.poll() is None  # SIGHUP reloads; it does not stop the server


async def test_a_repeat_caller_inside_the_window_is_flagged(
    door_server: ServerProcess, redis_url: str
) -> None:
    caller = f"+1214555{secrets.randbelow(10_000):04d}"
    first, _ = await call_arrives(door_server, caller)
    second, _ = await call_arrives(door_server, caller)
    assert (await stored_state(redis_url, first)).caller.repeat is False
    assert (await stored_state(redis_url, second)).caller.repeat is True
