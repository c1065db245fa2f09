"""Request-body validation for the Sazito simulator's write endpoints (contracts/sazito.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeGuard

MAX_BULK = 50


class Malformed(ValueError):
    """The body cannot be used at all: the whole call is answered 422."""


@dataclass(frozen=True)
class PriceWrite:
    """One price write; `keep_discount` when the body left `discount_price` out."""

    price: int
    discount_price: int | None
    keep_discount: bool


@dataclass(frozen=True)
class StockWrite:
    """One per-variant stock write (`PUT /accounting/update-stock/{id}`)."""

    managed: bool
    stock: int | None
    relative: bool


def is_int(value: Any) -> TypeGuard[int]:
    """True for a JSON integer (a bool or a float is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def parse_json(raw: bytes) -> Any:
    """Decode a JSON body; raises Malformed when it is not JSON."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Malformed("body is not valid JSON") from exc


def bulk_entries(body: Any) -> list[dict[str, Any]]:
    """The `variants` list of a bulk body; raises Malformed when absent, too long or without integer ids."""
    if not isinstance(body, dict) or not isinstance(body.get("variants"), list):
        raise Malformed('body must be {"variants": [...]}')
    entries: list[Any] = body["variants"]
    if len(entries) > MAX_BULK:
        raise Malformed(f"at most {MAX_BULK} variants a call, got {len(entries)}")
    if not all(isinstance(e, dict) and is_int(e.get("id")) for e in entries):
        raise Malformed("every variant needs an integer id")
    return entries


def price_write(entry: dict[str, Any]) -> PriceWrite | None:
    """The price write an entry asks for, or None when its values are invalid."""
    price = entry.get("price")
    if not is_int(price) or price < 0:
        return None
    if "discount_price" not in entry:
        return PriceWrite(price, None, keep_discount=True)
    discount = entry["discount_price"]
    if discount is not None and (not is_int(discount) or discount < 0 or discount >= price):
        return None
    return PriceWrite(price, discount, keep_discount=False)


def bulk_stock(entry: dict[str, Any]) -> int | None:
    """The absolute stock a bulk entry asks for, or None when invalid."""
    stock = entry.get("stock")
    return stock if is_int(stock) and stock >= 0 else None


def stock_write(body: Any) -> StockWrite:
    """Parse an update-stock body; raises Malformed (422) when invalid."""
    if not isinstance(body, dict):
        raise Malformed("body must be a JSON object")
    managed, stock = body.get("is_stock_manager"), body.get("stock_number")
    relative = body.get("is_relative", False)
    if not isinstance(managed, bool) or not isinstance(relative, bool):
        raise Malformed("is_stock_manager and is_relative must be booleans")
    if managed and not is_int(stock):
        raise Malformed("stock_number must be an integer when is_stock_manager is true")
    if not managed and stock is not None and not is_int(stock):
        raise Malformed("stock_number must be an integer or null")
    if managed and not relative and is_int(stock) and stock < 0:
        raise Malformed("stock_number must be >= 0")
    return StockWrite(managed, stock, relative)


def new_product(body: Any) -> tuple[str, str, str, list[dict[str, Any]]]:
    """(name, product_type, description, variants) of a `POST /products` body; raises Malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("product"), dict):
        raise Malformed('body must be {"product": {...}, "product_variants": [...]}')
    product = body["product"]
    name, ptype, description = (
        product.get("name"),
        product.get("product_type", "simple"),
        product.get("description", ""),
    )
    if not isinstance(name, str) or not name.strip():
        raise Malformed("product.name is required")
    if not isinstance(ptype, str) or not isinstance(description, str | None):
        raise Malformed("product.product_type and product.description must be strings")
    variants = body.get("product_variants")
    if not isinstance(variants, list) or not variants:
        raise Malformed("product_variants must be a non-empty list")
    for i, v in enumerate(variants):
        if not isinstance(v, dict):
            raise Malformed(f"product_variants[{i}] must be an object")
        sku, managed, stock = v.get("sku"), v.get("is_stock_managed", True), v.get("stock_number")
        if sku is not None and not isinstance(sku, str):
            raise Malformed(f"product_variants[{i}].sku must be a string or null")
        if not isinstance(managed, bool) or (stock is not None and (not is_int(stock) or stock < 0)):
            raise Malformed(f"product_variants[{i}] has an invalid is_stock_managed or stock_number")
        if managed and stock is None:
            raise Malformed(f"product_variants[{i}].stock_number is required when stock-managed")
        write = price_write(v)
        if write is None:
            raise Malformed(f"product_variants[{i}] has an invalid price or discount_price")
        if "title" in v and not isinstance(v["title"], str):
            raise Malformed(f"product_variants[{i}].title must be a string")
    return name, ptype, description or "", variants
