"""Sazito's wire format: the bodies the connector sends and the answers it reads.

The envelope rule (``reader``), the catalogue's answer models and StoreVariant with its CatalogueItem view, the
per-variant and bulk write bodies built from canonical write values (raising InvalidRequest, not sent, for a
malformed write), the failed-variant lists of a bulk answer, and the variants of a product create.
Contract: /work/shared/contracts/sazito.md; the connector is sync_core.connectors.sazito.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

from sync_core import errors
from sync_core.models import CatalogueItem, Write

BULK_MAX = 50  # the API refuses a bulk call of more than 50 variants with a 422 for the whole call
BULK_PATHS = {"price": "/accounting/bulk-update-price", "stock": "/accounting/bulk-update-stock"}


@dataclass(frozen=True, slots=True)
class StoreVariant:
    """A variant as read from the store's catalogue; None means 'not reported'."""

    id: str
    product_id: str
    product_name: str
    title: str | None
    sku: str | None
    price: int | None = None
    discount_price: int | None = None
    is_stock_managed: bool | None = None
    stock_number: int | None = None


def _current_values(variant: StoreVariant) -> dict[str, dict[str, Any]]:
    """The price and stock values the catalogue reports, in the canonical write shapes (kind → value)."""
    values: dict[str, dict[str, Any]] = {}
    if variant.price is not None:
        values["price"] = {"price": variant.price, "discount_price": variant.discount_price}
    if variant.is_stock_managed is not None:
        stock = variant.stock_number if variant.is_stock_managed else None
        values["stock"] = {"managed": variant.is_stock_managed, "stock": stock}
    return values


def catalogue_item(variant: StoreVariant) -> CatalogueItem:
    """The engine's view of a catalogue variant: its keys, names and the values it holds."""
    return CatalogueItem(
        key=variant.id,
        product_key=variant.product_id,
        sku=variant.sku,
        product_name=variant.product_name,
        title=variant.title,
        holds=_current_values(variant),
    )


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Num = Annotated[int | None, BeforeValidator(_int_or_none)]  # an unreadable number is "not reported"
Text = Annotated[str, BeforeValidator(_text)]


class VariantAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Text
    title: str | None = None
    sku: Text | None = None
    price: Num = None
    discount_price: Num = None
    is_stock_managed: bool | None = None
    stock_number: Num = None


class ProductAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Text
    name: str | None = None
    product_variants: list[dict[str, Any]] = Field(default_factory=list)


class ReadableProduct(BaseModel):
    """A product whose variants all read (the usual page): one validation for the product and its variants."""

    model_config = ConfigDict(extra="ignore")

    id: Text
    name: str | None = None
    product_variants: list[VariantAnswer] = Field(default_factory=list)


READABLE_PRODUCTS = TypeAdapter(list[ReadableProduct])


def store_variant(product_id: str, product_name: str | None, v: VariantAnswer) -> StoreVariant:
    return StoreVariant(
        id=v.id,
        product_id=product_id,
        product_name=product_name or "",
        title=v.title,
        sku=v.sku,
        price=v.price,
        discount_price=v.discount_price,
        is_stock_managed=v.is_stock_managed,
        stock_number=v.stock_number,
    )


class CatalogueAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page_size: Num = None
    total_count: Num = None
    products: list[dict[str, Any]] = Field(default_factory=list)


def _reason(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("error", "message"):
            if isinstance(body.get(key), str) and body[key].strip():
                return str(body[key])
    return None


def reader(response: httpx.Response) -> tuple[int, str | None]:
    """Envelope rule: failed when HTTP is not 2xx, or ``status`` != 200, or ``error_code`` != 0."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not response.is_success:
        return response.status_code, _reason(body)
    if not isinstance(body, dict):
        return response.status_code, None
    # A bulk answer may carry no envelope fields at all: a missing status or error_code is not a failure.
    status = _int_or_none(body["status"]) if "status" in body else 200
    code = body.get("error_code")
    failed_code = code not in (None, 0, "0", "")
    if status == 200 and not failed_code:
        return response.status_code, None
    # An in-body status says what kind of failure it was; otherwise it reads like a 400.
    effective = status if status is not None and 400 <= status < 600 else 400
    return effective, _reason(body) or f"error_code {code}"


def _invalid(what: str) -> errors.InvalidRequest:
    return errors.InvalidRequest(f"sazito: {what} (not sent)", provider="sazito")


def _variant_id(write: Write) -> int:
    key = _int_or_none(write.target_key)
    if key is None or key < 0:
        raise _invalid(f"variant id {write.target_key!r} is not an integer")
    return key


def _price(value: dict[str, Any]) -> tuple[int, int | None]:
    """(price, discount price) of a price write's value; InvalidRequest when they are not integral."""
    price, discount = _int_or_none(value.get("price")), value.get("discount_price")
    if price is None or (discount is not None and _int_or_none(discount) is None):
        raise _invalid(f"price value {value!r} is not integral")
    return price, _int_or_none(discount)


def _stock(value: dict[str, Any]) -> int | None:
    """The managed quantity of a stock write's value, None for "unlimited" (unmanaged); InvalidRequest when
    it is not valid."""
    managed, stock = value.get("managed"), _int_or_none(value.get("stock"))
    if not isinstance(managed, bool) or (managed and stock is None):
        raise _invalid(f"stock value {value!r} is not valid")
    return stock if managed else None


def single_call(write: Write) -> tuple[str, dict[str, Any]]:
    """Path and body of the per-variant call for a write; raises InvalidRequest for a malformed write."""
    variant_id = _variant_id(write)
    if write.kind == "price":
        price, discount = _price(write.value)
        return f"/accounting/update-price/{variant_id}", {
            "price": price,
            "discount_price": discount,
            "has_raw_price": False,
        }
    if write.kind == "stock":
        stock = _stock(write.value)
        # is_relative stays false: a retried relative write would add the quantity twice.
        return f"/accounting/update-stock/{variant_id}", {
            "is_stock_manager": stock is not None,
            "stock_number": stock or 0,
            "is_relative": False,
        }
    raise _invalid(f"unsupported write kind {write.kind!r}")


def bulk_entry(write: Write) -> dict[str, Any] | None:
    """The bulk-call entry for a write, from its value; None when it needs the per-variant endpoint; raises
    InvalidRequest for a malformed write."""
    variant_id = _variant_id(write)
    if write.kind == "price":
        price, discount = _price(write.value)
        return {"id": variant_id, "price": price, "discount_price": discount}
    if write.kind == "stock":
        stock = _stock(write.value)
        # Bulk stock always sets a managed quantity: "unlimited" (unmanaged) needs the per-variant call.
        return None if stock is None else {"id": variant_id, "stock": stock}
    raise _invalid(f"unsupported write kind {write.kind!r}")


def bulk_lists(answer: Any) -> tuple[dict[int, str | None], str | None]:
    """Failed variant ids (→ their own error text, if any) from any of the three bulk answer shapes."""
    holder = answer.get("result") if isinstance(answer, dict) else None
    if not (isinstance(holder, dict) and ("failed_variant_ids" in holder or "success_variants" in holder)):
        holder = answer if isinstance(answer, dict) else {}
    failed: dict[int, str | None] = {}
    for entry in holder.get("failed_variant_ids") or []:
        entry_id = _int_or_none(entry.get("id") if isinstance(entry, dict) else entry)
        if entry_id is not None:
            failed[entry_id] = _reason(entry)
    return failed, _reason(answer)


def new_variant(key: str, values: dict[str, Any]) -> dict[str, Any]:
    """A POST /products variant from price, discount_price, is_stock_managed and stock_number (or stock)."""
    price = _int_or_none(values.get("price"))
    if price is None:
        raise _invalid(f"new variant {key} has no integral price")
    number = _int_or_none(values.get("stock_number", values.get("stock")))
    managed = values.get("is_stock_managed")
    entry: dict[str, Any] = {
        "sku": key,
        "price": price,
        "stock_number": number or 0,
        "is_stock_managed": bool(number is not None if managed is None else managed),
    }
    if _int_or_none(values.get("discount_price")) is not None:
        entry["discount_price"] = _int_or_none(values.get("discount_price"))
    return entry
