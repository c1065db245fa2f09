"""Explain, the pure parts: snapshot values made JSON-ready, the rows recorded, the anar360-sazito snapshot and
what its rules make of one again, every pipeline's explain hook, the request matching and the story as text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from catalog_sync.explain_command import story_lines
from sync_core.connectors.anar360 import SupplierProduct, SupplierVariant
from sync_core.connectors.ingram_wire import PartError, PricedPart
from sync_core.connectors.ploomes_wire import ProductRecord
from sync_core.connectors.store_items import StoreItem
from sync_core.engine.connections import Connection
from sync_core.engine.explain_writes import names
from sync_core.engine.job import Mapped, RunContext
from sync_core.engine.registry import pipeline, pipelines
from sync_core.engine.snapshots import KEY_MAX, plain, snapshot_rows
from sync_core.mapping.anar360_sazito import PriceRule, snapshot_values, variant_snapshot
from sync_core.models import PageRequest, SourcePage, Write
from sync_core.pipelines.anar360_sazito import ProductsJob
from sync_core.pipelines.ingram.mapping import PartRecord
from sync_core.settings import Settings

WHEN = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def settings(**changes: Any) -> Settings:
    return Settings(_env_file=None, database_url="sqlite:///unused.db", **changes)  # type: ignore[call-arg]


def product(
    *variants: SupplierVariant, shipment: bool = True, resell: str | None = "approved"
) -> SupplierProduct:
    return SupplierProduct("p-1", "Belt", "active", resell, shipment, WHEN, variants)


def test_plain_makes_values_json_ready() -> None:
    uid = uuid.uuid4()
    value = {"price": Decimal("20.50"), "at": WHEN, "id": uid, "zones": ({"n": Decimal(1)},), 3: None}
    assert plain(value) == {
        "price": "20.50",
        "at": "2026-05-01T12:30:00+00:00",
        "id": str(uid),
        "zones": [{"n": "1"}],
        "3": None,
    }
    assert plain([True, 1, 1.5, "x"]) == [True, 1, 1.5, "x"]


def test_snapshot_rows_stamp_the_run_and_leave_out_keys_the_column_cannot_hold() -> None:
    rows = snapshot_rows(
        "shop@target=b", 7, [("v-1", {"p": Decimal(2)}, (501,)), ("x" * (KEY_MAX + 1), {}, []), ("", {}, [])]
    )
    [(key, source_key, values, targets, run_id, read_at)] = rows
    assert (key, source_key, values, targets, run_id) == ("shop@target=b", "v-1", {"p": "2"}, ["501"], 7)
    assert read_at.tzinfo is not None


def test_a_variant_snapshot_gives_back_what_the_rules_make_of_it() -> None:
    rule = PriceRule(Decimal("1.1"), Decimal(0))
    variant = SupplierVariant("v-1", {"size": "L"}, 1000, 1200, 4)
    snapshot = variant_snapshot(product(variant), variant)
    assert snapshot == {
        "product": "p-1",
        "title": "Belt",
        "price": 1000,
        "label_price": 1200,
        "stock": 4,
        "resell_status": "approved",
        "active_shipment": True,
        "updated_at": "2026-05-01T12:30:00+00:00",
    }
    assert snapshot_values("v-1", snapshot, rule) == {
        "price": {"price": 1320, "discount_price": 1100},
        "stock": {"managed": True, "stock": 4},
    }
    unavailable = variant_snapshot(product(variant, resell="editing-pending"), variant)
    assert snapshot_values("v-1", unavailable, rule)["stock"] == {"managed": True, "stock": 0}
    broken = snapshot | {"price": None, "stock": -1}
    assert snapshot_values("v-1", broken, rule) == {
        "price": {"error": "missing-price"},
        "stock": {"error": "negative-stock"},
    }


def test_the_products_job_snapshots_every_variant_read_with_its_store_variant() -> None:
    ctx = RunContext(
        settings(),
        pipeline("products"),
        "anar360-sazito",
        3,
        {role: Connection(role, role, "http://x.test") for role in ("source", "target")},
        lambda role: object(),
    )
    linked, unlinked = SupplierVariant("v-1", {}, 10, None, 1), SupplierVariant("v-2", {}, 20, None, None)
    pages = [SourcePage(PageRequest(), [product(linked, unlinked)], [], None)]
    mapped = Mapped(desired=[Write("price", "501", "v-1", {"price": 10, "discount_price": None})])
    [(key1, values1, targets1), (key2, _, targets2)] = ProductsJob(ctx).snapshots(pages, mapped)
    assert (key1, values1["price"], targets1) == ("v-1", 10, ["501"])
    assert (key2, targets2) == ("v-2", [])


def table_snapshots(name: str, records: list[Any]) -> list[Any]:
    """The snapshots a table pipeline's job takes of ``records``, made JSON-ready."""
    spec = pipeline(name)
    connections = {
        role: Connection(cls.provider, "shop-a", "http://x.test") for role, cls in spec.connectors.items()
    }
    ctx = RunContext(settings(), spec, name, 1, connections, lambda role: object())
    job = spec.job(ctx)
    pages = [SourcePage(PageRequest(), records, [], None)]
    return [(key, plain(values), list(targets)) for key, values, targets in job.snapshots(pages, Mapped())]  # type: ignore[attr-defined]


def test_the_table_pipelines_snapshot_what_their_source_gave() -> None:
    item = StoreItem("p-9", "77", "SKU-1", "Shirt / L", Decimal("9.5"), None, 3, True, WHEN)
    assert table_snapshots("store-inventory", [item]) == [
        (
            "shop-a/77",
            {
                "sku": "SKU-1",
                "price": "9.5",
                "compare_at_price": None,
                "stock": 3,
                "managed": True,
                "updated_at": "2026-05-01T12:30:00+00:00",
            },
            ["shop-a/77"],
        )
    ]
    record = ProductRecord(12, "Chair", "CIA_1", None, 3, None, "un", 1, Decimal("5.00"), None, WHEN, {})
    [(key, values, targets)] = table_snapshots("ploomes-products", [record])
    assert (key, targets, values["code"], values["unit_price"]) == ("12", ["12"], "CIA_1", "5.00")
    priced = PricedPart("P-1", None, None, None, "W", None, True, 5, (), "USD", Decimal("1.2"), None, None)
    failed = PartRecord(priced, None, None, details_error=PartError("P-1", "not-found", "gone"))
    [(key, values, targets)] = table_snapshots("ingram-catalogue", [failed])
    assert (key, targets, values["customer_price"], values["details"]) == (
        "P-1",
        ["P-1"],
        "1.2",
        "failed: not-found",
    )


def test_the_rule_of_anar360_sazito_says_its_settings() -> None:
    spec = pipeline("anar360-sazito")
    assert spec.explain is not None
    how = spec.explain(
        settings(sazito_price_multiplier=Decimal("1.25"), sazito_price_markup_percent=Decimal(8))
    )
    assert how.rule["multiplier"] == Decimal("1.25") and how.rule["markup_percent"] == Decimal(8)
    assert "× 1.25 × (1 + 8 / 100)" in how.rule["price"] and how.rule["rounding"] == "ROUND_HALF_UP"
    assert how.table is None and how.wanted is not None
    variant = SupplierVariant("v-1", {}, 100, None, 2)
    assert how.wanted("v-1", variant_snapshot(product(variant), variant))["price"] == {
        "price": 135,
        "discount_price": None,
    }


@pytest.mark.parametrize("name", sorted(pipelines()))
def test_every_pipeline_explains_with_columns_its_table_has(name: str) -> None:
    spec = pipelines()[name]
    if spec.explain is None:
        pytest.skip(f"{name} declares no explain hook")
    how = spec.explain(settings())
    assert how.rule and all(isinstance(k, str) for k in how.rule)
    if how.table is not None:
        columns = how.table.__table__.c
        assert how.key in columns and (how.changed is None or how.changed in columns)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("stock variant 501 https://s.test/update-stock/501", True),
        ("stock variant 5011", False),
        ("stock variant 1501", False),
        ("/update-stock/501?x=1", True),
        ('{"id": "501", "stock": 3}', True),
        ("v-501", False),
    ],
)
def test_a_request_names_an_item_as_a_whole_word(text: str, named: bool) -> None:
    assert names(text, "501") is named


def story(**changes: Any) -> dict[str, Any]:
    run = {"id": 4, "scope": "full", "status": "success"}
    base: dict[str, Any] = {
        "pipeline": "anar360-sazito",
        "key": "v-1",
        "rule": {"price": "supplier price × 1", "multiplier": "1"},
        "sources": [
            {
                "source_key": "v-1",
                "values": {"price": 10, "title": "Belt"},
                "read_at": "2026-05-01T12:30:00+00:00",
                "run": run,
                "target_keys": ["501"],
                "wanted": {"price": {"price": 10, "discount_price": None}},
            }
        ],
        "links": [],
        "targets": [
            {
                "target": "sazito",
                "target_key": "501",
                "kind": "price",
                "value": {"price": 10, "discount_price": None},
                "origin": "written",
                "updated_at": "2026-05-01T12:31:00+00:00",
                "as_wanted": True,
                "run": run,
                "requests": [
                    {
                        "request_id": "abc",
                        "method": "PUT",
                        "url": "https://s.test/bulk-update-price",
                        "status": 200,
                        "outcome": "success",
                        "started_at": "2026-05-01T12:31:00+00:00",
                        "match": "nearest",
                        "calls": 3,
                    }
                ],
            }
        ],
        "rows": [],
        "failures": [],
        "held": [],
    }
    return base | changes


def test_the_story_as_text() -> None:
    lines = story_lines(story())
    assert lines[0] == "anar360-sazito · v-1"
    assert lines[1] == "source    v-1 read 2026-05-01T12:30:00+00:00 by run 4 (full, success)"
    assert lines[2] == "          price 10 · title Belt"
    assert lines[3] == 'wanted    price {"price": 10, "discount_price": null}'
    assert lines[4:6] == ["rule      price: supplier price × 1", "          multiplier: 1"]
    assert lines[6] == (
        'target    sazito 501 price {"price": 10, "discount_price": null}: written by run 4 (full, success) '
        "at 2026-05-01T12:31:00+00:00; what the rule makes of the last read now"
    )
    assert lines[7].startswith("          request abc PUT https://s.test/bulk-update-price → 200 success at ")
    assert "the last of the run's 3 price calls" in lines[7]
    assert lines[8:] == ["failures  none open", "held      none"]


def test_the_story_as_text_without_a_snapshot_or_a_target_value() -> None:
    lines = story_lines(story(sources=[], targets=[], rule={}))
    assert lines[1:] == [
        "source    no snapshot: not read since snapshots are kept",
        "target    holds nothing we know of (no ledger entry, no row)",
        "failures  none open",
        "held      none",
    ]
