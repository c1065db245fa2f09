"""WooCommerce products and variations (contract: /work/shared/contracts/woocommerce.md) as StoreItems.

Prices are strings (``""`` = unset) read as exact decimals; the regular price is the compare-at price while
a sale is on. ``manage_stock`` is true, false or "parent" (a variation whose product manages its stock: the
product's ``stock_quantity``). A record that cannot be read is a RejectedItem, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sync_core.connectors.store_items import ItemPage, RejectedItem, StoreItem
from sync_core.connectors.woocommerce_wire import gmt, record_id


def _money(raw: dict[str, Any], name: str) -> Decimal | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"{name} {value!r} is not a price")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{name} {value!r} is not a price") from None
    if not number.is_finite():
        raise ValueError(f"{name} {value!r} is not a price")
    return number


def _quantity(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise ValueError(f"stock_quantity {value!r} is not a whole number")


@dataclass(frozen=True, slots=True)
class Parent:
    """What a variation takes from its variable product: the title, and the stock when it manages it."""

    id: int
    name: str
    manage_stock: Any
    stock_quantity: Any


def parent_of(raw: dict[str, Any]) -> Parent | None:
    """The Parent of a variable product's record (None for a record without an id)."""
    product_id = record_id(raw)
    if product_id is None:
        return None
    name = raw.get("name")
    return Parent(
        product_id, name if isinstance(name, str) else "", raw.get("manage_stock"), raw.get("stock_quantity")
    )


def _stock(raw: dict[str, Any], parent: Parent | None) -> tuple[bool, int | None]:
    """(managed, stock): true, false or "parent" (the parent manages it: its stock_quantity)."""
    manage = raw.get("manage_stock")
    if manage == "parent":
        own = _quantity(raw.get("stock_quantity"))
        if parent is not None and parent.manage_stock is True:
            from_parent = _quantity(parent.stock_quantity)
            own = from_parent if from_parent is not None else own
        if own is None:
            raise ValueError('manage_stock "parent" without a stock_quantity')
        return True, own
    if manage is False:
        return False, None
    if manage is True:
        quantity = _quantity(raw.get("stock_quantity"))
        if quantity is None:
            raise ValueError("manage_stock true without a stock_quantity")
        return True, quantity
    raise ValueError(f'manage_stock {manage!r} is not true, false or "parent"')


def _prices(raw: dict[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """(price, compare_at_price): the regular price is the one compared with while a sale price is set and
    the current price is not the regular one (a sale scheduled for later is not on yet)."""
    price, regular, sale = _money(raw, "price"), _money(raw, "regular_price"), _money(raw, "sale_price")
    on_sale = sale is not None and regular is not None and price != regular
    return price, regular if on_sale else None


def _sku(raw: dict[str, Any]) -> str | None:
    sku = raw.get("sku")
    return sku.strip() or None if isinstance(sku, str) else None


def simple_item(raw: dict[str, Any], product_id: int) -> StoreItem | RejectedItem:
    """The StoreItem of a simple product (its own single variant)."""
    try:
        price, compare_at = _prices(raw)
        managed, stock = _stock(raw, None)
    except ValueError as exc:
        return RejectedItem(str(product_id), f"product {product_id}: {exc}")
    name = raw.get("name")
    return StoreItem(
        product_id=str(product_id),
        variant_id=str(product_id),
        sku=_sku(raw),
        title=name if isinstance(name, str) else "",
        price=price,
        compare_at_price=compare_at,
        stock=stock,
        managed=managed,
        updated_at=gmt(raw.get("date_modified_gmt")),
    )


def _options(raw: dict[str, Any]) -> list[str]:
    attributes = raw.get("attributes")
    options = (
        [a.get("option") for a in attributes if isinstance(a, dict)] if isinstance(attributes, list) else []
    )
    return [o.strip() for o in options if isinstance(o, str) and o.strip()]


def variation_item(raw: Any, parent_id: int | None, parent: Parent | None) -> StoreItem | RejectedItem:
    """The StoreItem of a variation of ``parent_id`` (its ``parent_id`` field when None); the title is the
    product's name then its options ("Shirt / Red L")."""
    variation_id = record_id(raw)
    if variation_id is None:
        return RejectedItem(str(parent_id or "?"), f"a variation without an id: {str(raw)[:120]}")
    assert isinstance(raw, dict)
    if parent_id is None:
        given = raw.get("parent_id")
        parent_id = given if isinstance(given, int) and not isinstance(given, bool) and given > 0 else None
    if parent_id is None:
        return RejectedItem(str(variation_id), f"variation {variation_id}: no parent_id")
    try:
        price, compare_at = _prices(raw)
        managed, stock = _stock(raw, parent)
    except ValueError as exc:
        return RejectedItem(str(variation_id), f"variation {variation_id} of {parent_id}: {exc}")
    own = raw.get("name")
    base = parent.name if parent is not None and parent.name else own if isinstance(own, str) and own else ""
    options = " ".join(_options(raw))
    return StoreItem(
        product_id=str(parent_id),
        variant_id=str(variation_id),
        sku=_sku(raw),
        title=f"{base} / {options}" if base and options else base or options or f"#{variation_id}",
        price=price,
        compare_at_price=compare_at,
        stock=stock,
        managed=managed,
        updated_at=gmt(raw.get("date_modified_gmt")),
    )


def page_of(found: Sequence[StoreItem | RejectedItem], following: str | None, count: int | None) -> ItemPage:
    """An ItemPage of what was read: the items, the rejects, the next token and the listing's total."""
    items = [item for item in found if isinstance(item, StoreItem)]
    return ItemPage(items, [item for item in found if isinstance(item, RejectedItem)], following, count)
