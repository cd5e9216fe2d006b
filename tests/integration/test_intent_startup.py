"""The intent model at server start-up: loaded once when its folder is there; without it, or when
it cannot be loaded, the server says so and calls still score from their answers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

import ivr.qualifier
from ivr.config import Settings
from ivr.deployment import load_setup
from ivr.server.app import WEBHOOKS, create_app
from tests.support.services import AUTH_TOKEN, ROOT

pytestmark = pytest.mark.integration


def app_with_model(folder: str, redis_url: str) -> web.Application:
    settings = Settings(  # type: ignore[call-arg]
        twilio_auth_token=AUTH_TOKEN, public_url="https://ivr.example.test", intent_model=folder
    )
    return create_app(settings, load_setup(ROOT / "warmline.yaml"), redis_url)


async def test_without_the_model_folder_the_server_warns_and_scores_from_answers(
    redis: Redis, redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_with_model(str(tmp_path / "intent"), redis_url)
    with caplog.at_level(logging.INFO, logger="ivr.qualifier"):
        async with TestServer(app):
            assert app[WEBHOOKS].qualifier.loaded is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "flows score calls but no intent model is loaded; scores use the answers only"
    ]


async def test_a_model_that_cannot_be_loaded_is_logged_and_calls_go_on(
    redis: Redis,
    redis_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(folder: str | Path) -> ivr.qualifier.IntentModel:
        raise OSError(f"no weights in {folder}")

    monkeypatch.setattr(ivr.qualifier, "load_classifier", broken)
    app = app_with_model(str(tmp_path), redis_url)
    async with TestServer(app):
        assert app[WEBHOOKS].qualifier.loaded is False
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "intent model could not be loaded; scores use the answers only"
    ]
    assert errors[0].exc_info is not None and "no weights in" in str(errors[0].exc_info[1])


async def test_the_model_is_loaded_once_at_start_up_for_every_webhook(
    redis: Redis, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[str] = []
    sentinel = object()

    def load(folder: str | Path) -> ivr.qualifier.IntentModel:
        loaded.append(str(folder))
        return sentinel  # type: ignore[return-value]

    monkeypatch.setattr(ivr.qualifier, "load_classifier", load)
    app = app_with_model(str(tmp_path), redis_url)
    async with TestServer(app):
        assert app[WEBHOOKS].qualifier.classifier is sentinel
    assert loaded == [str(tmp_path)]
    assert app[WEBHOOKS].qualifier.loaded is False  # released at shutdown
