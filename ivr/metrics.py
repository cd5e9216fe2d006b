"""The Prometheus metrics of a server and of a worker, each in its own registry.

A registry per process role (never prometheus_client's global one), so in-process tests can run
several applications side by side. Labels are always bounded sets chosen by the code or the
deployment (outcomes, route paths, queue names): never a phone number, a CallSid or a raw URL.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis

from ivr.jobs.queue import JobQueue

WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
"""Up to Twilio's 15-second limit on a webhook."""

TRANSCRIPTION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0)
"""From a one-word spoken answer to a long call recording."""

QUEUE_STATES = ("depth", "pending", "delayed", "dead")
CONTENT_TYPE = CONTENT_TYPE_LATEST


def transcription_histogram(registry: CollectorRegistry) -> Histogram:
    """Whisper wall time per transcription; ``path``: ``answer`` (a spoken answer during the
    call, in the server) or ``recording`` (a whole call recording, in a worker)."""
    return Histogram(
        "warmline_transcription_seconds",
        "Seconds to transcribe audio with Whisper, by path (answer or recording).",
        ["path"],
        buckets=TRANSCRIPTION_BUCKETS,
        registry=registry,
    )


class ServerMetrics:
    """What ``warmline serve`` exposes at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.calls = Counter(
            "warmline_calls",
            "Calls that ended, by outcome; each call counted once, when its end is stored.",
            ["outcome"],
            registry=reg,
        )
        self.webhook_seconds = Histogram(
            "warmline_webhook_seconds",
            "HTTP handling time, by route (the path pattern) and status class (2xx…5xx).",
            ["endpoint", "status"],
            buckets=WEBHOOK_BUCKETS,
            registry=reg,
        )
        self.in_flight = Gauge(
            "warmline_webhooks_in_flight", "HTTP requests being handled now.", registry=reg
        )
        self.routing_decisions = Counter(
            "warmline_routing_decisions",
            "Routing decisions, by result (officer, ping_post_winner, overflow, nobody, "
            "repeat_caller).",
            ["result"],
            registry=reg,
        )
        self.transcription_seconds = transcription_histogram(reg)
        self.records_written = Counter(
            "warmline_records_written",
            "Records journal entries applied to the records database by this server.",
            registry=reg,
        )
        self.queue_depth = Gauge(
            "warmline_queue_depth",
            "Jobs in a Redis queue by state, read at scrape time (recordings: the workers' "
            "transcription jobs; records: the journal the recorders write to the database).",
            ["queue", "state"],
            registry=reg,
        )
        self.redis_up = Gauge(
            "warmline_redis_up", "1 when Redis answered at the last scrape.", registry=reg
        )
        self.ready = Gauge(
            "warmline_ready", "1 when the last readiness check passed (/readyz).", registry=reg
        )
        self.dni_leases = Counter(
            "warmline_dni_leases",
            "Web number pool answers, by campaign and outcome (leased, renewed, exhausted, "
            "limited: the client address asked too often).",
            ["campaign", "outcome"],
            registry=reg,
        )
        self.dni_pool_exhausted = Counter(
            "warmline_dni_pool_exhausted",
            "Web visits shown the campaign's default number because its pool was all on lease.",
            ["campaign"],
            registry=reg,
        )

    def call_ended(self, outcome: str | None) -> None:
        self.calls.labels(outcome=outcome or "unknown").inc()

    async def read_queues(self, redis: Redis, queues: dict[str, tuple[str, str]]) -> None:
        """Set the queue gauges from Redis: ``queues`` maps a label to (stream, group)."""
        for name, (stream, group) in queues.items():
            stats = (await JobQueue(redis, stream, group).stats()).as_dict()
            for state in QUEUE_STATES:
                self.queue_depth.labels(queue=name, state=state).set(int(stats[state]))


class WorkerMetrics:
    """What ``warmline worker`` exposes on ``--metrics-port``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.transcription_seconds = transcription_histogram(self.registry)


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus's text format."""
    return generate_latest(registry)
