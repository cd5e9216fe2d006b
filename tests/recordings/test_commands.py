"""``warmline worker``, ``warmline jobs`` and ``warmline models fetch`` failing the way an operator
needs: exit 1, one clear line saying what to do, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.services import free_port, warmline

pytestmark = pytest.mark.e2e


def test_worker_without_weights_names_the_fetch_command(tmp_path: Path) -> None:
    result = warmline(
        "worker",
        env={"WARMLINE_WHISPER_MODEL": "tiny.en", "WARMLINE_WHISPER_ROOT": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "Whisper weights 'tiny.en' not found" in result.stderr
    assert "`warmline models fetch whisper tiny.en`" in result.stderr
    assert str(tmp_path / "tiny.en.pt") in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_worker_default_model_is_base_en(tmp_path: Path) -> None:
    result = warmline("worker", env={"WARMLINE_WHISPER_ROOT": str(tmp_path)})
    assert result.returncode == 1
    assert "`warmline models fetch whisper base.en`" in result.stderr


def test_worker_with_media_basic_auth_needs_the_account_credentials() -> None:
    result = warmline("worker", env={"WARMLINE_TWILIO_MEDIA_BASIC_AUTH": "true"})
    assert result.returncode == 1
    assert "WARMLINE_TWILIO_ACCOUNT_SID and WARMLINE_TWILIO_AUTH_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_refuses_bad_settings() -> None:
    result = warmline("worker", env={"WARMLINE_WORKER_MAX_ATTEMPTS": "0"})
    assert result.returncode == 1
    assert "invalid settings in the environment" in result.stderr
    assert "worker_max_attempts" in result.stderr


def test_models_fetch_without_network_fails_fast(tmp_path: Path) -> None:
    # Every download goes through a proxy that refuses connections: offline, deterministically
    # (a machine with internet access must not download 75 MB here).
    proxy = f"http://127.0.0.1:{free_port()}"
    root = tmp_path / "whisper"
    started = time.monotonic()
    result = warmline(
        "models", "fetch", "whisper", "tiny.en", "--root", str(root), "--timeout", "5",
        env={"HTTPS_PROXY": proxy, "https_proxy": proxy},
    )  # fmt: skip
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    message = result.stderr.strip()
    assert message.startswith("warmline: could not download Whisper 'tiny.en' from https://")
    assert f"cannot connect to 127.0.0.1:{proxy.rsplit(':', 1)[1]}" in message
    fetched_elsewhere = "(fetched elsewhere with `warmline models fetch whisper tiny.en`)"
    assert f"copy tiny.en.pt {fetched_elsewhere} into {root}/" in message
    assert "Traceback" not in message and len(message.splitlines()) == 1
    assert not root.exists() or not any(root.iterdir())


def test_models_fetch_an_unknown_name() -> None:
    result = warmline("models", "fetch", "whisper", "tiny.xx")
    assert result.returncode == 1
    assert "unknown Whisper model 'tiny.xx'; available: tiny.en, tiny, base.en" in result.stderr


def test_jobs_without_redis_says_so() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = warmline("jobs", env={"WARMLINE_REDIS_URL": url})
    assert result.returncode == 1
    assert result.stderr.startswith(f"warmline: cannot read the queue from {url}: ")
    assert "Traceback" not in result.stderr


def test_jobs_hides_the_redis_password() -> None:
    url = f"redis://user:s3cret@127.0.0.1:{free_port()}/0"
    result = warmline("jobs", "--json", env={"WARMLINE_REDIS_URL": url})
    assert result.returncode == 1
    assert "s3cret" not in result.stderr and "user:***@127.0.0.1" in result.stderr
