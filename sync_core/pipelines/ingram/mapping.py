"""Pure: what Ingram Micro answered for a part → the ``ingram_products`` row it becomes.

A row's fingerprint covers its content, not when it was fetched: a part priced again at the same price and
stock is unchanged (only its ``prices_fetched_at`` moves), and details fetched again unchanged rewrite
nothing but their ``details_fetched_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sync_core.connectors.ingram_wire import PartDetails, PartError, PricedPart
from sync_core.models import Write, fingerprint

KIND = "part"
CONTENT = (
    "vendor_part_number",
    "upc",
    "description",
    "status_code",
    "status_message",
    "authorized",
    "currency",
    "customer_price",
    "retail_price",
    "map_price",
    "total_availability",
    "availability_by_warehouse",
    "details",
)
FETCHED = "details_fetched_at"  # written with the content, outside its fingerprint


@dataclass(frozen=True, slots=True)
class PartRecord:
    """A priced part and its details: fetched by this run (``details_fresh``), or as the table holds them
    (``details_error``: why this run's ask for them failed)."""

    priced: PricedPart
    details: dict[str, Any] | None
    details_fetched_at: datetime | None
    details_fresh: bool = False
    details_error: PartError | None = None


def details_stale(fetched_at: datetime | None, *, now: datetime, max_age_days: float) -> bool:
    """Whether a part's details must be fetched: never fetched, or older than ``max_age_days``."""
    return fetched_at is None or now - fetched_at >= timedelta(days=max_age_days)


def json_safe(value: Any) -> Any:
    """``value`` with every Decimal a JSON number (int when whole, else float), for a JSON column."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def details_value(details: PartDetails) -> dict[str, Any]:
    """The ``details`` column of a part: category, subcategory, vendor, description, specifications,
    dimensions."""
    value: dict[str, Any] = json_safe(
        {
            "category": details.category,
            "subcategory": details.subcategory,
            "vendor": details.vendor,
            "description": details.description,
            "technical_specifications": list(details.technical_specifications),
            "dimensions": dict(details.dimensions),
        }
    )
    return value


def part_content(record: PartRecord) -> dict[str, Any]:
    """The content columns of a part's row."""
    p = record.priced
    return {
        "vendor_part_number": p.vendor_part_number,
        "upc": p.upc,
        "description": p.description,
        "status_code": p.status_code,
        "status_message": p.status_message,
        "authorized": p.authorized,
        "currency": p.currency,
        "customer_price": p.customer_price,
        "retail_price": p.retail_price,
        "map_price": p.map_price,
        "total_availability": p.total_availability,
        "availability_by_warehouse": [
            {
                "warehouse_id": w.warehouse_id,
                "location": w.location,
                "quantity_available": w.quantity_available,
                "quantity_backordered": w.quantity_backordered,
            }
            for w in p.warehouses
        ],
        "details": record.details,
    }


def part_write(record: PartRecord) -> Write:
    """The row write of a part, fingerprinted by its content alone."""
    content = part_content(record)
    value = {**content, FETCHED: record.details_fetched_at}
    part = record.priced.part
    return Write(KIND, part, part, value, digest=fingerprint(KIND, content))
