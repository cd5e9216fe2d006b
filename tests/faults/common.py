"""What the fault tests share: callers that act at a given prompt, servers started side by
side, and bounded waits.

Every fault test runs real ``warmline serve`` processes (``tests.support.services.start_server``)
driven over real HTTP by the fake carrier; these helpers mostly decide *when* a fault happens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

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
from tests.support.services import ServerProcess, start_server

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
