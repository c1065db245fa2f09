"""The store-inventory pipeline's pure parts and its checks: item → row, the auto strategy's choice, the
integration checks, a threshold's precedence, an alert message, the Sazito catalogue item → store item."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sync_core.connectors.sazito_store import store_item
from sync_core.connectors.store_items import StoreItem
from sync_core.engine.runs import finish_run, set_cursor, start_run
from sync_core.errors import ConfigError
from sync_core.models import CatalogueItem
from sync_core.pipelines.stores import integrations
from sync_core.pipelines.stores.alerts import message, threshold_of
from sync_core.pipelines.stores.job import CURSOR, choose_strategy
from sync_core.pipelines.stores.mapping import item_row, item_write
from sync_core.pipelines.stores.tables import InventoryItem, StockAlert
from sync_core.settings import Settings

ITEM = StoreItem(
    product_id="gid://shopify/Product/1",
    variant_id="gid://shopify/ProductVariant/2",
    sku="",
    title="Shirt / Red",
    price=Decimal("10"),
    compare_at_price=Decimal("12.5"),
    stock=7,
    managed=True,
    updated_at=datetime(2026, 11, 20, 7, 0, tzinfo=UTC) + timedelta(hours=-3),
)


def test_an_item_becomes_its_row_keyed_by_store_and_variant() -> None:
    write = item_write("main", ITEM)
    assert write.target_key == write.source_key == "main/gid://shopify/ProductVariant/2"
    row = item_row("main", ITEM)
    assert row["sku"] is None  # an empty SKU is none
    assert (row["price"], row["compare_at_price"]) == (Decimal("10.0000"), Decimal("12.5000"))
    assert row["source_updated_at"] == datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    unmanaged = item_row("main", StoreItem("p", "v", "S", "T", None, None, 3, False))
    assert (unmanaged["stock"], unmanaged["managed"], unmanaged["removed"]) == (None, False, False)


def test_a_sazito_variant_reads_its_discount_as_the_price_paid() -> None:
    item = store_item(
        CatalogueItem(
            "456",
            "123",
            "SKU-1",
            "Cotton T-shirt",
            "Red / L",
            {"price": {"price": 520000, "discount_price": 450000}, "stock": {"managed": True, "stock": 12}},
        )
    )
    assert (item.price, item.compare_at_price, item.stock, item.managed) == (
        Decimal(450000),
        Decimal(520000),
        12,
        True,
    )
    assert item.title == "Cotton T-shirt / Red / L"
    plain = store_item(
        CatalogueItem("1", "2", None, "Mug", None, {"price": {"price": 9, "discount_price": None}})
    )
    assert (plain.price, plain.compare_at_price, plain.stock, plain.managed) == (
        Decimal(9),
        None,
        None,
        False,
    )


def test_auto_reads_in_full_first_then_incrementally_and_woocommerce_in_full_every_so_often(
    settings: Settings,
) -> None:
    url, key = settings.database_url, "store-inventory@source=main"
    assert choose_strategy(settings, key, "shopify")[0] == "full"
    assert choose_strategy(settings, key, "sazito") == ("full", "sazito reports no modification times")
    run = start_run(url, pipeline=key, scope="full")
    finish_run(url, run_id=run, status="success")
    set_cursor(url, pipeline=key, key=CURSOR, value=datetime.now(UTC).isoformat())
    assert choose_strategy(settings, key, "shopify")[0] == "incremental"
    assert choose_strategy(settings, key, "woocommerce")[0] == "incremental"
    time.sleep(0.05)
    woo = choose_strategy(settings.model_copy(update={"woo_full_read_minutes": 0.0005}), key, "woocommerce")
    assert woo[0] == "full" and "WOO_FULL_READ_MINUTES" in woo[1]


@pytest.mark.parametrize(
    ("value", "ok"),
    [(None, True), ("", True), (0, True), ("12", True), (-1, False), ("1.5", False), (True, False)],
)
def test_a_threshold_is_a_whole_number_or_nothing(value: object, ok: bool) -> None:
    if ok:
        integrations.check_threshold(value)
    else:
        with pytest.raises(ConfigError, match="threshold must be a whole number"):
            integrations.check_threshold(value)


def test_names_the_engine_uses_are_refused() -> None:
    for name in ("sazito", "shopify", "store"):
        with pytest.raises(ConfigError, match="taken by the engine"):
            integrations.check_name(name)
    with pytest.raises(ConfigError, match="lower-case letters"):
        integrations.check_name("Main Shop")


def test_a_skus_own_threshold_wins_over_its_stores_then_the_default() -> None:
    item = InventoryItem(item_key="a/1", integration="a", product_id="p", variant_id="1", sku="S", title="T")
    stores = {"a": 4}
    assert threshold_of(item, stores, {}, 5) == 4
    assert threshold_of(item, stores, {("", "S"): 9}, 5) == 9
    assert threshold_of(item, stores, {("", "S"): 9, ("a", "S"): 1}, 5) == 1
    assert threshold_of(item, {}, {}, 5) == 5


def test_one_message_lists_the_alerts_and_counts_the_rest() -> None:
    alerts = [
        StockAlert(item_key=f"a/{n}", integration="a", sku=f"S{n}", title="T", stock=0, threshold=2)
        for n in range(52)
    ]
    subject, body = message(alerts)
    assert subject == "catalog-sync: 52 item(s) low on stock"
    assert body.splitlines()[0] == "- S0 T in a: 0 left (threshold 2)"
    assert body.splitlines()[-1] == "... and 2 more (catalog-sync alerts --open)"
