"""A TCP proxy for fault tests: put it between a server and a service, then cut the line.

``cut()`` stops listening and aborts every live connection, so the service looks gone (new
connections are refused, open ones reset); ``restore()`` listens on the same port again.
``upstream`` may be changed at any time: new connections go to the new address (a load
balancer taking a dead backend out of rotation); ``refuse_next(n)`` resets the next n
connections (a backend briefly unreachable). It runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

CHUNK = 64 * 1024


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream`` until cut."""

    def __init__(self, upstream: tuple[str, int], port: int = 0) -> None:
        self.upstream = upstream
        self.port = port
        self.served: list[tuple[str, int]] = []
        """The upstream each accepted connection went to, in order (refused ones are not
        counted)."""
        self._server: asyncio.Server | None = None
        self._cuts = 0
        self._refusals = 0
        self._live: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        self._cuts += 1
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._live):
            writer.transport.abort()
        self._live.clear()
        if server is not None:
            await server.wait_closed()

    def refuse_next(self, count: int) -> None:
        """Reset the next ``count`` connections as they arrive (a backend that is briefly
        unreachable), then forward again."""
        self._refusals = count

    async def restore(self) -> None:
        """Listen again, on the same port."""
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None or self._refusals > 0:  # cut, or told to refuse this one
            self._refusals = max(0, self._refusals - 1)
            writer.transport.abort()
            return
        cuts = self._cuts
        try:
            upstream = self.upstream
            up_reader, up_writer = await asyncio.open_connection(*upstream)
        except OSError:
            writer.transport.abort()
            return
        if cuts != self._cuts:  # cut while this one was connecting: it must not get through
            for end in (writer, up_writer):
                end.transport.abort()
            return
        self.served.append(upstream)
        self._live.update((writer, up_writer))
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        try:  # HTTP and PostgreSQL never half-close: one side done, the connection is done
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            self._tasks.difference_update(pipes)
            for end in (writer, up_writer):
                self._live.discard(end)
                end.transport.abort()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(CHUNK):
                sink.write(data)
                await sink.drain()
        except OSError:  # reset or aborted: the connection is over
            return
