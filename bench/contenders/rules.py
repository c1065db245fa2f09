"""The Anar360 → Sazito value rules of contracts/sazito.md (multiplier 1, markup 0), shared by the contenders.

A target row is a plain dict: `variant_id` (Sazito), `price`, `discount_price` (int or None),
`stock_managed` (bool) and `stock_number` (int, or None when not stock-managed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Row = dict[str, Any]


def _is_int(value: Any) -> bool:
    """True for a JSON integer (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def product_id(product: dict[str, Any]) -> str | None:
    """The Anar360 product id, carried as `id` or `_id`."""
    value = product.get("id") or product.get("_id")
    return str(value) if value is not None else None


def product_available(product: dict[str, Any]) -> bool:
    """False when the product is editing-pending or has no shipment with `"active": true`."""
    if product.get("resellStatus") == "editing-pending":
        return False
    shipments = product.get("shipments") or []
    return any(isinstance(s, dict) and s.get("active") is True for s in shipments)


def well_formed(variant: Any) -> bool:
    """True when the variant has a string `_id`, a non-negative integer price and an int-or-null stock."""
    if not isinstance(variant, dict) or not isinstance(variant.get("_id"), str):
        return False
    price, stock = variant.get("price"), variant.get("stock")
    return _is_int(price) and price >= 0 and (stock is None or _is_int(stock))


def target_price(variant: dict[str, Any]) -> tuple[int, int | None]:
    """(price, discount_price): labelPrice is the regular price when it exceeds price, else no discount."""
    price, label = variant["price"], variant.get("labelPrice")
    if _is_int(label) and label > price:
        return label, price
    return price, None


def target_stock(variant: dict[str, Any], available: bool) -> tuple[bool, int | None]:
    """(stock_managed, stock_number): 0 managed when unavailable, unmanaged for a null stock."""
    if not available:
        return True, 0
    stock = variant.get("stock")
    return (False, None) if stock is None else (True, stock)


def sku_map(store_products: Iterable[dict[str, Any]]) -> dict[str, list[int]]:
    """sku → Sazito variant ids, from catalogue products (`product_variants[].sku`); null skus are skipped."""
    links: dict[str, list[int]] = {}
    for product in store_products:
        for variant in product.get("product_variants") or []:
            sku = variant.get("sku")
            if isinstance(sku, str) and sku:
                links.setdefault(sku, []).append(int(variant["id"]))
    return links


def product_rows(product: dict[str, Any], links: dict[str, list[int]]) -> tuple[list[Row], int, int]:
    """(target rows for the linked variants, variants seen, bad variants skipped) for one Anar360 product."""
    variants = product.get("variants") or []
    available = product_available(product)
    rows: list[Row] = []
    bad = 0
    for variant in variants:
        if not well_formed(variant):
            bad += 1
            continue
        price, discount = target_price(variant)
        managed, stock = target_stock(variant, available)
        for variant_id in links.get(variant["_id"], []):
            rows.append(
                {
                    "variant_id": variant_id,
                    "price": price,
                    "discount_price": discount,
                    "stock_managed": managed,
                    "stock_number": stock,
                }
            )
    return rows, len(variants), bad
