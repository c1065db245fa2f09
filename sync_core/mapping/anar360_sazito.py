"""The contract's rules from an Anar360 product to Sazito price and stock values (pure functions)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sync_core.connectors.anar360 import SupplierProduct, SupplierVariant
from sync_core.errors import MappingError
from sync_core.models import NewProduct, Write

UNAVAILABLE_RESELL_STATUSES = frozenset({"editing-pending"})


@dataclass(frozen=True, slots=True)
class PriceRule:
    """Store price = round_half_up(supplier price × multiplier × (1 + markup_percent / 100))."""

    multiplier: Decimal = Decimal(1)
    markup_percent: Decimal = Decimal(0)

    def apply(self, amount: int) -> int:
        scaled = Decimal(amount) * self.multiplier * (1 + self.markup_percent / 100)
        return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Plausible:
    """Upper bounds of a believable supplier value (PLAUSIBLE_PRICE_MAX, PLAUSIBLE_STOCK_MAX): beyond them a
    variant is quarantined, never written (a price of 1e20 is a supplier's error, not a price)."""

    max_price: Decimal = Decimal(10**12)
    max_stock: int = 1_000_000


PLAUSIBLE = Plausible()


def is_available(product: SupplierProduct) -> bool:
    """False when the vendor's plugin would show the product as out of stock (editing-pending, no shipment)."""
    return product.has_active_shipment and product.resell_status not in UNAVAILABLE_RESELL_STATUSES


def price_value(
    variant: SupplierVariant, rule: PriceRule, plausible: Plausible = PLAUSIBLE
) -> dict[str, Any]:
    """Sazito {"price", "discount_price"} for a variant; raises MappingError on a missing, negative or
    implausible price."""
    if variant.price is None:
        raise MappingError(f"variant {variant.key} has no price", key=variant.key, reason="missing-price")
    if variant.price < 0 or (variant.label_price is not None and variant.label_price < 0):
        raise MappingError(
            f"variant {variant.key} has a negative price", key=variant.key, reason="negative-price"
        )
    highest = max(variant.price, variant.label_price or 0)
    if highest > plausible.max_price:
        raise MappingError(
            f"variant {variant.key} has a price of {highest}, above PLAUSIBLE_PRICE_MAX ({plausible.max_price})",
            key=variant.key,
            reason="implausible-price",
        )
    if variant.label_price is not None and variant.label_price > variant.price:
        regular, sale = rule.apply(variant.label_price), rule.apply(variant.price)
        # Rounding can make the two equal; Sazito refuses discount_price >= price, and no discount is the truth.
        return {"price": regular, "discount_price": sale if sale < regular else None}
    return {"price": rule.apply(variant.price), "discount_price": None}


def stock_value(
    product: SupplierProduct, variant: SupplierVariant, plausible: Plausible = PLAUSIBLE
) -> dict[str, Any]:
    """Sazito {"managed", "stock"}: 0 when unavailable, unmanaged for a null stock, else the stock; raises
    MappingError on a negative or implausible stock."""
    if not is_available(product):
        return {"managed": True, "stock": 0}
    if variant.stock is None:
        return {"managed": False, "stock": None}
    if variant.stock < 0:
        raise MappingError(
            f"variant {variant.key} has a negative stock", key=variant.key, reason="negative-stock"
        )
    if variant.stock > plausible.max_stock:
        raise MappingError(
            f"variant {variant.key} has a stock of {variant.stock}, above PLAUSIBLE_STOCK_MAX "
            f"({plausible.max_stock})",
            key=variant.key,
            reason="implausible-stock",
        )
    return {"managed": True, "stock": variant.stock}


def variant_writes(
    product: SupplierProduct,
    variant: SupplierVariant,
    target_key: str,
    rule: PriceRule,
    plausible: Plausible = PLAUSIBLE,
) -> list[Write]:
    """The price and stock writes that make ``target_key`` correct for ``variant``."""
    return [
        Write("price", target_key, variant.key, price_value(variant, rule, plausible)),
        Write("stock", target_key, variant.key, stock_value(product, variant, plausible)),
    ]


def new_product(product: SupplierProduct, rule: PriceRule, plausible: Plausible = PLAUSIBLE) -> NewProduct:
    """The Sazito product to create for an unlinked supplier product (create_missing_products)."""
    variants = []
    for variant in product.variants:
        price = price_value(variant, rule, plausible)
        stock = stock_value(product, variant, plausible)
        variants.append(
            (
                variant.key,
                {
                    "price": price["price"],
                    "is_stock_managed": stock["managed"],
                    "stock_number": stock["stock"] or 0,
                },
            )
        )
    return NewProduct(
        source_key=product.key, name=product.title, description=product.description, variants=tuple(variants)
    )


def variant_snapshot(product: SupplierProduct, variant: SupplierVariant) -> dict[str, Any]:
    """What the rules read of a variant and its product, as a source snapshot keeps it (``catalog-sync
    explain``); :func:`snapshot_values` makes the store's values of it again."""
    return {
        "product": product.key,
        "title": product.title,
        "price": variant.price,
        "label_price": variant.label_price,
        "stock": variant.stock,
        "resell_status": product.resell_status,
        "active_shipment": product.has_active_shipment,
        "updated_at": product.updated_at.isoformat() if product.updated_at else None,
    }


def snapshot_values(
    key: str, snapshot: dict[str, Any], rule: PriceRule, plausible: Plausible = PLAUSIBLE
) -> dict[str, Any]:
    """Kind → the value the rules make of a variant snapshot (:func:`variant_snapshot`), ``{"error":
    reason}`` for one they refuse."""
    variant = SupplierVariant(key, {}, snapshot["price"], snapshot["label_price"], snapshot["stock"])
    product = SupplierProduct(
        snapshot["product"],
        snapshot["title"],
        None,
        snapshot["resell_status"],
        snapshot["active_shipment"],
        None,
        (variant,),
    )
    makers: dict[str, Callable[[], dict[str, Any]]] = {
        "price": lambda: price_value(variant, rule, plausible),
        "stock": lambda: stock_value(product, variant, plausible),
    }
    values: dict[str, Any] = {}
    for kind, make in makers.items():
        try:
            values[kind] = make()
        except MappingError as exc:
            values[kind] = {"error": exc.reason}
    return values


def guarded_stock(value: Mapping[str, Any]) -> int | None:
    """The stock a Sazito stock value holds for the guardrail (none when the store does not manage it)."""
    return value.get("stock") if value.get("managed") else None


def guarded_price(value: Mapping[str, Any]) -> int | None:
    """The price a Sazito price value sells at: the discount price when there is one."""
    sale = value.get("discount_price")
    return sale if sale is not None else value.get("price")
