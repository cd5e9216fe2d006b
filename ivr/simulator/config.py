"""How the fake carrier is set up: the phone number's webhooks and the fault-injection switches."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class CarrierConfig:
    """The phone number's configuration as Twilio holds it, plus simulator switches.

    backends: base URLs the requests really go to, round-robin per request, while the signature
    covers the public URL (several app processes behind one load balancer); None sends to the
    public URL itself. Only URLs on the voice URL's origin are rerouted.
    status_callback_events: the number's callback fires only "completed" on Twilio; "ringing"
    and "answered" can be added to exercise ordering and deduplication.
    fallback_on_action_errors: whether a failed action/redirect fetch (not only the first voice
    request) goes to fallback_url; the reference leaves this open.
    silent_recording_skips_action: the older documented <Record> behaviour (no action request for
    an empty recording, continue with the next verb) instead of posting RecordingDuration=0.
    idempotency_token_reuse: whether a retry or a duplicated status callback carries the same
    I-Twilio-Idempotency-Token as the first attempt (Twilio does not say).
    duplicate_rate: with duplicate_status_callbacks, the share of callbacks sent twice, drawn
    from the seeded random source (1.0: every one).
    scramble_recording_callbacks: recording status callbacks are duplicated and shuffled like
    the status callbacks (Twilio delivers both kinds over the same unordered, at-least-once path).
    clock: wall-clock seconds (epoch) at the start of each call; the call's own time then advances
    by the simulated media (see `Call`), so durations are deterministic.
    seed: seeds CallSid/RecordingSid generation and the shuffle order.
    max_requests_per_call: cap on TwiML fetches (voice, actions, redirects, fallback, whisper) so a
    looping app cannot hang a test; callbacks are not counted.
    """

    account_sid: str
    auth_token: str
    voice_url: str
    voice_method: Literal["GET", "POST"] = "POST"
    status_callback_url: str | None = None
    status_callback_method: Literal["GET", "POST"] = "POST"
    status_callback_events: frozenset[str] = frozenset({"completed"})
    fallback_url: str | None = None
    fallback_method: Literal["GET", "POST"] = "POST"
    fallback_on_action_errors: bool = True
    backends: list[str] | None = None
    duplicate_status_callbacks: bool = False
    shuffle_status_callbacks: bool = False
    duplicate_rate: float = 1.0
    scramble_recording_callbacks: bool = False
    idempotency_token_reuse: bool = False
    silent_recording_skips_action: bool = False
    request_timeout_s: float = 15.0
    max_requests_per_call: int = 200
    media_basic_auth: bool = False
    media_unavailable_ms: int = 0
    media_mp3: Literal["reject", "wav"] = "reject"
    clock: Callable[[], float] = field(default=time.time)
    seed: int | None = None
    connection_limit: int = 0  # aiohttp connector limit; 0 = unlimited (load tests)
