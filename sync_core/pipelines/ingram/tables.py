"""The Ingram pipeline's own tables: the part numbers it tracks, and the catalogue it keeps of them
(migration 0004). Part numbers are text everywhere: ``012345`` and ``3E0042`` are part numbers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=nullable))


def _text(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=sa.Column(sa.Text, nullable=nullable))


def _money() -> Any:
    return Field(default=None, sa_column=sa.Column(sa.Numeric(14, 4), nullable=True))


class TrackedPart(SQLModel, table=True):
    """A part number the pipeline keeps priced (``catalog-sync ingram track``)."""

    __tablename__ = "ingram_tracked_parts"

    ingram_part_number: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    origin: str = Field(max_length=255)  # "command line", or "parts.csv line 12"
    added_at: datetime = _ts()


class IngramProduct(SQLModel, table=True):
    """A tracked part as Ingram Micro last answered for it: price and availability every run, details when
    new or older than INGRAM_DETAILS_MAX_AGE_DAYS. Written only when its content changed (``fingerprint``);
    ``prices_fetched_at`` moves on every run that priced it."""

    __tablename__ = "ingram_products"

    ingram_part_number: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    vendor_part_number: str | None = _text()
    upc: str | None = _text()
    description: str | None = _text()
    status_code: str | None = Field(default=None, max_length=8)
    status_message: str | None = _text()
    authorized: bool | None = None
    currency: str | None = Field(default=None, max_length=8)
    customer_price: Decimal | None = _money()
    retail_price: Decimal | None = _money()
    map_price: Decimal | None = _money()
    total_availability: int | None = None
    availability_by_warehouse: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    details: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    fingerprint: str = Field(max_length=64)
    first_seen_at: datetime = _ts()
    last_changed_at: datetime = _ts()
    prices_fetched_at: datetime = _ts()
    details_fetched_at: datetime | None = _ts(nullable=True)
