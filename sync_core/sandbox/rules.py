"""The Anar360 → Sazito value rules of sazito.md, written independently of the engine's mapping code.

Used by the catalogue generator (to seed in-sync variants) and by the verify oracle.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple


class VariantValues(NamedTuple):
    """The four values that make a Sazito variant correct; `stock_number` is None when unmanaged."""

    price: int
    discount_price: int | None
    is_stock_managed: bool
    stock_number: int | None


def convert_price(x: int, multiplier: Decimal = Decimal(1), markup_percent: Decimal = Decimal(0)) -> int:
    """f(x) = round-half-up(x × m × (1 + k/100)) to an integer."""
    if multiplier == 1 and markup_percent == 0:
        return int(x)
    value = Decimal(x) * Decimal(multiplier) * (1 + Decimal(markup_percent) / 100)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def product_available(product: dict[str, Any]) -> bool:
    """False when the product is editing-pending or has no active shipment (anar360.md)."""
    if product.get("resellStatus") == "editing-pending":
        return False
    for shipment in product.get("shipments") or ():
        if isinstance(shipment, dict) and shipment.get("active") is True:
            return True
    return False


def expected_values(
    product: dict[str, Any],
    variant: dict[str, Any],
    multiplier: Decimal = Decimal(1),
    markup_percent: Decimal = Decimal(0),
    available: bool | None = None,
) -> VariantValues:
    """The correct Sazito values for one well-formed Anar360 variant of `product`.

    `available` may pass a precomputed `product_available(product)`.
    """
    price = int(variant["price"])
    label = variant.get("labelPrice")
    if isinstance(label, int) and label > price:
        new_price = convert_price(label, multiplier, markup_percent)
        discount: int | None = convert_price(price, multiplier, markup_percent)
    else:
        new_price, discount = convert_price(price, multiplier, markup_percent), None
    if not (product_available(product) if available is None else available):
        return VariantValues(new_price, discount, True, 0)
    stock = variant.get("stock")
    if stock is None:
        return VariantValues(new_price, discount, False, None)
    return VariantValues(new_price, discount, True, int(stock))


def variant_is_well_formed(variant: Any) -> bool:
    """True when the variant has a string `_id`, an integer price >= 0 and a sane stock."""
    if not isinstance(variant, dict) or not isinstance(variant.get("_id"), str):
        return False
    price = variant.get("price")
    if not isinstance(price, int) or isinstance(price, bool) or price < 0:
        return False
    stock = variant.get("stock")
    return stock is None or (isinstance(stock, int) and not isinstance(stock, bool))
