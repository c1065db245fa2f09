"""The store-inventory pipeline's own tables (migration 0006): the store integrations operators add, the
inventory read from them, per-SKU low-stock thresholds and the alerts they open."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=nullable))


def _money() -> Any:
    return Field(default=None, sa_column=sa.Column(sa.Numeric(18, 4), nullable=True))


class StoreIntegration(SQLModel, table=True):
    """A store the inventory is read from: a connection of the engine named ``name`` (its circuit, pacing,
    cursors, runs and audit rows are keyed by it). The credential is never stored: ``credentials_env`` names
    the environment variable that holds it, or ``credentials_block`` the Prefect Secret block."""

    __tablename__ = "store_integrations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=32, unique=True)
    platform: str = Field(max_length=16)  # shopify | woocommerce | sazito
    store_url: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    credentials_env: str | None = Field(default=None, max_length=128)
    credentials_block: str | None = Field(default=None, max_length=128)
    active: bool = True
    auto_sync: bool = True  # synced by sync-all-stores (and at once when added active)
    low_stock_threshold: int | None = None  # None: LOW_STOCK_THRESHOLD
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class InventoryItem(SQLModel, table=True):
    """One sellable variant of one store, as last read. Written only when its content changed
    (``fingerprint``); ``last_synced_at`` moves on every run that read it. An item a complete read no
    longer finds is kept, ``removed`` true."""

    __tablename__ = "inventory_items"
    __table_args__ = (
        sa.Index("ix_inventory_items_integration", "integration", "removed"),
        sa.Index("ix_inventory_items_sku", "sku"),
    )

    item_key: str = Field(max_length=300, primary_key=True)  # "<integration>/<variant id>"
    integration: str = Field(max_length=32)
    product_id: str = Field(max_length=128)
    variant_id: str = Field(max_length=128)
    sku: str | None = Field(default=None, max_length=255)
    title: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    price: Decimal | None = _money()
    compare_at_price: Decimal | None = _money()
    stock: int | None = None  # None when the store does not manage it
    managed: bool = False
    removed: bool = False
    source_updated_at: datetime | None = _ts(nullable=True)
    fingerprint: str | None = Field(default=None, max_length=64)
    first_seen_at: datetime = _ts()
    last_changed_at: datetime = _ts()
    last_synced_at: datetime = _ts()


class SkuThreshold(SQLModel, table=True):
    """A SKU's own low-stock threshold: in one store (``integration``), or in every store (``integration``
    empty); it wins over the store's."""

    __tablename__ = "sku_thresholds"

    integration: str = Field(default="", max_length=32, primary_key=True)
    sku: str = Field(max_length=255, primary_key=True)
    threshold: int


class StockAlert(SQLModel, table=True):
    """An item at or under its threshold: opened by check-alerts, notified once (``notified_at``), resolved
    when its stock recovers or it leaves the store (``resolved_at``)."""

    __tablename__ = "stock_alerts"
    __table_args__ = (sa.Index("ix_stock_alerts_open", "resolved_at", "item_key"),)

    id: int | None = Field(default=None, primary_key=True)
    item_key: str = Field(max_length=300)
    integration: str = Field(max_length=32)
    sku: str | None = Field(default=None, max_length=255)
    title: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    stock: int
    threshold: int
    opened_at: datetime = _ts()
    notified_at: datetime | None = _ts(nullable=True)
    resolved_at: datetime | None = _ts(nullable=True)
    resolved_stock: int | None = None
