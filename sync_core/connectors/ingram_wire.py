"""What the Ingram Micro connector reads off the wire (contract: /work/shared/contracts/ingram.md): the records
it returns, and the answers of price and availability, of product details and of a failed call.

The contract's liberties are read here: ``pricing`` at item level or inside ``availability``; a warehouse id
that is an integer or a string; a warehouse row without ``quantityAvailable`` (0); prices as JSON integers
or decimals (read exactly: the answer is decoded with decimals, never through floats); a good item's status
``"W"``, null or absent, only ``"E"`` being a per-item failure. Part numbers stay strings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from sync_core.http.responses import body_detail


@dataclass(frozen=True, slots=True)
class Warehouse:
    """A warehouse's stock of one part, as the answer lists it."""

    warehouse_id: str
    location: str | None
    quantity_available: int
    quantity_backordered: int


@dataclass(frozen=True, slots=True)
class PricedPart:
    """One part's price and availability; ``part`` is the part number as it was asked for."""

    part: str
    vendor_part_number: str | None
    upc: str | None
    description: str | None
    status_code: str | None
    status_message: str | None
    authorized: bool | None
    total_availability: int | None
    warehouses: tuple[Warehouse, ...]
    currency: str | None
    customer_price: Decimal | None
    retail_price: Decimal | None
    map_price: Decimal | None


@dataclass(frozen=True, slots=True)
class PartDetails:
    """One part's details; ``dimensions`` holds the entries of ``additionalInformation`` as given."""

    part: str
    category: str | None
    subcategory: str | None
    vendor: str | None
    description: str | None
    technical_specifications: list[Any]
    dimensions: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PartError:
    """A per-part failure: ``code`` is "E" (the answer's status for it), "not-found" (no details for it),
    "missing" (asked for, absent from the answer) or "unreadable" (its item does not fit the contract);
    ``message`` says why, in the provider's words when it gave some."""

    part: str
    code: str
    message: str


def decimal_json(content: bytes) -> Any:
    """JSON with its non-integral numbers read as exact decimals (101.5 is Decimal("101.5"))."""
    return json.loads(content, parse_float=Decimal)


def _text(value: Any) -> Any:
    # A number where a code or an id is expected is read as its decimal text.
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


def _count(value: Any) -> Any:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _flag(value: Any) -> Any:
    # Some answers spell booleans as text ("True").
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _price(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


Text = Annotated[str | None, BeforeValidator(_text)]
Count = Annotated[int | None, BeforeValidator(_count)]
Price = Annotated[Decimal | None, BeforeValidator(_price)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Warehouse(_Model):
    warehouse_id: Annotated[str, BeforeValidator(_text)] = Field(alias="warehouseId", min_length=1)
    location: str | None = None
    quantity_available: Count = Field(None, alias="quantityAvailable")
    quantity_backordered: Count = Field(None, alias="quantityBackordered")


class _Pricing(_Model):
    currency: str | None = Field(None, alias="currencyCode")
    customer_price: Price = Field(None, alias="customerPrice")
    retail_price: Price = Field(None, alias="retailPrice")
    map_price: Price = Field(None, alias="mapPrice")


class _Availability(_Model):
    total: Count = Field(None, alias="totalAvailability")
    warehouses: list[_Warehouse] | None = Field(None, alias="availabilityByWarehouse")
    pricing: _Pricing | None = None  # where some answers put it


class _Item(_Model):
    part: Annotated[str, BeforeValidator(_text)] = Field(alias="ingramPartNumber", min_length=1)
    vendor_part_number: Text = Field(None, alias="vendorPartNumber")
    upc: Text = None
    description: str | None = None
    status_code: Text = Field(None, alias="productStatusCode")
    status_message: str | None = Field(None, alias="productStatusMessage")
    authorized: Annotated[bool | None, BeforeValidator(_flag)] = Field(None, alias="productAuthorized")
    availability: _Availability | None = None
    pricing: _Pricing | None = None

    def priced(self, part: str) -> PricedPart:
        availability = self.availability or _Availability.model_validate({})
        pricing = self.pricing or availability.pricing or _Pricing.model_validate({})
        return PricedPart(
            part=part,
            vendor_part_number=self.vendor_part_number,
            upc=self.upc,
            description=self.description,
            status_code=self.status_code,
            status_message=self.status_message,
            authorized=self.authorized,
            total_availability=availability.total,
            warehouses=tuple(
                Warehouse(w.warehouse_id, w.location, w.quantity_available or 0, w.quantity_backordered or 0)
                for w in availability.warehouses or []
            ),
            currency=pricing.currency,
            customer_price=pricing.customer_price,
            retail_price=pricing.retail_price,
            map_price=pricing.map_price,
        )


def _why(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "item"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return " ".join(f"{where}: {first['msg'].removeprefix('Value error, ')}{more}".split())[:300]


class _Asked:
    """The part numbers a call asked for, to match the answer's items to: exactly, else ignoring case and
    surrounding blanks (the part as asked is what the caller knows it by)."""

    def __init__(self, parts: Sequence[str]) -> None:
        self.parts = parts
        self._exact = set(parts)
        self._folded: dict[str, str] = {}
        for part in parts:
            self._folded.setdefault(part.strip().upper(), part)

    def match(self, number: Any) -> str | None:
        number = _text(number)
        if not isinstance(number, str):
            return None
        return number if number in self._exact else self._folded.get(number.strip().upper())


def read_price_and_availability(
    answer: list[Any], asked: Sequence[str]
) -> tuple[list[PricedPart], list[PartError]]:
    """The parts of a price-and-availability answer, matched to the part numbers ``asked``: an item for a
    part not asked for is left out, a part asked for and not answered is a "missing" PartError."""
    parts = _Asked(asked)
    priced: list[PricedPart] = []
    failed: list[PartError] = []
    answered: set[str] = set()
    for raw in answer:
        part = parts.match(raw.get("ingramPartNumber")) if isinstance(raw, dict) else None
        if part is None or part in answered:
            continue
        answered.add(part)
        if str(raw.get("productStatusCode") or "").strip().upper() == "E":
            message = raw.get("productStatusMessage") or "the answer's status for it is E"
            failed.append(PartError(part, "E", " ".join(str(message).split())[:300]))
            continue
        try:
            priced.append(_Item.model_validate(raw).priced(part))
        except ValidationError as exc:
            failed.append(PartError(part, "unreadable", _why(exc)))
    failed += [PartError(p, "missing", "not in the answer") for p in asked if p not in answered]
    return priced, failed


class _Details(_Model):
    category: str | None = Field(None, alias="productCategory")
    subcategory: str | None = Field(None, alias="productSubcategory")
    vendor: str | None = Field(None, alias="vendorName")
    description: str | None = None
    detail_description: str | None = Field(None, alias="productDetailDescription")
    specifications: list[Any] | None = Field(None, alias="technicalSpecifications")
    additional: dict[str, Any] | None = Field(None, alias="additionalInformation")


def read_details(part: str, answer: Any) -> PartDetails | PartError:
    """The details of ``part`` from its answer; an answer that does not fit is an "unreadable" PartError."""
    if not isinstance(answer, dict):
        return PartError(part, "unreadable", "the answer is not a JSON object")
    try:
        found = _Details.model_validate(answer)
    except ValidationError as exc:
        return PartError(part, "unreadable", _why(exc))
    return PartDetails(
        part=part,
        category=found.category,
        subcategory=found.subcategory,
        vendor=found.vendor,
        description=found.detail_description or found.description,
        technical_specifications=list(found.specifications or []),
        dimensions=dict(found.additional or {}),
    )


def error_message(response: httpx.Response) -> str | None:
    """The provider's words for a failed call: the first of ``errors[].message`` (with the first field's
    message, which names what was wrong), else an ``error`` / ``message`` of the body (an OAuth answer's)."""
    try:
        body = response.json()
    except ValueError:
        return None
    found = body.get("errors") if isinstance(body, dict) else None
    first = found[0] if isinstance(found, list) and found and isinstance(found[0], dict) else None
    if first is None:
        return body_detail(response)
    message = str(first.get("message") or "").strip()
    fields = first.get("fields")
    field = fields[0] if isinstance(fields, list) and fields and isinstance(fields[0], dict) else {}
    detail = str(field.get("message") or "").strip()
    text = ": ".join(part for part in (message, detail) if part)
    return " ".join(text.split())[:300] or None


def reader(response: httpx.Response) -> tuple[int, str | None]:
    """The client's answer reader: judge by HTTP status (207 is a success); the reason is the provider's."""
    return response.status_code, None if response.is_success else error_message(response)
