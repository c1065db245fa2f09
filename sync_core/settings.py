"""Settings from the environment and ``.env``; names kept from the system catalog-sync replaces.

Never instantiated at import time: call :func:`load_settings` (or build ``Settings(...)`` in tests).
"""

from __future__ import annotations

import re
from decimal import Decimal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sync_core.errors import ConfigError

PLACEHOLDER_SECRETS = {"changeme", "change-me", "changethis", "your-token", "your-key", "xxx", "secret"}
DEFAULT_DATABASE_URL = "sqlite:///var/catalog-sync.db"


class Settings(BaseSettings):
    """Everything the engine reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    anar360_base: str = Field("", description="Anar360 API base URL, e.g. https://api.anar360.com/api/360")
    anar360_token: SecretStr | None = Field(None, description="Anar360 bearer token")
    sazito_base: str = Field("", description="Sazito store API base, e.g. https://shop.example.com/api/v1")
    sazito_key: SecretStr | None = Field(None, description="Sazito X-API-KEY")

    fever_provider_url: str = Field(
        "", description="Fever events feed: an http(s):// URL, or file:///path for a saved answer"
    )
    event_sync_schedule: str = Field(
        "0 * * * *", description="Cron of the sync-events/fever-hourly deployment (applied by `deploy`)"
    )

    http_timeout: float = Field(15.0, gt=0, le=300, description="Seconds before one HTTP call times out")
    http_retries: int = Field(4, ge=0, le=10, description="Retries per request for transient failures")
    http_retry_backoff_ms: int = Field(
        200, ge=0, le=60_000, description="First backoff step; doubles, with jitter"
    )
    http_retry_max_wait_s: float = Field(
        30.0, gt=0, le=600, description="Longest single wait, Retry-After included"
    )
    http_deadline_s: float = Field(
        120.0, gt=0, le=3600, description="Longest time one request may take in all: retries, waits and body"
    )
    http_concurrency: int = Field(
        4, ge=1, le=32, description="Parallel write requests per run (within pacing)"
    )
    rate_limit_per_min: int = Field(240, ge=1, le=100_000, description="Default request budget per provider")
    anar360_rate_limit_per_min: int | None = Field(None, ge=1, le=100_000, description="Anar360 override")
    sazito_rate_limit_per_min: int | None = Field(None, ge=1, le=100_000, description="Sazito override")
    use_prefect_rate_limits: bool = Field(
        False, description="Also take a slot of the Prefect global limit '<provider>-requests' per request"
    )

    circuit_failure_threshold: int = Field(5, ge=1, le=1000, description="Failures in the window that open")
    circuit_window_s: float = Field(60.0, gt=0, description="Window in which failures are counted")
    circuit_cooldown_s: float = Field(30.0, gt=0, description="Open time before a half-open probe")

    sync_page_limit: int = Field(100, ge=1, le=100, description="Anar360 page size asked for")
    sync_pages_per_batch: int = Field(
        10, ge=1, le=100, description="Supplier pages fetched (concurrently) and pushed per Prefect task"
    )
    sync_max_pages: int = Field(
        10_000, ge=1, description="Most pages one listing may have when the provider reports no total"
    )
    sync_since_ms: int = Field(
        3_600_000, description="Incremental window (ms back from now) when no cursor exists yet; sign ignored"
    )
    sync_overlap_ms: int = Field(
        120_000, ge=0, description="Overlap of each incremental window with the last"
    )
    sazito_page_size: int = Field(100, ge=1, le=100, description="Sazito catalogue page size asked for")
    sazito_price_multiplier: Decimal = Field(Decimal(1), gt=0, description="Supplier price × this")
    sazito_price_markup_percent: Decimal = Field(Decimal(0), ge=-100, description="… then + this percent")
    sazito_match_by_title: bool = Field(False, description="Link variants by normalised title + attributes")
    create_missing_products: bool = Field(False, description="Create unlinked supplier products in Sazito")

    plausible_price_max: Decimal = Field(
        Decimal(10**12), gt=0, description="A source price above this is quarantined as implausible"
    )
    plausible_stock_max: int = Field(
        1_000_000, ge=1, description="A source stock above this is quarantined as implausible"
    )

    feed_deadline_s: float = Field(
        600.0, gt=0, le=86_400, description="Longest time the events feed download may take in all"
    )
    feed_max_mb: int = Field(512, ge=1, le=100_000, description="Largest events feed accepted, in MiB")

    run_lease_ttl_s: float = Field(
        60.0, ge=5, le=3600, description="A run's lease lapses this long after its process stops renewing it"
    )
    run_lease_wait_s: float = Field(
        600.0, ge=0, le=86_400, description="How long a run waits for another run of its pipeline to end"
    )

    failure_max_attempts: int = Field(5, ge=1, le=100, description="Replays before a failure is dead")
    failure_retry_base_s: int = Field(60, ge=0, description="First replay delay; doubles per attempt")

    audit_bodies: bool = Field(False, description="Store request/response bodies in external_requests")
    audit_body_max_chars: int = Field(2000, ge=0, le=100_000, description="Truncate stored bodies to this")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="sqlite:///path or postgresql+psycopg://...")
    log_file: str = Field(
        "var/catalog-sync.log",
        description="Where runs started from the command line also write their full log (empty: nowhere)",
    )

    notify_webhook_url: str = Field("", description="Webhook the operations automations POST alerts to")
    notify_block: str = Field(
        "", description="Existing Prefect notification block for alerts, as <block-type-slug>/<name>"
    )
    stale_sync_alert_s: int = Field(
        3600, ge=60, le=7 * 86400, description="Alert when no incremental sync completed for this long"
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        value = value.strip()
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        if not value.startswith(("sqlite:", "postgresql+psycopg:")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return value

    @field_validator("fever_provider_url")
    @classmethod
    def _feed_url(cls, value: str) -> str:
        return _url(value.strip(), ("http", "https", "file"))

    @field_validator("event_sync_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value.split(" ")) != 5:
            raise ValueError("must be a cron expression of 5 fields, e.g. '0 * * * *'")
        return value

    @field_validator("notify_block")
    @classmethod
    def _block_reference(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"[a-z0-9-]+/[\w-]+", value):
            raise ValueError("must be <block-type-slug>/<block-name>, e.g. slack-webhook/ops-alerts")
        return value

    @field_validator("notify_webhook_url")
    @classmethod
    def _webhook(cls, value: str) -> str:
        return _url(value.strip(), ("http", "https"))

    @field_validator("anar360_base", "sazito_base")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return _url(value.strip().rstrip("/"), ("http", "https"))

    @field_validator("anar360_token", "sazito_key")
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder; set the real secret")
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    def rate_limit_for(self, provider: str) -> int:
        """Requests per minute allowed to ``provider``."""
        override = {"anar360": self.anar360_rate_limit_per_min, "sazito": self.sazito_rate_limit_per_min}
        return override.get(provider) or self.rate_limit_per_min

    def require(self, *names: str) -> None:
        """Raise ConfigError naming every listed setting that is empty."""
        missing = [name.upper() for name in names if not getattr(self, name)]
        if missing:
            raise ConfigError(f"missing setting: {', '.join(missing)} (set it in the environment or .env)")


def _url(value: str, schemes: tuple[str, ...]) -> str:
    """``value`` if it is empty or starts with one of ``schemes`` + ``://``; else ValueError naming them."""
    prefixes = [f"{scheme}://" for scheme in schemes]
    if value and not value.startswith(tuple(prefixes)):
        raise ValueError(f"must be an {', '.join(prefixes[:-1])} or {prefixes[-1]} URL")
    return value


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise ConfigError with a one-line reason when they are invalid."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(f"invalid setting {name}: {first['msg']}") from None
