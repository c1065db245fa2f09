"""The pipelines' settings: pricing, linking and creation rules, the events pipeline's schedule, and how the
Ingram pipeline refreshes details, spaces its runs and spreads over workers. Part of
:class:`sync_core.settings.Settings`.

Not a pipeline (it declares no ``PIPELINE``): the registry imports it with the rest of this package and
passes it by, so it imports nothing beyond pydantic.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from sync_core.settings_fields import SETTINGS_CONFIG


class PipelineSettings(BaseSettings):
    """What the pipelines' own rules read."""

    model_config = SETTINGS_CONFIG

    sazito_price_multiplier: Decimal = Field(Decimal(1), gt=0, description="Supplier price × this")
    sazito_price_markup_percent: Decimal = Field(Decimal(0), ge=-100, description="… then + this percent")
    sazito_match_by_title: bool = Field(False, description="Link variants by normalised title + attributes")
    create_missing_products: bool = Field(False, description="Create unlinked supplier products in Sazito")
    ingram_details_max_age_days: float = Field(
        7, ge=0, le=3650, description="Ingram product details are fetched again once older than this"
    )
    ingram_min_interval_min: float = Field(
        30,
        ge=0,
        le=10_080,
        description="A sync-ingram run is skipped (and says so) when one finished less than this ago; "
        "--force runs anyway",
    )
    ingram_shards: int = Field(
        1,
        ge=1,
        le=64,
        description="sync-ingram splits the tracked parts into this many sync-ingram-shard runs",
    )
    incremental_sync_hours: float = Field(
        6,
        gt=0,
        le=8760,
        description="`auto` syncs (sync ploomes, store syncs) read incrementally when the last successful (full) sync is younger "
        "than this, else in full (batch)",
    )
    ploomes_overlap_s: float = Field(
        300, ge=0, le=86_400, description="An incremental Ploomes read starts this long before its watermark"
    )
    ploomes_rules_file: str = Field(
        "",
        description="TOML file of the Ploomes classification rules (code prefix, group or family → type and "
        "category); empty: the built-in rules (CIA_LOC_ → rental, CIA_ → service)",
    )
    stores_concurrency: int = Field(
        3, ge=1, le=64, description="sync-all-stores syncs at most this many store integrations at once"
    )
    low_stock_threshold: int = Field(
        5,
        ge=0,
        le=1_000_000,
        description="Stock at or under this opens a low-stock alert (an integration's threshold overrides it)",
    )
    stores_overlap_s: float = Field(
        300, ge=0, le=86_400, description="An incremental store read starts this long before its watermark"
    )
    event_sync_schedule: str = Field(
        "0 * * * *", description="Cron of the sync-events/fever-hourly deployment (applied by `deploy`)"
    )

    @field_validator("event_sync_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value.split(" ")) != 5:
            raise ValueError("must be a cron expression of 5 fields, e.g. '0 * * * *'")
        return value
