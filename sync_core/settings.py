"""Settings from the environment and ``.env``; names kept from the system catalog-sync replaces.

:class:`Settings` is the engine's own settings (HTTP, pacing, circuits, runs, the state store, alerts, the
extra connections) together with the connectors' (:mod:`sync_core.connectors.settings`) and the pipelines'
(:mod:`sync_core.pipelines.settings`). Never instantiated at import time: call :func:`load_settings` (or
build ``Settings(...)`` in tests).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsError

from sync_core.connectors.settings import ConnectorSettings
from sync_core.errors import ConfigError
from sync_core.pipelines.settings import PipelineSettings
from sync_core.settings_fields import PLACEHOLDER_SECRETS, SETTINGS_CONFIG, ConnectionEntry, secret, url

__all__ = ["DEFAULT_DATABASE_URL", "PLACEHOLDER_SECRETS", "EngineSettings", "Settings", "load_settings"]

DEFAULT_DATABASE_URL = "sqlite:///var/catalog-sync.db"


class EngineSettings(BaseSettings):
    """What the engine itself reads, whatever the providers."""

    model_config = SETTINGS_CONFIG

    connections: Annotated[list[ConnectionEntry], NoDecode] = Field(
        default_factory=list,
        description=(
            "More connections than each provider's default one, as a JSON list of "
            '{"name", "provider", "base_url", "secret_env", "rate_limit_per_min"} objects'
        ),
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
    rate_limit_per_min: int = Field(
        240, ge=1, le=100_000, description="Default request budget per connection, a minute"
    )
    use_prefect_rate_limits: bool = Field(
        "auto",  # resolved by _auto_prefect_rate_limits
        validate_default=True,
        description=(
            "Share each connection's request budget between processes through the Prefect global limit "
            "'<connection>-requests' (slots taken in blocks): true, false, or auto = on when PREFECT_API_URL "
            "is set (a Prefect server is configured; Prefect's temporary server is not)"
        ),
    )

    circuit_failure_threshold: int = Field(5, ge=1, le=1000, description="Failures in the window that open")
    circuit_window_s: float = Field(60.0, gt=0, description="Window in which failures are counted")
    circuit_cooldown_s: float = Field(30.0, gt=0, description="Open time before a half-open probe")

    sync_page_limit: int = Field(100, ge=1, le=100, description="Source page size asked for")
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

    plausible_price_max: Decimal = Field(
        Decimal(10**12), gt=0, description="A source price above this is quarantined as implausible"
    )
    plausible_stock_max: int = Field(
        1_000_000, ge=1, description="A source stock above this is quarantined as implausible"
    )

    run_lease_ttl_s: float = Field(
        60.0, ge=5, le=3600, description="A run's lease lapses this long after its process stops renewing it"
    )
    run_lease_wait_s: float = Field(
        600.0, ge=0, le=86_400, description="How long a run waits for another run of its pipeline to end"
    )

    failure_max_attempts: int = Field(5, ge=1, le=100, description="Replays before a failure is dead")
    failure_retry_base_s: int = Field(60, ge=0, description="First replay delay; doubles per attempt")

    guard_max_stock_zeroed_percent: float = Field(
        20, ge=0, le=100, description="Hold a run that would take more than this % of stocked items to 0"
    )
    guard_max_price_drop_percent: float = Field(
        50, ge=0, le=100, description="A price falling by more than this % is a suspicious drop"
    )
    guard_max_price_drops_percent: float = Field(
        5, ge=0, le=100, description="Hold a run with suspicious price drops on more than this % of items"
    )
    guard_max_source_shrink_percent: float = Field(
        30,
        ge=0,
        le=100,
        description="Hold a full run whose listing shrank by more than this % since the last",
    )

    audit_bodies: bool = Field(False, description="Store request/response bodies in external_requests")
    audit_body_max_chars: int = Field(2000, ge=0, le=100_000, description="Truncate stored bodies to this")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="sqlite:///path or postgresql+psycopg://...")
    log_file: str = Field(
        "var/catalog-sync.log",
        description="Where runs started from the command line also write their full log (empty: nowhere)",
    )

    api_token: SecretStr | None = Field(
        None,
        description="Bearer token `catalog-sync serve` asks of every endpoint that changes something "
        "(compared in constant time); unset: those endpoints answer 503",
    )
    api_token_for_reads: bool = Field(
        False,
        description="Ask the API token of the read-only endpoints too (/health, /search, /products ...)",
    )

    notify_webhook_url: str = Field("", description="Webhook the operations automations POST alerts to")
    notify_block: str = Field(
        "", description="Existing Prefect notification block for alerts, as <block-type-slug>/<name>"
    )
    stale_sync_alert_s: int = Field(
        3600, ge=60, le=7 * 86400, description="Alert when no incremental sync completed for this long"
    )

    @field_validator("api_token")
    @classmethod
    def _refuse_placeholder_token(cls, value: SecretStr | None) -> SecretStr | None:
        return secret(value)

    @field_validator("connections", mode="before")
    @classmethod
    def _connections_json(cls, value: Any) -> Any:
        if isinstance(value, str | bytes):
            if not value.strip():
                return []
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"must be a JSON list of connection objects ({exc})") from None
        return value

    @field_validator("connections")
    @classmethod
    def _unique_names(cls, value: list[ConnectionEntry]) -> list[ConnectionEntry]:
        names = [entry.name for entry in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"connection names must be unique; repeated: {', '.join(repeated)}")
        return value

    @field_validator("use_prefect_rate_limits", mode="before")
    @classmethod
    def _auto_prefect_rate_limits(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word == "auto":  # where Prefect itself reads PREFECT_API_URL: the environment, then .env
            configured = os.environ.get("PREFECT_API_URL") or dotenv_values(".env").get("PREFECT_API_URL")
            return bool((configured or "").strip())
        if word not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ValueError("must be true, false or auto")
        return word

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
        return url(value.strip(), ("http", "https"))

    def require(self, *names: str) -> None:
        """Raise ConfigError naming every listed setting that is empty."""
        missing = [name.upper() for name in names if not getattr(self, name)]
        if missing:
            raise ConfigError(f"missing setting: {', '.join(missing)} (set it in the environment or .env)")


class Settings(PipelineSettings, ConnectorSettings, EngineSettings):
    """Everything catalog-sync reads from its environment: the engine's, the connectors' and the pipelines'
    settings."""

    model_config = SETTINGS_CONFIG


def refuse_unknown(prefix: str, environ: Mapping[str, str | None] | None = None) -> None:
    """ConfigError naming a variable of the environment or ``.env`` that starts with ``prefix`` (a provider's
    ``<PROVIDER>_``) but is no setting: a misspelt name would otherwise leave its setting at its default."""
    found = environ if environ is not None else {**dotenv_values(".env"), **os.environ}
    known = [name.upper() for name in Settings.model_fields]
    for name in sorted(found):
        upper = name.upper()
        if upper.startswith(prefix) and upper not in known:
            close = difflib.get_close_matches(upper, [k for k in known if k.startswith(prefix)], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown setting {name}{hint}: catalog-sync reads no such setting")


def _where(loc: tuple[int | str, ...]) -> str:
    """``[0].name`` for the location of an error inside a setting's value."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise ConfigError with a one-line reason when they are invalid."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        inside = _where(first["loc"][1:])
        message = " ".join(str(first["msg"]).split())
        raise ConfigError(f"invalid setting {name}: {inside + ': ' if inside else ''}{message}") from None
    except SettingsError as exc:  # a value a settings source could not even decode
        raise ConfigError(f"invalid settings: {' '.join(str(exc).split())}") from None
