from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sync_core.connectors.anar360 import SupplierProduct, SupplierVariant
from sync_core.errors import MappingError
from sync_core.mapping.anar360_sazito import (
    Plausible,
    PriceRule,
    is_available,
    new_product,
    price_value,
    stock_value,
    variant_writes,
)
from sync_core.mapping.titles import normalise, title_key


def variant(**kw: object) -> SupplierVariant:
    base: dict[str, object] = {
        "key": "v1",
        "attributes": {"color": "Red"},
        "price": 450000,
        "label_price": None,
        "stock": 12,
    }
    base.update(kw)
    return SupplierVariant(**base)  # type: ignore[arg-type]


def product(*variants: SupplierVariant, **kw: object) -> SupplierProduct:
    base: dict[str, object] = {
        "key": "p1",
        "title": "Cotton T-shirt",
        "status": "active",
        "resell_status": "approved",
        "has_active_shipment": True,
        "updated_at": None,
        "variants": variants or (variant(),),
    }
    base.update(kw)
    return SupplierProduct(**base)  # type: ignore[arg-type]


RULE = PriceRule()


def test_label_price_above_price_is_regular_price_and_price_the_discount() -> None:
    assert price_value(variant(price=450000, label_price=520000), RULE) == {
        "price": 520000,
        "discount_price": 450000,
    }


@pytest.mark.parametrize("label", [None, 450000, 400000])
def test_without_a_higher_label_price_there_is_no_discount(label: int | None) -> None:
    assert price_value(variant(price=450000, label_price=label), RULE) == {
        "price": 450000,
        "discount_price": None,
    }


def test_multiplier_and_markup_round_half_up() -> None:
    rule = PriceRule(Decimal(10), Decimal("2.5"))
    assert rule.apply(1) == 10 + 0  # 10.25 -> 10
    assert PriceRule(Decimal(1), Decimal(50)).apply(1) == 2  # 1.5 -> 2, not banker's 2 by luck
    assert PriceRule(Decimal(1), Decimal(50)).apply(5) == 8  # 7.5 -> 8 (banker's rounding would give 8 too)
    assert PriceRule(Decimal(1), Decimal(50)).apply(3) == 5  # 4.5 -> 5 (banker's would give 4)
    assert price_value(variant(price=1000, label_price=1200), rule) == {
        "price": 12300,
        "discount_price": 10250,
    }


def test_rounding_that_makes_discount_equal_to_price_drops_the_discount() -> None:
    rule = PriceRule(Decimal("0.001"), Decimal(0))
    assert price_value(variant(price=1000, label_price=1100), rule) == {"price": 1, "discount_price": None}


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"price": None}, "missing-price"),
        ({"price": -1}, "negative-price"),
        ({"label_price": -5}, "negative-price"),
    ],
)
def test_bad_prices_raise_mapping_error_naming_the_variant(kw: dict[str, object], reason: str) -> None:
    with pytest.raises(MappingError) as caught:
        price_value(variant(**kw), RULE)
    assert caught.value.key == "v1" and caught.value.reason == reason


def test_stock_rules() -> None:
    assert stock_value(product(), variant(stock=12)) == {"managed": True, "stock": 12}
    assert stock_value(product(), variant(stock=None)) == {"managed": False, "stock": None}
    assert stock_value(product(resell_status="editing-pending"), variant(stock=None)) == {
        "managed": True,
        "stock": 0,
    }
    assert stock_value(product(has_active_shipment=False), variant(stock=7)) == {"managed": True, "stock": 0}
    with pytest.raises(MappingError):
        stock_value(product(), variant(stock=-3))


def test_availability() -> None:
    assert is_available(product())
    assert not is_available(product(resell_status="editing-pending"))
    assert not is_available(product(has_active_shipment=False))


def test_variant_writes_are_absolute_price_and_stock_values() -> None:
    writes = variant_writes(product(), variant(label_price=500000), "456", RULE)
    assert [(w.kind, w.target_key, w.source_key) for w in writes] == [
        ("price", "456", "v1"),
        ("stock", "456", "v1"),
    ]
    assert writes[0].value == {"price": 500000, "discount_price": 450000}
    assert (
        writes[0].fingerprint
        == variant_writes(product(), variant(label_price=500000), "456", RULE)[0].fingerprint
    )
    assert (
        writes[0].fingerprint
        != variant_writes(product(), variant(label_price=500001), "456", RULE)[0].fingerprint
    )


def test_new_product_carries_each_variant_with_its_sku_values() -> None:
    created = new_product(product(variant(key="a", stock=None), variant(key="b", stock=3)), RULE)
    assert created.name == "Cotton T-shirt"
    assert created.variants == (
        ("a", {"price": 450000, "is_stock_managed": False, "stock_number": 0}),
        ("b", {"price": 450000, "is_stock_managed": True, "stock_number": 3}),
    )


def test_title_normalisation_folds_case_spaces_letters_and_digits() -> None:
    assert normalise("  Cotton   T-Shirt ") == normalise("cotton t shirt")
    assert normalise("كيف ۱۲") == normalise("کیف 12")
    assert normalise("كيف ١٢") == "کیف 12"
    assert title_key("Shirt", ["L", "Red"]) == title_key("SHIRT", ["red", " l"])
    assert title_key("Shirt", ["L"]) != title_key("Shirt", ["M"])


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"price": 10**20}, "implausible-price"),
        ({"price": 1000, "label_price": 10**13}, "implausible-price"),
        ({"stock": 5_000_000}, "implausible-stock"),
    ],
)
def test_implausible_values_are_refused_not_written(kw: dict[str, Any], reason: str) -> None:
    with pytest.raises(MappingError) as refused:
        variant_writes(product(), variant(**kw), "456", RULE, Plausible(Decimal(10**12), 1_000_000))
    assert refused.value.reason == reason and "PLAUSIBLE_" in str(refused.value)


def test_plausibility_bounds_are_settings() -> None:
    low = Plausible(max_price=Decimal(500), max_stock=10)
    assert price_value(variant(price=500), RULE, low)["price"] == 500
    with pytest.raises(MappingError, match="above PLAUSIBLE_PRICE_MAX \\(500\\)"):
        price_value(variant(price=501), RULE, low)
    with pytest.raises(MappingError, match="above PLAUSIBLE_STOCK_MAX \\(10\\)"):
        stock_value(product(), variant(stock=11), low)
