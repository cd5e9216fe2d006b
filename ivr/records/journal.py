"""The webhook side of the records: append to a Redis stream, never touch SQL.

Three kinds of entry reach the ``warmline:records`` stream:

- ``state`` — a call-state snapshot, added by :class:`~ivr.telephony.call_store.CallStore` in
  the same Lua script that stores the state, with the store's version as its ``revision``;
- ``callback`` — a carrier callback's parameters (status, officer leg, recording), with the
  ``I-Twilio-Idempotency-Token`` header, added before the callback is answered;
- ``transcript`` — a finished recording transcript, added by the worker before it marks the
  job done.

An entry is in Redis before Twilio gets its answer, so a process that dies afterwards loses
nothing; recorders (:mod:`ivr.records.recorder`) apply entries idempotently, so one delivered
twice — by the carrier or by the queue — counts once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal

from redis.asyncio import Redis

RECORDS_STREAM: Final = "warmline:records"
RECORDS_GROUP: Final = "recorders"
IDEMPOTENCY_HEADER: Final = "I-Twilio-Idempotency-Token"

EntryKind = Literal["state", "callback", "transcript"]
CallbackSource = Literal["status", "officer-status", "officer-reply", "recording-status"]
"""Where a callback came from; ``officer-reply``: the officer took the call at the whisper."""


class RecordJournal:
    """Adds ``callback`` and ``transcript`` entries (``state`` entries come with the state)."""

    def __init__(self, redis: Redis, stream: str = RECORDS_STREAM) -> None:
        self._redis = redis
        self.stream = stream

    async def callback(
        self, source: CallbackSource, params: Mapping[str, Any], token: str | None
    ) -> None:
        body = {str(k): str(v) for k, v in params.items()}
        await self._add(
            {
                "kind": "callback",
                "source": source,
                "call_sid": body.get("ParentCallSid") or body.get("CallSid", ""),
                "token": token or "",
                "body": json.dumps(body, ensure_ascii=False, sort_keys=True),
            }
        )

    async def transcript(self, call_sid: str, document: Mapping[str, Any]) -> None:
        body = json.dumps(document, ensure_ascii=False, sort_keys=True)
        await self._add({"kind": "transcript", "call_sid": call_sid, "body": body})

    async def _add(self, entry: dict[str, str]) -> None:
        await self._redis.xadd(self.stream, entry)  # type: ignore[arg-type]
