"""The oracle of the Ingram catalogue table: what a correct sync holds per part, by the contract's rules.

Computed from the sandbox's records (`ingram_catalogue`), never from an answer's JSON or the connector's code:
prices as Decimal, warehouse ids as strings, a missing quantity as 0, the details description
productDetailDescription else description. Unknown part numbers have no row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sync_core.sandbox.ingram_catalogue import ABSENT, IngramPart
from sync_core.sandbox.records import paused_gc
from sync_core.sandbox.state import SandboxState
from sync_core.sandbox.table_report import TableReport, compare_rows

ROW_FIELDS = (
    "ingram_part_number",
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


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def expected_details(body: Mapping[str, Any]) -> dict[str, Any]:
    """The table's `details` for one details answer."""
    description = body.get("productDetailDescription")
    return {
        "category": body.get("productCategory"),
        "subcategory": body.get("productSubcategory"),
        "vendor": body.get("vendorName"),
        "description": description if description is not None else body.get("description"),
        "technical_specifications": list(body.get("technicalSpecifications") or []),
        "dimensions": dict(body.get("additionalInformation") or {}),
    }


def expected_row(record: IngramPart, details: Mapping[str, Any] | None) -> dict[str, Any]:
    """The table row of one known part; `details` is its details answer, or None when not fetched."""
    return {
        "ingram_part_number": record.part,
        "vendor_part_number": record.vendor_part_number,
        "upc": record.upc,
        "description": record.description,
        "status_code": None if record.status_code == ABSENT else record.status_code,
        "status_message": record.status_message,
        "authorized": record.authorized,
        "currency": record.currency,
        "customer_price": _money(record.customer_cents),
        "retail_price": _money(record.retail_cents),
        "map_price": _money(record.map_cents),
        "total_availability": record.total_available,
        "availability_by_warehouse": [
            {
                "warehouse_id": str(row.warehouse_id),
                "location": row.location,
                "quantity_available": row.available or 0,
                "quantity_backordered": row.backordered or 0,
            }
            for row in record.warehouses
        ],
        "details": None if details is None else expected_details(details),
    }


def ingram_oracle(state: SandboxState, parts: Iterable[str], *, details: bool) -> dict[str, dict[str, Any]]:
    """The table row (ROW_FIELDS) of each known part of `parts`, by part number; unknown parts are absent.

    `details=False`: every row's `details` is None (details not fetched).
    """
    catalogue = state.ingram.catalogue
    rows: dict[str, dict[str, Any]] = {}
    with state.lock, paused_gc():
        for part in parts:
            record = catalogue.record(part)
            if record is not None and part not in rows:
                rows[part] = expected_row(record, catalogue.details(part) if details else None)
    return rows


def normalised(value: Any) -> Any:
    """`value` with floats as Decimal (by their shortest repr) and tuples as lists, recursively, so that a
    row read back from a database compares equal to the oracle's."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: normalised(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalised(v) for v in value]
    return value


def compare_ingram_rows(
    expected: Mapping[str, Mapping[str, Any]], rows: Iterable[Mapping[str, Any]]
) -> TableReport:
    """Compare table rows (mappings with at least ROW_FIELDS; other columns are ignored) with the oracle.

    Numbers compare by value (Decimal("74.3400") equals Decimal("74.34"), a JSON float 2.6 equals 2.6).
    """
    return compare_rows(
        expected,
        rows,
        key=lambda row: str(row["ingram_part_number"]),
        fields=ROW_FIELDS,
        cell=lambda column, value: normalised(value),
        key_name="part",
    )


def verify_ingram_table(
    state: SandboxState, rows: Iterable[Mapping[str, Any]], parts: Iterable[str], *, details: bool
) -> TableReport:
    """The table's rows checked against the oracle of the tracked `parts`."""
    return compare_ingram_rows(ingram_oracle(state, parts, details=details), rows)


def oracle_json(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The oracle's rows JSON-ready: prices as decimal strings ("74.34")."""
    return {
        part: {k: str(v) if isinstance(v, Decimal) else v for k, v in row.items()}
        for part, row in rows.items()
    }
