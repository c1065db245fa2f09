"""Oracles of the store inventory: the ``inventory_items`` rows a correct sync of a sandbox store holds, and a
report comparing them with the table. The Sazito store's is here; Shopify's and WooCommerce's come from their
simulators (the same row shape: product_id, variant_id, sku, title, price, compare_at_price, stock, managed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from sync_core.db import session_scope
from sync_core.sandbox.state import SandboxState

COMPARED = ("product_id", "sku", "title", "price", "compare_at_price", "stock", "managed")


def sazito_inventory(state: SandboxState) -> list[dict[str, Any]]:
    """Every variant of the sandbox's Sazito store as an inventory row (the price paid is the discount price
    when there is one; the list price is then what it is compared at)."""
    rows = []
    with state.lock:
        catalogue = state.catalogue
        for product in catalogue.store_products.values():
            for vid in product.variant_ids:
                v = catalogue.store_variants[vid]
                title = (
                    product.name if not v.title or v.title == product.name else f"{product.name} / {v.title}"
                )
                discounted = v.discount_price is not None
                rows.append(
                    {
                        "product_id": str(product.id),
                        "variant_id": str(v.id),
                        "sku": v.sku or None,
                        "title": title,
                        "price": Decimal(v.discount_price if discounted else v.price),  # type: ignore[arg-type]
                        "compare_at_price": Decimal(v.price) if discounted else None,
                        "stock": v.stock_number if v.is_stock_managed else None,
                        "managed": bool(v.is_stock_managed),
                    }
                )
    return rows


def store_oracle(state: SandboxState, platform: str) -> list[dict[str, Any]]:
    """The inventory rows a correct full sync of the sandbox's ``platform`` store holds."""
    if platform == "shopify":
        return state.shopify.oracle()
    if platform == "woocommerce":
        from sync_core.sandbox.woo_oracle import woo_oracle

        return woo_oracle(state.woo)
    if platform == "sazito":
        return sazito_inventory(state)
    raise ValueError(f"the sandbox has no {platform} store")


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if (
        isinstance(a, Decimal | int | float | str)
        and isinstance(b, Decimal | int | float | str)
        and not isinstance(a, bool)
    ):
        try:
            return Decimal(str(a)) == Decimal(str(b))
        except ArithmeticError:
            return str(a) == str(b)
    return bool(a == b)


def compare_inventory(
    url: str, integration: str, expected: Iterable[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """How ``inventory_items`` of ``integration`` differs from ``expected``: variant ids missing, extra (kept
    and not marked removed), and (variant id, column, held, wanted) for each differing value."""
    from sync_core.pipelines.stores.tables import InventoryItem

    wanted = {str(row["variant_id"]): row for row in expected}
    with session_scope(url) as session:
        held = {
            row.variant_id: row
            for row in session.exec(
                select(InventoryItem).where(
                    col(InventoryItem.integration) == integration, col(InventoryItem.removed).is_(False)
                )
            )
        }
    differing = [
        (vid, name, getattr(held[vid], name), row[name])
        for vid, row in wanted.items()
        if vid in held
        for name in COMPARED
        if name in row and not _same(getattr(held[vid], name), row[name])
    ]
    return {
        "missing": sorted(set(wanted) - set(held)),
        "extra": sorted(set(held) - set(wanted)),
        "differing": differing,
    }
