"""What the fault tests share: callers that act at a given prompt, servers started side by
side, and bounded waits.

Every fault test runs real ``warmline serve`` processes (``tests.support.services.start_server``)
driven over real HTTP by the fake carrier; these helpers mostly decide *when* a fault happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from ivr.simulator.caller import (
    Caller,
    DialAnswer,
    DialOutcome,
    DialSpec,
    GatherInput,
    GatherSpec,
    RecordAnswer,
    RecordSpec,
)
from ivr.simulator.model import CallRecord, Heard, RequestRecord
from tests.e2e.conftest import LOAD_BALANCER
from tests.support.deployments import scenario_deployment
from tests.support.services import ServerProcess, free_port, start_server

CALLBACKS = frozenset({"status-callback", "child-status-callback", "recording-status-callback"})
"""Request kinds the carrier does not run as TwiML."""


@dataclass
class AtPrompt:
    """A caller that runs ``action`` when the app asks its ``at``-th question (1-based), before
    answering it: the fault happens while the caller is thinking, between two webhooks."""

    caller: Caller
    at: int
    action: Callable[[], Awaitable[None]]
    asked: int = 0

    async def gather(self, heard: list[Heard], spec: GatherSpec) -> GatherInput:
        self.asked += 1
        if self.asked == self.at:
            await self.action()
        return await self.caller.gather(heard, spec)

    async def record(self, heard: list[Heard], spec: RecordSpec) -> RecordAnswer:
        return await self.caller.record(heard, spec)

    async def dial(self, heard: list[Heard], spec: DialSpec) -> DialAnswer:
        return await self.caller.dial(heard, spec)


@dataclass
class TakesFallback:
    """A caller that, put through to ``fallback`` (the campaign's line for when the system is in
    trouble), stays on it for ``talk_s`` seconds; anything else goes to ``caller``."""

    caller: Caller
    fallback: str
    talk_s: float = 60.0
    dialled: list[str] = field(default_factory=list)

    async def gather(self, heard: list[Heard], spec: GatherSpec) -> GatherInput:
        return await self.caller.gather(heard, spec)

    async def record(self, heard: list[Heard], spec: RecordSpec) -> RecordAnswer:
        return await self.caller.record(heard, spec)

    async def dial(self, heard: list[Heard], spec: DialSpec) -> DialAnswer:
        targets = [target.address for target in spec.targets]
        self.dialled.extend(targets)
        if self.fallback in targets:
            return DialOutcome("completed", answered=True, duration_s=self.talk_s)
        return await self.caller.dial(heard, spec)


def twiml_requests(record: CallRecord) -> list[RequestRecord]:
    """The requests whose answers the carrier ran as TwiML (not the callbacks)."""
    return [r for r in record.requests if r.kind not in CALLBACKS]


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout_s: float, what: str, every_s: float = 0.1
) -> float:
    """Poll ``check`` until it is true; the seconds it took. Fails the test after ``timeout_s``."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(every_s)
    return time.monotonic() - started


async def health(server: ServerProcess, session: aiohttp.ClientSession) -> int | None:
    """The status ``/healthz`` answers with; None when the process does not answer."""
    try:
        async with session.get(
            f"{server.url}/healthz", timeout=aiohttp.ClientTimeout(total=20)
        ) as response:
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return None


async def start_servers(
    count: int,
    redis_url: str,
    workdir: Path,
    deployment: Path,
    env: Mapping[str, str] | None = None,
    public_url: str | None = LOAD_BALANCER,
) -> list[ServerProcess]:
    """``count`` ``warmline serve`` processes behind one public URL, started side by side."""
    results = await asyncio.gather(
        *(
            asyncio.to_thread(start_server, redis_url, public_url, workdir, deployment, env)
            for _ in range(count)
        ),
        return_exceptions=True,
    )
    servers = [r for r in results if isinstance(r, ServerProcess)]
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        await stop_servers(servers)
        raise failed[0]
    return servers


async def stop_servers(servers: Sequence[ServerProcess]) -> list[int]:
    """SIGTERM every server at once; their exit codes."""
    return list(await asyncio.gather(*(asyncio.to_thread(s.stop) for s in servers)))


def ping_post_deployment(folder: Path, ping_urls: Mapping[str, str], deadline_ms: int) -> Path:
    """The scenario deployment whose one pool runs a ping-post auction among the officers of
    ``ping_urls`` (officer id → the URL their bid is asked from), with ``deadline_ms``."""
    path = scenario_deployment(folder)
    data = yaml.safe_load(path.read_text())
    for officer in data["officers"]:
        if officer["id"] in ping_urls:
            officer["ping_url"] = ping_urls[officer["id"]]
    [pool] = data["pools"]
    pool.update(strategy="ping_post", ping_deadline_ms=deadline_ms, officers=list(ping_urls))
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@contextlib.asynccontextmanager
async def bidder_server(app: web.Application, release: asyncio.Event) -> AsyncIterator[str]:
    """Serve a test bidder on a free local port; yields its base URL. ``release`` is set on the
    way out, so a bid held back for the test never outlives it."""
    port = free_port()
    server = TestServer(app, port=port)
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        release.set()
        await server.close()
