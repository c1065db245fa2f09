"""Pure: a store's item as read (``StoreItem``) → its ``inventory_items`` row."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sync_core.connectors.store_items import StoreItem
from sync_core.models import Write

KIND = "item"
CENT = Decimal("0.0001")  # the column's scale
# The row's content: what a write sets, and what its fingerprint covers (integration, product and variant ids
# are its identity, set once).
CONTENT = (
    "sku",
    "title",
    "price",
    "compare_at_price",
    "stock",
    "managed",
    "removed",
    "source_updated_at",
)


def item_key(integration: str, variant_id: str) -> str:
    """An inventory row's key: the store's name and the variant's id there."""
    return f"{integration}/{variant_id}"


def item_row(integration: str, item: StoreItem) -> dict[str, Any]:
    return {
        "integration": integration,
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "sku": item.sku or None,
        "title": item.title,
        "price": _money(item.price),
        "compare_at_price": _money(item.compare_at_price),
        "stock": item.stock if item.managed else None,
        "managed": item.managed,
        "removed": False,
        "source_updated_at": _utc(item.updated_at),
    }


def item_write(integration: str, item: StoreItem) -> Write:
    key = item_key(integration, item.variant_id)
    return Write(KIND, key, key, item_row(integration, item))


def _money(value: Decimal | None) -> Decimal | None:
    return value.quantize(CENT) if value is not None else None


def _utc(moment: datetime | None) -> datetime | None:
    """Stored in UTC (SQLite keeps no offset)."""
    return moment.astimezone(UTC) if moment is not None else None
