"""Twilio's HTTP client side: signed form webhooks, load-balanced backends, retries and callbacks.

Signing follows the reference §f: the signed URL is the public URL without userinfo and without the
connection-override fragment, and an HTTPS URL also loses its port. With `backends`, the bytes go
to one backend after another (round-robin per request) while the signature still covers the public
URL, like several server processes behind one load balancer. Like Twilio, a request is retried once,
and only when the TCP connection fails; `token_reuse` decides whether the retry (and a duplicated
status callback) carries the first attempt's I-Twilio-Idempotency-Token.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import aiohttp
from twilio.request_validator import RequestValidator
from yarl import URL

from ivr.simulator.model import RequestRecord

FORM = "application/x-www-form-urlencoded"
USER_AGENT = "TwilioProxy/1.1"
MAX_REDIRECTS = 10

ERR_HTTP_RETRIEVAL = 11200  # non-2xx answer
ERR_CONNECTION = 11205  # connect failure or the 15 s limit
ERR_TOO_MANY_REDIRECTS = 11215


def signing_url(url: str) -> str:
    """The URL Twilio signs for a voice webhook: no userinfo, no fragment, no port on HTTPS."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if parts.scheme == "https":
        host, colon, port = netloc.rpartition(":")
        if colon and port.isdigit() and not netloc.endswith("]"):
            netloc = host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def resolve(document_url: str, target: str) -> str:
    """Resolve a verb's (possibly relative) URL against the current document's URL."""
    return urljoin(document_url, target.strip())


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}".lower()


def with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` appended to its query string (how a GET webhook carries them)."""
    if not params:
        return url
    base, _, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    joined = f"{base}{joiner}{urlencode(params)}"
    return f"{joined}#{fragment}" if fragment else joined


def new_token() -> str:
    """A fresh I-Twilio-Idempotency-Token."""
    return str(uuid.uuid4())


@dataclass(slots=True)
class Outgoing:
    """One webhook to send. `base_params` is what a 3xx hop re-sends (no verb-specific extras)."""

    kind: str
    url: str  # public URL, absolute; may carry a connection-override fragment
    method: str
    params: dict[str, str]
    call_sid: str
    token: str
    base_params: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    status: int | None
    body: bytes
    content_type: str
    url: str  # the public URL that answered (after 3xx hops), without appended GET params
    error_code: int | None  # Twilio error code when the fetch failed
    location: str | None = None


class Transport:
    """Sends signed webhooks over one shared aiohttp session and records every attempt."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        auth_token: str,
        public_url: str,
        backends: list[str] | None,
        timeout_s: float,
        token_reuse: bool,
    ) -> None:
        self._session = session
        self._validator = RequestValidator(auth_token)
        self._public_origin = origin(public_url)
        self._backends = itertools.cycle([b.rstrip("/") for b in backends]) if backends else None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.token_reuse = token_reuse

    def sign(self, url: str, params: dict[str, str]) -> str:
        return str(self._validator.compute_signature(signing_url(url), params))

    def route(self, public_url: str) -> str:
        """Where a request for `public_url` goes: the next backend when it is the app's URL."""
        if self._backends is None or origin(public_url) != self._public_origin:
            return public_url
        parts = urlsplit(public_url)
        query = f"?{parts.query}" if parts.query else ""
        return f"{next(self._backends)}{parts.path or '/'}{query}"

    async def send(
        self,
        out: Outgoing,
        records: list[RequestRecord],
        cookies: dict[str, str] | None = None,
        *,
        follow_redirects: bool = False,
    ) -> Reply:
        """Send `out` and record every attempt; optionally follow 3xx like Twilio (up to 10)."""
        reply = await self._attempt(out, records, cookies)
        hops = 0
        while follow_redirects and reply.status in (301, 302, 303, 307, 308):
            if reply.location is None:
                return Reply(reply.status, b"", "", reply.url, ERR_HTTP_RETRIEVAL)
            hops += 1
            if hops > MAX_REDIRECTS:
                return Reply(reply.status, b"", "", reply.url, ERR_TOO_MANY_REDIRECTS)
            params = out.base_params if out.base_params is not None else out.params
            target = resolve(reply.url, reply.location)
            out = Outgoing(out.kind, target, out.method, params, out.call_sid, new_token(), params)
            reply = await self._attempt(out, records, cookies)
        return reply

    async def _attempt(
        self, out: Outgoing, records: list[RequestRecord], cookies: dict[str, str] | None
    ) -> Reply:
        reply, connect_failed = await self._once(out, records, cookies)
        if connect_failed:  # Twilio's default: one retry, on connect failure only
            token = out.token if self.token_reuse else new_token()
            retry = Outgoing(out.kind, out.url, out.method, out.params, out.call_sid, token)
            reply, _ = await self._once(retry, records, cookies)
        return reply

    async def _once(
        self, out: Outgoing, records: list[RequestRecord], cookies: dict[str, str] | None
    ) -> tuple[Reply, bool]:
        public = out.url.partition("#")[0]
        body: bytes | None = None
        if out.method == "GET":
            public = with_query(public, out.params)
            signature = self.sign(public, {})
        else:
            body = urlencode(out.params).encode()
            signature = self.sign(public, out.params)
        target = self.route(public)
        headers = {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": out.token,
            "X-Home-Region": "us1",
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
        }
        if body is not None:
            headers["Content-Type"] = FORM
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        record = RequestRecord(
            kind=out.kind,
            url=public,
            sent_to=target,
            method=out.method,
            params=dict(out.params),
            call_sid=out.call_sid,
            signature=signature,
            idempotency_token=out.token,
        )
        records.append(record)
        answered_url = out.url.partition("#")[0]
        started = time.perf_counter()
        connect_failed = False
        try:
            async with self._session.request(
                out.method,
                URL(target, encoded=True),
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout,
            ) as resp:
                raw = await resp.read()
                if cookies is not None:
                    cookies.update(_cookie_values(resp.cookies))
                record.status = resp.status
                record.elapsed_s = time.perf_counter() - started
                content_type = resp.content_type
                if not content_type.startswith("audio/"):
                    record.body = raw.decode("utf-8", "replace")
                code = ERR_HTTP_RETRIEVAL if resp.status >= 400 else None
                location = resp.headers.get("Location")
                return Reply(resp.status, raw, content_type, answered_url, code, location), False
        except TimeoutError:
            record.error = "timeout"
            code = ERR_CONNECTION
        except aiohttp.ClientConnectorError as exc:
            record.error = f"connect failed: {exc.os_error}"
            code = ERR_CONNECTION
            connect_failed = True
        except aiohttp.ClientError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            code = ERR_HTTP_RETRIEVAL
        record.elapsed_s = time.perf_counter() - started
        return Reply(None, b"", "", answered_url, code), connect_failed


def _cookie_values(jar: SimpleCookie) -> dict[str, str]:
    return {name: morsel.value for name, morsel in jar.items()}


class CallbackDispatcher:
    """Delivers a call's asynchronous callbacks without holding up the call.

    In order: one background chain per call, so callbacks arrive in firing order while the call
    goes on. Shuffled status callbacks are held and delivered in random order when the call ends.
    Duplicated status callbacks are sent twice (with the same token only if tokens are reused),
    each with probability `duplicate_rate`.
    """

    def __init__(
        self,
        transport: Transport,
        records: list[RequestRecord],
        *,
        duplicate: bool,
        shuffle: bool,
        rng: random.Random,
        duplicate_rate: float = 1.0,
    ) -> None:
        self._transport = transport
        self._records = records
        self._duplicate = duplicate
        self._duplicate_rate = duplicate_rate
        self._shuffle = shuffle
        self._rng = rng
        self._tail: asyncio.Task[None] | None = None
        self._held: list[Outgoing] = []

    def submit(self, out: Outgoing, *, status_callback: bool) -> None:
        copies = [out]
        if status_callback and self._duplicate and self._duplicated():
            token = out.token if self._transport.token_reuse else new_token()
            copies.append(Outgoing(out.kind, out.url, out.method, out.params, out.call_sid, token))
        if status_callback and self._shuffle:
            self._held.extend(copies)
            return
        for copy in copies:
            self._tail = asyncio.create_task(self._deliver_after(self._tail, copy))

    def _duplicated(self) -> bool:
        # No draw when every callback is doubled: seeded runs keep their CallSids and order.
        return self._duplicate_rate >= 1.0 or self._rng.random() < self._duplicate_rate

    async def _deliver_after(self, previous: asyncio.Task[None] | None, out: Outgoing) -> None:
        if previous is not None:
            await previous
        await self._transport.send(out, self._records)

    async def drain(self) -> None:
        """Wait for everything submitted so far, then deliver the held (shuffled) callbacks."""
        if self._tail is not None:
            await self._tail
            self._tail = None
        held, self._held = self._held, []
        self._rng.shuffle(held)
        for out in held:
            await self._transport.send(out, self._records)

    def cancel(self) -> None:
        if self._tail is not None and not self._tail.done():
            self._tail.cancel()
        self._held.clear()
