"""The connectors' settings: each provider's default connection (base URL, credential, account, request
budgets) and how its connector reads (page size, feed bounds). Part of :class:`sync_core.settings.Settings`; more
connections of a provider come from ``CONNECTIONS`` (:mod:`sync_core.engine.connections`)."""

from __future__ import annotations

import re

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
    ingram_base: str = Field(
        "",
        description="Ingram Micro API base with any environment prefix, e.g. https://api.ingrammicro.com:443 "
        "(or .../sandbox); the token and catalogue paths hang off it",
    )
    ingram_client_id: str = Field("", description="Ingram Micro OAuth2 client id")
    ingram_client_secret: SecretStr | None = Field(None, description="Ingram Micro OAuth2 client secret")
    ingram_customer_number: str = Field(
        "", max_length=10, description="Ingram Micro reseller account number (IM-CustomerNumber)"
    )
    ingram_country_code: str = Field(
        "US", description="Two-letter country of the Ingram Micro account (IM-CountryCode), stored upper-case"
    )
    ingram_sender_id: str | None = Field(
        None, max_length=32, description="Optional IM-SenderID: who calls, as Ingram Micro support sees it"
    )
    ploomes_base: str = Field(
        "",
        description="Ploomes CRM API base, e.g. https://public-api2.ploomes.com (alias https://api2.ploomes.com)",
    )
    ploomes_user_key: SecretStr | None = Field(None, description="Ploomes User-Key (sent on every call)")
    ploomes_webhook_key: SecretStr | None = Field(
        None,
        description="Validation key Ploomes sends with each webhook delivery (X-Ploomes-Validation-Key); "
        "POST /webhooks/ploomes refuses deliveries without it",
    )

    anar360_rate_limit_per_min: int | None = Field(None, ge=1, le=100_000, description="Anar360 override")
    sazito_rate_limit_per_min: int | None = Field(None, ge=1, le=100_000, description="Sazito override")
    ingram_pna_rate_per_min: int = Field(
        60,
        ge=1,
        le=100_000,
        description="Ingram Micro price-and-availability calls a minute (its own budget)",
    )
    ingram_details_rate_per_min: int = Field(
        60, ge=1, le=100_000, description="Ingram Micro product-details calls a minute (its own budget)"
    )
    ploomes_rate_per_s: float = Field(
        2.0,
        gt=0,
        le=1000,
        description="Ploomes calls a second (nothing is published; clients space calls 0.5 s)",
    )

    shopify_api_version: str = Field(
        "2026-10",
        pattern=r"^\d{4}-\d{2}$",
        description="Shopify Admin GraphQL API version of store integrations (YYYY-MM)",
    )
    shopify_location_id: str | None = Field(
        None,
        description="Shopify location stock writes go to (gid://shopify/Location/N); reads sum every active one",
    )
    shopify_rate_limit_per_min: int = Field(
        6000,
        ge=1,
        le=100_000,
        description="Shopify calls a minute per store: a cap only, as Shopify limits by query cost (each answer's "
        "extensions.cost paces the reads)",
    )
    woo_rate_per_s: float = Field(
        2.0, gt=0, le=1000, description="WooCommerce calls a second per store (hosts and WAFs limit them)"
    )
    woo_full_read_minutes: float = Field(
        60,
        gt=0,
        le=100_000,
        description="A WooCommerce store's stock is read in full at least this often (orders do not move "
        "date_modified, so an incremental read misses sales)",
    )

    sazito_page_size: int = Field(100, ge=1, le=100, description="Sazito catalogue page size asked for")

    feed_deadline_s: float = Field(
        600.0, gt=0, le=86_400, description="Longest time the events feed download may take in all"
    )
    feed_max_mb: int = Field(512, ge=1, le=100_000, description="Largest events feed accepted, in MiB")

    @field_validator("anar360_base", "sazito_base", "ingram_base", "ploomes_base")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return base_url(value)

    @field_validator("ingram_client_id", "ingram_customer_number", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("ingram_sender_id", mode="before")
    @classmethod
    def _optional(cls, value: object) -> object:
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("ingram_country_code")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("must be a two-letter country code, e.g. US")
        return value.upper()

    @field_validator("fever_provider_url")
    @classmethod
    def _feed_url(cls, value: str) -> str:
        return url(value.strip(), ("http", "https", "file"))

    @field_validator(
        "anar360_token", "sazito_key", "ingram_client_secret", "ploomes_user_key", "ploomes_webhook_key"
    )
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        return secret(value)

    @property
    def ploomes_rate_per_min(self) -> int:
        """PLOOMES_RATE_PER_S as the requests a minute the engine's pacing reads (at least 1)."""
        return max(1, round(self.ploomes_rate_per_s * 60))
