"""Pure mapping of an Ingram answer to its ingram_products row: the content columns, details as JSON, and a
fingerprint that covers the content but not when it was fetched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sync_core.connectors.ingram_wire import PartDetails, PricedPart, Warehouse
from sync_core.pipelines.ingram.mapping import (
    PartRecord,
    details_stale,
    details_value,
    json_safe,
    part_content,
    part_write,
)

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def priced(part: str = "012345", *, price: str = "101.5", stock: int = 42) -> PricedPart:
    return PricedPart(
        part=part,
        vendor_part_number="E2016HV",
        upc="0884116186519",
        description="20IN MONITOR",
        status_code=None,
        status_message=None,
        authorized=True,
        total_availability=stock,
        warehouses=(Warehouse("05", "Fort Worth, TX", stock, 0),),
        currency="USD",
        customer_price=Decimal(price),
        retail_price=Decimal("129.99"),
        map_price=Decimal(0),
    )


def details(part: str = "012345") -> PartDetails:
    return PartDetails(
        part,
        "Displays",
        "Monitors",
        "DELL",
        "A monitor",
        [{"headerName": "Size", "value": "20"}],
        {"productWeight": [{"plantId": "10", "weight": Decimal("7.5")}], "height": Decimal("12")},
    )


def test_the_row_holds_the_answer_with_part_numbers_and_warehouses_as_text() -> None:
    content = part_content(PartRecord(priced(), None, None))
    assert content["customer_price"] == Decimal("101.5")
    assert content["availability_by_warehouse"] == [
        {
            "warehouse_id": "05",
            "location": "Fort Worth, TX",
            "quantity_available": 42,
            "quantity_backordered": 0,
        }
    ]
    write = part_write(PartRecord(priced(), None, None))
    assert (write.kind, write.target_key, write.source_key) == ("part", "012345", "012345")


def test_details_are_json_numbers_not_decimals() -> None:
    value = details_value(details())
    assert value["dimensions"] == {"productWeight": [{"plantId": "10", "weight": 7.5}], "height": 12}
    assert value["vendor"] == "DELL" and value["category"] == "Displays"
    assert json_safe([Decimal("1.25"), {"a": Decimal(3)}]) == [1.25, {"a": 3}]


def test_the_fingerprint_ignores_when_details_were_fetched() -> None:
    d = details_value(details())
    old = part_write(PartRecord(priced(), d, NOW - timedelta(days=8)))
    new = part_write(PartRecord(priced(), d, NOW, details_fresh=True))
    assert old.fingerprint == new.fingerprint
    assert new.value["details_fetched_at"] == NOW


def test_a_changed_price_or_stock_changes_the_fingerprint() -> None:
    base = part_write(PartRecord(priced(), None, None)).fingerprint
    assert part_write(PartRecord(priced(price="99"), None, None)).fingerprint != base
    assert part_write(PartRecord(priced(stock=41), None, None)).fingerprint != base


def test_details_are_stale_when_never_fetched_or_older_than_the_age() -> None:
    assert details_stale(None, now=NOW, max_age_days=7)
    assert details_stale(NOW - timedelta(days=7), now=NOW, max_age_days=7)
    assert not details_stale(NOW - timedelta(days=6, hours=23), now=NOW, max_age_days=7)
