"""Real services for the tests: Redis, and ``warmline serve`` as separate processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 32
NO_INTENT_MODEL = ""
"""Servers and commands run without the intent classifier unless a test gives one: scenarios
expect the answers-only scores whatever a developer has trained into ``models/intent``."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ManagedProcess:
    """A ``python -m ivr …`` process whose output goes to a log file."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@dataclass
class ServerProcess(ManagedProcess):
    """One ``warmline serve`` process on a local port."""

    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_server(
    redis_url: str,
    public_url: str | None,
    workdir: Path,
    deployment: Path = ROOT / "warmline.yaml",
    extra_env: Mapping[str, str] | None = None,
) -> ServerProcess:
    """Start ``python -m ivr serve`` and wait until it answers ``/healthz``."""
    port = free_port()
    env = {
        **os.environ,
        "WARMLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "WARMLINE_PUBLIC_URL": public_url or f"http://127.0.0.1:{port}",
        "WARMLINE_REDIS_URL": redis_url,
        "WARMLINE_DEPLOYMENT": str(deployment),
        "WARMLINE_PORT": str(port),
        "WARMLINE_INTENT_MODEL": NO_INTENT_MODEL,
        "WARMLINE_DATA_DIR": str(workdir / "data"),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    log_path = workdir / f"server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ivr", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(process, log_path, port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(f"{server.url}/healthz", timeout=1) as response,
        ):
            if response.status == 200:
                return server
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not become healthy:\n{server.log()}")


@contextlib.contextmanager
def test_redis_url() -> Iterator[str]:
    """A Redis database for tests: db 15 of the local server, else an embedded server."""
    from ivr.redis_server import embedded_redis, is_listening

    configured = os.environ.get("WARMLINE_TEST_REDIS_URL")
    if configured:
        yield configured
    elif is_listening("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/15"
    else:
        with embedded_redis(port=free_port()) as url:
            yield url


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any Warmline, Twilio or proxy setting (and so without
    the intent model) but the records' data folder, plus ``extra``."""
    dropped = ("WARMLINE_", "TWILIO_")
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(dropped) and k.lower() not in proxies
    }
    records = os.environ.get("WARMLINE_DATA_DIR")  # the tests' temp folder (tests/conftest.py)
    return {
        **clean,
        "PYTHONUNBUFFERED": "1",
        "WARMLINE_INTENT_MODEL": NO_INTENT_MODEL,
        **({"WARMLINE_DATA_DIR": records} if records else {}),
        **(extra or {}),
    }


def warmline(
    *args: str, env: Mapping[str, str] | None = None, stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m ivr ARGS`` from the repository root, as a user runs it (``stdin`` typed)."""
    return subprocess.run(
        [sys.executable, "-m", "ivr", *args],
        cwd=ROOT,
        env=clean_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
