"""What a worker is handed: one delivery of one job, and what is left of a job that gave up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Fields the queue keeps in a stream entry for itself; a job's own fields may not use them.
KEY_FIELD = "_key"
ATTEMPTS_FIELD = "_attempts"
ERROR_FIELD = "_error"
ID_FIELD = "_id"
RESERVED_FIELDS = frozenset({KEY_FIELD, ATTEMPTS_FIELD, ERROR_FIELD, ID_FIELD})


def text(value: bytes | str | int | float) -> str:
    """Redis replies are bytes or str depending on ``decode_responses``; the queue speaks str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class PermanentJobError(Exception):
    """Raised by a handler when no retry can help (the job itself is malformed): the job goes
    to the dead letters at once instead of using up its attempts."""


@dataclass(frozen=True)
class Job:
    """One delivery of a job to one consumer.

    ``id`` is the stream entry being delivered; it changes when a failed job is re-added for a
    retry. ``key`` does not: it names the job across retries and re-deliveries, so it is what
    idempotent results are keyed by. ``attempt`` counts from 1 and includes deliveries that a
    crashed worker never finished.
    """

    id: str
    key: str
    fields: Mapping[str, str]
    attempt: int
    consumer: str
    last_error: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    """A job that used up its attempts, as kept in the dead-letter stream."""

    id: str
    key: str
    job_id: str
    fields: Mapping[str, str]
    attempts: int
    error: str


def split_fields(
    pairs: Iterable[tuple[bytes | str, bytes | str]],
) -> tuple[dict[str, str], dict[str, str]]:
    """A stream entry's fields → (the job's own fields, the queue's reserved fields)."""
    own: dict[str, str] = {}
    reserved: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name, value = text(raw_name), text(raw_value)
        (reserved if name in RESERVED_FIELDS else own)[name] = value
    return own, reserved


def flat_pairs(flat: list[bytes | str]) -> list[tuple[bytes | str, bytes | str]]:
    """``[k1, v1, k2, v2]`` (as Lua returns an entry) → ``[(k1, v1), (k2, v2)]``."""
    return list(zip(flat[::2], flat[1::2], strict=True))


def make_job(
    entry_id: str, pairs: Iterable[tuple[bytes | str, bytes | str]], attempt: int, consumer: str
) -> Job:
    own, reserved = split_fields(pairs)
    return Job(
        id=entry_id,
        key=reserved.get(KEY_FIELD, entry_id),
        fields=own,
        attempt=attempt,
        consumer=consumer,
        last_error=reserved.get(ERROR_FIELD),
    )


def prior_attempts(reserved: Mapping[str, str]) -> int:
    """Attempts used up before this stream entry was added (0 for a job never retried)."""
    try:
        return int(reserved.get(ATTEMPTS_FIELD, "0"))
    except ValueError:
        return 0
