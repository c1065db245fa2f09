"""The connectors' settings: each provider's default connection (base URL, credential, request budget) and
how its connector reads (page size, feed bounds). Part of :class:`sync_core.settings.Settings`; more
connections of a provider come from ``CONNECTIONS`` (:mod:`sync_core.engine.connections`)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from sync_core.settings_fields import SETTINGS_CONFIG, base_url, secret, url


class ConnectorSettings(BaseSettings):
    """The providers' settings (names kept from the system catalog-sync replaces)."""

    model_config = SETTINGS_CONFIG

    anar360_base: str = Field("", description="Anar360 API base URL, e.g. https://api.anar360.com/api/360")
    anar360_token: SecretStr | None = Field(None, description="Anar360 bearer token")
    sazito_base: str = Field("", description="Sazito store API base, e.g. https://shop.example.com/api/v1")
    sazito_key: SecretStr | None = Field(None, description="Sazito X-API-KEY")
    fever_provider_url: str = Field(
        "", description="Fever events feed: an http(s):// URL, or file:///path for a saved answer"
    )

    anar360_rate_limit_per_min: int | None = Field(None, ge=1, le=100_000, description="Anar360 override")
    sazito_rate_limit_per_min: int | None = Field(None, ge=1, le=100_000, description="Sazito override")

    sazito_page_size: int = Field(100, ge=1, le=100, description="Sazito catalogue page size asked for")

    feed_deadline_s: float = Field(
        600.0, gt=0, le=86_400, description="Longest time the events feed download may take in all"
    )
    feed_max_mb: int = Field(512, ge=1, le=100_000, description="Largest events feed accepted, in MiB")

    @field_validator("anar360_base", "sazito_base")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return base_url(value)

    @field_validator("fever_provider_url")
    @classmethod
    def _feed_url(cls, value: str) -> str:
        return url(value.strip(), ("http", "https", "file"))

    @field_validator("anar360_token", "sazito_key")
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        return secret(value)
