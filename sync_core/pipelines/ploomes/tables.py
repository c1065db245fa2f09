"""The Ploomes pipeline's own tables (migration 0005): the products it keeps, and the webhook deliveries
waiting to become real-time runs with the count of those it refused."""

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


class PloomesProduct(SQLModel, table=True):
    """A Ploomes product as last read. Written only when its content changed (``fingerprint``), and then its
    ``version`` goes up; ``last_synced_at`` moves on every run that read it. A product a complete read no
    longer finds is kept, ``active`` false."""

    __tablename__ = "ploomes_products"
    __table_args__ = (sa.Index("ix_ploomes_products_category", "category", "product_type"),)

    ploomes_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    name: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    code: str | None = _text()
    description: str | None = _text()
    product_type: str = Field(max_length=16)  # service, rental, product
    category: str | None = _text()  # the group's name, or a rule's category
    subcategory: str | None = _text()  # the family's name
    group_id: int | None = None
    family_id: int | None = None
    unit_price: Decimal | None = Field(default=None, sa_column=sa.Column(sa.Numeric(18, 4), nullable=True))
    currency: str | None = Field(default=None, max_length=16)
    unit_of_measure: str | None = _text()
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    source_created_at: datetime | None = _ts(nullable=True)
    source_updated_at: datetime | None = _ts(nullable=True)
    active: bool = True
    version: int = 1
    fingerprint: str | None = Field(default=None, max_length=64)
    first_seen_at: datetime = _ts()
    last_changed_at: datetime = _ts()
    last_synced_at: datetime = _ts()


class PloomesWebhookDelivery(SQLModel, table=True):
    """A webhook delivery whose validation key matched, kept until a run has applied it (``applied_at``).
    ``claimed_at`` marks one a drain has taken into a run; a claim older than a run's lease is taken again."""

    __tablename__ = "ploomes_webhook_inbox"
    __table_args__ = (sa.Index("ix_ploomes_webhook_inbox_pending", "applied_at", "claimed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = _ts()
    action: str = Field(max_length=16)  # Create, Update, Delete
    product_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    body: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    claimed_at: datetime | None = _ts(nullable=True)
    attempts: int = 0
    applied_at: datetime | None = _ts(nullable=True)
    run_id: int | None = None  # the sync_runs row of the run that applied it
    last_error: str | None = _text()


class WebhookCount(SQLModel, table=True):
    """Deliveries by outcome (``forged``: a missing or wrong validation key; ``unreadable``: a body that is
    no delivery), counted by every worker of `catalog-sync serve` alike."""

    __tablename__ = "webhook_counts"

    source: str = Field(max_length=32, primary_key=True)
    outcome: str = Field(max_length=32, primary_key=True)
    count: int = 0
    last_at: datetime | None = _ts(nullable=True)
