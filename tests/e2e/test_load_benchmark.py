"""The load generator itself, small: two real servers sharing Redis and PostgreSQL.

``benchmarks/load.py`` is run on demand for the figures in ``docs/reliability.md``; this keeps
it working, and checks on every run what it checks at scale: every call completes across two
processes, and each is recorded and billed exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import POSTGRES_ADMIN_URL
from tests.support.services import ROOT

pytestmark = pytest.mark.integration

CALLS = 16


def test_sixteen_calls_across_two_servers_complete_and_are_billed_once(
    redis_url: str, tmp_path: Path
) -> None:
    figures = tmp_path / "load.json"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "load.py"),
        f"--calls={CALLS}",
        "--concurrency=8",
        "--think-ms=50",
        "--talk-ms=50",
        "--records-wait-s=60",
        f"--redis-url={redis_url}",
        "--postgres-url=" + os.environ.get("WARMLINE_TEST_POSTGRES_URL", POSTGRES_ADMIN_URL),
        f"--json={figures}",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(figures.read_text())
    assert (result["completed"], result["failed"]) == (CALLS, 0)
    records = result["records"]
    assert records["ok"] and records["calls"] == records["billing_lines"] == CALLS
    assert 0 < records["billable"] < CALLS  # the mix holds transfers and call-backs
    assert {
        "/twilio/voice",
        "/twilio/gather",
        "/twilio/dial",
        "/twilio/whisper",
        "/twilio/whisper-reply",
        "/twilio/status",
        "/twilio/officer-status",
    } <= set(result["by_path"])
    assert {"server 1", "server 2"} <= {row["process"] for row in result["processes"]}
