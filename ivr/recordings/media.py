"""Download a recording's audio from Twilio.

A fresh recording can answer 404 for a few seconds even after Twilio says it is ready, so a
download is retried briefly. With "HTTP Basic Authentication for media" turned on for the
account, the account SID and auth token are sent.
"""

from __future__ import annotations

import asyncio
import base64

import aiohttp


class MediaUnavailable(Exception):
    """The recording could not be fetched; the message says why (never the credentials)."""


async def fetch_recording(
    session: aiohttp.ClientSession,
    url: str,
    *,
    account_sid: str | None = None,
    auth_token: str | None = None,
    channels: int = 1,
    attempts: int = 20,
    retry_delay_s: float = 0.1,
    timeout_s: float = 30.0,
) -> bytes:
    """The WAV bytes of ``url`` (Twilio's RecordingUrl, with or without an extension)."""
    wav_url = url if url.endswith(".wav") else f"{url}.wav"
    if channels == 2:
        wav_url += "?RequestedChannels=2"
    headers = {}
    if account_sid and auth_token:
        pair = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    last = "no attempt made"
    for attempt in range(attempts):
        try:
            async with session.get(wav_url, headers=headers, timeout=timeout) as response:
                if response.status == 200:
                    return await response.read()
                last = f"HTTP {response.status}"
                if response.status != 404:
                    break
        except (aiohttp.ClientError, TimeoutError) as error:
            last = type(error).__name__
        if attempt + 1 < attempts:
            await asyncio.sleep(retry_delay_s * min(2**attempt, 10))
    raise MediaUnavailable(f"recording not available: {last}")
