"""Settings, from the environment only (``WARMLINE_*``); secrets never come from files in git."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

from ivr.records.database import database_url


class Settings(BaseSettings):
    """Everything a ``warmline serve`` or ``warmline worker`` process needs to know about its
    environment."""

    model_config = SettingsConfigDict(env_prefix="WARMLINE_", extra="ignore")

    deployment: str = "warmline.yaml"
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="The base URL Twilio calls (behind a proxy: the proxy's); signatures use it.",
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("WARMLINE_TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN"),
    )
    twilio_account_sid: str | None = Field(
        default=None,
        validation_alias=AliasChoices("WARMLINE_TWILIO_ACCOUNT_SID", "TWILIO_ACCOUNT_SID"),
    )
    redis_url: str | None = Field(
        default=None, description="Unset: use 127.0.0.1:6379 if listening, else an embedded Redis."
    )
    whisper_model: str | None = Field(
        default=None,
        description="Whisper for spoken (voice) answers and for workers: an official name "
        "(tiny.en, base.en…) under models/whisper/, or a checkpoint path. Unset: voice questions "
        "use the keypad, and workers use base.en.",
    )
    intent_model: str | None = Field(
        default="models/intent",
        description="The intent classifier's folder, loaded at start-up when it exists. Without "
        "it (or set empty) score steps score from the answers alone.",
    )
    whisper_processes: int = 1
    whisper_threads: int | None = None
    voice_wait_s: float = Field(
        default=2.5, description="How long a webhook holds the caller for a transcript."
    )
    voice_budget_s: float = Field(
        default=6.0, description="After this, a spoken answer falls back to the keypad."
    )
    twilio_media_basic_auth: bool = False
    data_dir: str = Field(
        default="data", description="Where the default SQLite records database lives."
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="The records database, e.g. postgresql://user:pass@host/warmline. Unset: "
        "SQLite at <data_dir>/warmline.db.",
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Operator bearer token for the REST API (/api/…): acts as an admin. Unset: "
        "only users' own API tokens (warmline users token create) are accepted.",
    )
    web_trust_forwarded_for: bool = Field(
        default=False,
        description="Behind a reverse proxy: take the sign-in client's address from the last "
        "X-Forwarded-For entry (the one the proxy added) for login throttling. Off: the peer.",
    )
    web_session_idle_s: int = Field(
        default=8 * 3600, ge=60, description="A web session unused this long ends."
    )
    web_session_max_s: int = Field(
        default=24 * 3600, ge=60, description="A web session ends this long after sign-in."
    )
    host: str = "127.0.0.1"
    port: int = 8080
    call_ttl_s: int = 6 * 3600
    shutdown_grace_s: float = 10.0
    drain_s: float = Field(
        default=0.0,
        ge=0,
        le=300,
        description="On SIGTERM, keep serving this long with /readyz answering 503 before "
        "closing the listener, so load balancers with active health checks stop sending first.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token required by GET /metrics (servers and workers); unset: "
        "/metrics answers anyone who reaches it, so keep it on the internal network.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: one readable line per record; json: one object."
    )

    # -- workers (``warmline worker``): full call recordings -----------------------------------
    recordings_dir: str = Field(
        default="recordings",
        description="The local recording store: YYYY/MM/DD/<CallSid>/<RecordingSid>.wav and "
        "<RecordingSid>.transcript.json under it.",
    )
    recording_fetch_attempts: int = Field(
        default=20, ge=1, description="Downloads tried per job attempt (a fresh recording 404s)."
    )
    recording_fetch_retry_s: float = Field(
        default=0.1, ge=0, description="First wait between downloads; doubles, capped at 10x."
    )
    worker_concurrency: int = Field(default=1, ge=1, description="Jobs a worker holds at once.")
    worker_max_attempts: int = Field(default=5, ge=1, description="Attempts before dead letters.")
    worker_visibility_timeout_s: float = Field(
        default=60.0, gt=0, description="How long a silent worker keeps its jobs."
    )
    worker_handler_timeout_s: float = Field(
        default=900.0, ge=0, description="A job running longer fails (0: no limit)."
    )
    worker_retry_base_s: float = Field(
        default=2.0, ge=0, description="Wait before the second attempt; doubles per attempt."
    )
    worker_retry_max_s: float = Field(default=600.0, ge=0, description="Longest retry wait.")
    worker_poll_ms: int = Field(
        default=2000, ge=1, description="Longest wait for new work (also bounds a stop)."
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve the worker's Prometheus metrics on this port (unset: not served).",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="The interface the worker's metrics listen on."
    )

    @property
    def public_base(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def records_url(self) -> URL:
        configured = self.database_url.get_secret_value() if self.database_url else None
        return database_url(configured, self.data_dir)
