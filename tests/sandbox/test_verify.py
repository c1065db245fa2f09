from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from sync_core.sandbox import SandboxConfig, SandboxHandle, SandboxState, expected_writes, verify_store
from sync_core.sandbox.rules import VariantValues, convert_price, expected_values

SHIP = [{"type": "standard", "active": True, "delivery": []}]


@pytest.mark.parametrize(
    ("x", "m", "k", "out"),
    [
        (5, "0.1", "0", 1),  # 0.5 rounds half up
        (4, "0.1", "0", 0),
        (1234, "10", "12.5", 13883),  # 13882.5
        (1000, "1", "0", 1000),
    ],
)
def test_convert_price_rounds_half_up(x: int, m: str, k: str, out: int) -> None:
    assert convert_price(x, Decimal(m), Decimal(k)) == out


@pytest.mark.parametrize(
    ("product", "variant", "values"),
    [
        ({"shipments": SHIP}, {"price": 1000, "labelPrice": 1200, "stock": 5}, (1200, 1000, True, 5)),
        ({"shipments": SHIP}, {"price": 1000, "labelPrice": 1000, "stock": 5}, (1000, None, True, 5)),
        ({"shipments": SHIP}, {"price": 1000, "stock": None}, (1000, None, False, None)),
        (
            {"shipments": SHIP, "resellStatus": "editing-pending"},
            {"price": 1000, "stock": None},
            (1000, None, True, 0),
        ),
        ({}, {"price": 1000, "stock": 9}, (1000, None, True, 0)),
        ({"shipments": []}, {"price": 1000, "stock": 9}, (1000, None, True, 0)),
        ({"shipments": [{"active": False}]}, {"price": 1000, "stock": 9}, (1000, None, True, 0)),
    ],
)
def test_expected_values_follow_the_contract(product: dict, variant: dict, values: tuple) -> None:
    assert expected_values(product, variant) == VariantValues(*values)


def test_fresh_store_is_mostly_stale() -> None:
    state = SandboxState(SandboxConfig(products=100, in_sync_fraction=0.2, unlinked_fraction=0.1))
    report = verify_store(state)
    assert not report.ok
    assert report.correct == round((report.correct + len(report.wrong)) * 0.2)
    assert report.unlinked == 10 * 3
    assert expected_writes(state) >= len(report.wrong)


def test_applying_correct_values_through_the_api_makes_the_store_correct(
    sandbox: SandboxHandle, sazito: httpx.Client
) -> None:
    m, k = Decimal("10"), Decimal("9")
    wrong = verify_store(sandbox.state, m, k).wrong
    prices = [{"id": vid, "price": e.price, "discount_price": e.discount_price} for vid, e, _ in wrong]
    for i in range(0, len(prices), 50):
        assert (
            sazito.put("/accounting/bulk-update-price", json={"variants": prices[i : i + 50]}).status_code
            == 200
        )
    for vid, expected, _ in wrong:
        body = {
            "is_stock_manager": expected.is_stock_managed,
            "stock_number": expected.stock_number or 0,
            "is_relative": False,
        }
        assert sazito.put(f"/accounting/update-stock/{vid}", json=body).status_code == 200
    report = verify_store(sandbox.state, m, k)
    assert report.ok and report.correct >= len(wrong)
    assert expected_writes(sandbox.state, m, k) == 0
    assert not verify_store(sandbox.state).ok  # under other price rules the store is wrong again


def test_expected_writes_counts_price_and_stock_aspects(sandbox: SandboxHandle) -> None:
    state = sandbox.state
    for vid, expected, _ in verify_store(state).wrong:
        variant = state.catalogue.store_variants[vid]
        variant.price, variant.discount_price, variant.is_stock_managed, variant.stock_number = expected
    assert expected_writes(state) == 0
    variants = state.catalogue.store_variants
    a, b = [
        vid
        for vid in sorted(variants)
        if variants[vid].sku in state.catalogue.variant_index and variants[vid].is_stock_managed
    ][:2]
    variants[a].price += 1
    variants[b].price += 1
    variants[b].stock_number = (variants[b].stock_number or 0) + 1
    assert expected_writes(state) == 3
    assert {vid for vid, _, _ in verify_store(state).wrong} == {a, b}


def test_broken_supplier_products_are_not_checked() -> None:
    clean = SandboxState(SandboxConfig(products=50, unlinked_fraction=0))
    broken = SandboxState(SandboxConfig(products=50, unlinked_fraction=0, bad_record_fraction=0.2))
    checked = lambda s: (r := verify_store(s)).correct + len(r.wrong)  # noqa: E731
    assert checked(clean) == 150 and checked(broken) == 120


def test_admin_verify_endpoint(sandbox: SandboxHandle, admin: httpx.Client) -> None:
    body = admin.get("/verify", params={"multiplier": "10", "markup_percent": "0"}).json()
    report = verify_store(sandbox.state, Decimal(10))
    assert body["correct"] == report.correct and body["wrong_count"] == len(report.wrong)
    assert body["expected_writes"] == expected_writes(sandbox.state, Decimal(10))
    assert admin.get("/verify", params={"multiplier": "x"}).status_code == 400
