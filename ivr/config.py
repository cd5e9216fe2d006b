"""Settings, from the environment only (``WARMLINE_*``); secrets never come from files in git."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a ``warmline serve`` process needs to know about its environment."""

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
        description="Whisper for spoken (voice) answers: an official name (tiny.en, base.en…) "
        "under models/whisper/, or a checkpoint path. Unset: voice questions use the keypad.",
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
    host: str = "127.0.0.1"
    port: int = 8080
    call_ttl_s: int = 6 * 3600
    shutdown_grace_s: float = 10.0

    @property
    def public_base(self) -> str:
        return self.public_url.rstrip("/")
