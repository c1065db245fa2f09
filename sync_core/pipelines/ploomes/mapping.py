"""Pure: a Ploomes product as read (``ProductRecord``) → its ``ploomes_products`` row, classified by the rules
(``rules.py``) and named by its group and family."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sync_core.connectors.ploomes_wire import ProductRecord
from sync_core.models import Write
from sync_core.pipelines.ploomes.rules import Rules

KIND = "product"
# The row's content: what a write sets, and what its fingerprint covers.
CONTENT = (
    "name",
    "code",
    "description",
    "product_type",
    "category",
    "subcategory",
    "group_id",
    "family_id",
    "unit_price",
    "currency",
    "unit_of_measure",
    "custom_fields",
    "source_created_at",
    "source_updated_at",
    "active",
)


def product_row(
    record: ProductRecord, *, groups: Mapping[int, str], families: Mapping[int, str], rules: Rules
) -> dict[str, Any]:
    """The row's content for ``record``: type and category by the rules, subcategory the family's name."""
    group = groups.get(record.group_id) if record.group_id is not None else None
    family = families.get(record.family_id) if record.family_id is not None else None
    product_type, category = rules.classify(record.code, group, family)
    return {
        "name": record.name,
        "code": record.code,
        "description": record.description,
        "product_type": product_type,
        "category": category,
        "subcategory": family,
        "group_id": record.group_id,
        "family_id": record.family_id,
        "unit_price": record.unit_price,
        "currency": rules.currency(record.currency_id),
        "unit_of_measure": record.measurement_unit,
        "custom_fields": dict(record.other_properties),
        "source_created_at": _utc(record.created_at),
        "source_updated_at": _utc(record.updated_at),
        "active": True,
    }


def _utc(moment: datetime | None) -> datetime | None:
    """Stored in UTC: SQLite keeps no offset, so a -03:00 time would otherwise read back three hours off."""
    return moment.astimezone(UTC) if moment is not None else None


def product_write(
    record: ProductRecord, *, groups: Mapping[int, str], families: Mapping[int, str], rules: Rules
) -> Write:
    """The table write of a product read from Ploomes (keyed by its id)."""
    key = str(record.id)
    return Write(KIND, key, key, product_row(record, groups=groups, families=families, rules=rules))
