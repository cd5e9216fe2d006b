"""A fake Twilio: places inbound calls against a TwiML web app over real HTTP.

`Carrier` owns what calls share (one aiohttp session, the recordings media server, the backend
rotation), so hundreds of concurrent `place_call`s cost one connection pool. `place_call()` is the
one-shot form for a single call. Each call is run by `ivr.simulator.call.Call`.

    async with Carrier(CarrierConfig(account_sid=..., auth_token=..., voice_url=...)) as carrier:
        record = await carrier.place_call(ScriptedCaller([{"digits": "1"}]),
                                          from_number="+15125550100", to_number="+18005550199")
"""

from __future__ import annotations

import random
from types import TracebackType

import aiohttp

from ivr.simulator.call import Call
from ivr.simulator.caller import Caller
from ivr.simulator.config import CarrierConfig
from ivr.simulator.media import MediaServer
from ivr.simulator.model import CallGeo, CallRecord
from ivr.simulator.webhooks import Transport

__all__ = ["Carrier", "CarrierConfig", "place_call"]


class Carrier:
    """Shared state for many calls; use as an async context manager."""

    def __init__(
        self,
        config: CarrierConfig,
        *,
        session: aiohttp.ClientSession | None = None,
        media: MediaServer | None = None,
    ) -> None:
        self.config = config
        self._session = session
        self._own_session = session is None
        self._media = media
        self._own_media = media is None
        self._transport: Transport | None = None
        self._rng = random.Random(config.seed)  # noqa: S311 - simulation ids, not secrets

    @property
    def media(self) -> MediaServer:
        if self._media is None:
            raise RuntimeError("the carrier is not started; use `async with Carrier(...)`")
        return self._media

    async def __aenter__(self) -> Carrier:
        cfg = self.config
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=cfg.connection_limit),
                cookie_jar=aiohttp.DummyCookieJar(),  # cookies are kept per call, like Twilio
            )
        if self._media is None:
            self._media = MediaServer(
                cfg.account_sid,
                auth_token=cfg.auth_token if cfg.media_basic_auth else None,
                unavailable_ms=cfg.media_unavailable_ms,
                mp3=cfg.media_mp3,
            )
            await self._media.start()
        self._transport = Transport(
            self._session,
            auth_token=cfg.auth_token,
            public_url=cfg.voice_url,
            backends=cfg.backends,
            timeout_s=cfg.request_timeout_s,
            token_reuse=cfg.idempotency_token_reuse,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._own_media and self._media is not None:
            await self._media.stop()
            self._media = None
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
        self._transport = None

    async def place_call(
        self,
        caller: Caller,
        *,
        from_number: str,
        to_number: str,
        geo: CallGeo | None = None,
    ) -> CallRecord:
        """Run one inbound call to the configured number until it ends; return what happened."""
        if self._transport is None:
            raise RuntimeError("the carrier is not started; use `async with Carrier(...)`")
        call = Call(
            config=self.config,
            transport=self._transport,
            media=self.media,
            rng=self._rng,
            caller=caller,
            from_number=from_number,
            to_number=to_number,
            geo=geo or CallGeo(),
        )
        return await call.run()


async def place_call(
    config: CarrierConfig,
    caller: Caller,
    *,
    from_number: str,
    to_number: str,
    geo: CallGeo | None = None,
) -> CallRecord:
    """One call with a carrier of its own (its media server stops when the call returns)."""
    async with Carrier(config) as carrier:
        return await carrier.place_call(
            caller, from_number=from_number, to_number=to_number, geo=geo
        )
