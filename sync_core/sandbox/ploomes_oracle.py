"""The oracle of the `ploomes_products` table: what a correct sync holds per product, by the default rules.

Computed from the simulator's own records (`ploomes_state`), never from an answer's JSON, the connector's or
the pipeline's code. One row per live product (active, its current values) and per deleted product that was
ever served in a page or a webhook delivery (inactive, the values served last). A deleted product never
served has no row. With `unserved=False`, live products never served have no row either.

Default rules: code `CIA_LOC_...` → "rental", `CIA_...` → "service", else "product"; category and subcategory
are the names of the group and the family; CurrencyId 1/2/3 → BRL/USD/EUR, another → its str.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sync_core.sandbox.ploomes_catalogue import ABSENT, PloomesProduct, served_date
from sync_core.sandbox.ploomes_state import PloomesState
from sync_core.sandbox.state import SandboxState
from sync_core.sandbox.table_report import TableReport, compare_rows

ROW_FIELDS = (
    "ploomes_id",
    "name",
    "code",
    "description",
    "product_type",
    "category",
    "subcategory",
    "unit_price",
    "currency",
    "unit_of_measure",
    "custom_fields",
    "source_created_at",
    "source_updated_at",
    "active",
)
CURRENCIES = {1: "BRL", 2: "USD", 3: "EUR"}


def product_type(code: str | None) -> str:
    """The default classification by code prefix."""
    if code is not None and code.startswith("CIA_LOC_"):
        return "rental"
    return "service" if code is not None and code.startswith("CIA_") else "product"


def currency(currency_id: int | None) -> str | None:
    """The currency code of a CurrencyId."""
    return None if currency_id is None else CURRENCIES.get(currency_id, str(currency_id))


def custom_fields(record: PloomesProduct) -> dict[str, Any]:
    """FieldKey → the value in its slot (a Decimal as its str, a date-time as the ISO string served)."""
    return {p.field_key: str(p.value) if isinstance(p.value, Decimal) else p.value for p in record.properties}


def expected_row(ploomes: PloomesState, record: PloomesProduct, active: bool) -> dict[str, Any]:
    """The table row (ROW_FIELDS) of one product record."""
    return {
        "ploomes_id": record.id,
        "name": record.name,
        "code": record.code,
        "description": None if record.description == ABSENT else record.description,
        "product_type": product_type(record.code),
        "category": ploomes.group_name(record.group_id),
        "subcategory": ploomes.family_name(record.family_id),
        "unit_price": record.unit_price,
        "currency": currency(record.currency_id),
        "unit_of_measure": record.unit,
        "custom_fields": custom_fields(record),
        "source_created_at": record.created,
        "source_updated_at": record.updated,
        "active": active,
    }


def ploomes_oracle(state: SandboxState, *, unserved: bool = True) -> dict[int, dict[str, Any]]:
    """The expected rows by Id (see the module docstring)."""
    ploomes = state.ploomes
    rows: dict[int, dict[str, Any]] = {}
    with state.lock:
        for product_id, record in ploomes.products.items():
            if unserved or product_id in ploomes.served:
                rows[product_id] = expected_row(ploomes, record, active=True)
        for product_id in ploomes.deleted:
            if product_id in ploomes.served:
                rows[product_id] = expected_row(ploomes, ploomes.served[product_id], active=False)
    return dict(sorted(rows.items()))


def normalised(value: Any) -> Any:
    """`value` comparable with the oracle's: floats and numbers as Decimal, date-times (aware, naive as UTC, or
    ISO strings) in UTC, tuples as lists, recursively through mappings and lists."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, Mapping):
        return {k: normalised(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalised(v) for v in value]
    return value


def _cell(column: str, value: Any) -> Any:
    if column in ("source_created_at", "source_updated_at") and isinstance(value, str):
        value = datetime.fromisoformat(value)
    if column == "unit_price" and isinstance(value, str | int):
        value = Decimal(value)
    return normalised(value)


def compare_ploomes_rows(
    expected: Mapping[int, Mapping[str, Any]], rows: Iterable[Mapping[str, Any]]
) -> TableReport:
    """Compare table rows (mappings with at least ROW_FIELDS; other columns are ignored) with the oracle.

    Prices compare by value (Decimal("245.5000") equals Decimal("245.5")), date-times as instants.
    """
    return compare_rows(
        expected,
        rows,
        key=lambda row: int(row["ploomes_id"]),
        fields=ROW_FIELDS,
        cell=_cell,
        key_name="ploomes_id",
    )


def verify_ploomes_table(
    state: SandboxState, rows: Iterable[Mapping[str, Any]], *, unserved: bool = True
) -> TableReport:
    """The table's rows checked against the oracle."""
    return compare_ploomes_rows(ploomes_oracle(state, unserved=unserved), rows)


def oracle_json(rows: Mapping[int, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows JSON-ready, by Id: unit_price as a decimal string, date-times as served (ISO, -03:00)."""
    return [
        {
            k: str(v) if isinstance(v, Decimal) else served_date(v) if isinstance(v, datetime) else v
            for k, v in row.items()
        }
        for row in rows.values()
    ]
