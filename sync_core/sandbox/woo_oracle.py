"""The oracle of a WooCommerce catalogue read: the inventory rows a correct full sync holds, from the
simulator's own records (never from an answer's JSON or the connector's code).

One row per sellable item, by item id: a simple product, or a variation of a variable product (grouped and
external products have none). ``product_id`` and ``variant_id`` are strings (a simple product is its own
variant); ``sku`` None when empty; ``title`` the product's name, a variation's followed by " / " and its
options ("Cotton Shirt / Red L"); ``price`` the current price and ``compare_at_price`` the regular one while
on sale (else None), as Decimals; ``stock`` None when unmanaged (``managed`` false); a "parent"-managed
variation holds its parent's stock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sync_core.sandbox.woo_catalogue import WooProduct, WooVariation
from sync_core.sandbox.woo_state import WooState

ROW_FIELDS = ("product_id", "variant_id", "sku", "title", "price", "compare_at_price", "stock", "managed")


def _row(item: WooProduct | WooVariation, parent: WooProduct | None) -> dict[str, Any]:
    if isinstance(item, WooVariation):
        assert parent is not None
        title = f"{parent.name} / {' '.join(option for _, option in item.attributes)}"
        owner: WooProduct | WooVariation = parent if item.manage_stock == "parent" else item
        managed = item.manage_stock == "parent" or item.manage_stock is True
        product_id = parent.id
    else:
        title, owner, managed, product_id = item.name, item, item.manage_stock is True, item.id
    return {
        "product_id": str(product_id),
        "variant_id": str(item.id),
        "sku": item.sku or None,
        "title": title,
        "price": item.price,
        "compare_at_price": item.regular_price if item.sale_price is not None else None,
        "stock": owner.stock_quantity if managed else None,
        "managed": managed,
    }


def woo_oracle(state: WooState) -> list[dict[str, Any]]:
    """The expected rows (ROW_FIELDS), by variant id ascending; prices are Decimals."""
    rows: list[dict[str, Any]] = []
    with state.lock:
        for product in state.products.values():
            if product.type == "simple":
                rows.append(_row(product, None))
            elif product.type == "variable":
                rows += [_row(state.variations[v], product) for v in product.variations]
    return sorted(rows, key=lambda row: int(row["variant_id"]))


def oracle_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows JSON-ready: prices as decimal strings ("21.99")."""
    return [{k: str(v) if isinstance(v, Decimal) else v for k, v in row.items()} for row in rows]
