"""What the Ploomes connector reads off the wire (contract: /work/shared/contracts/ploomes.md): the records it
returns, its OData pages and its date-times.

Answers are decoded with exact decimals (``UnitPrice`` 19.9 is Decimal("19.9"), never a float). Date-times
carry an offset and are compared as aware values; .NET may send seven fractional digits, one more than a
datetime holds, so a keyset compares :func:`instant` keys (the microsecond and the digits past it) and sends
back the literal as the answer gave it. A product that cannot be read is a :class:`BadRecord`, never an
exception: one bad item does not stop its page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

OTHER_SLOTS = ("StringValue", "IntegerValue", "DecimalValue", "DateTimeValue", "BooleanValue", "ObjectValue")


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """One Ploomes product; ``other_properties`` maps each custom field's FieldKey to its value (JSON-safe:
    decimals as text, date-times as the ISO text given, objects as {"Id", "Name"}; None when it is empty)."""

    id: int
    name: str
    code: str | None
    description: str | None
    group_id: int | None
    family_id: int | None
    measurement_unit: str | None
    currency_id: int | None
    unit_price: Decimal | None
    created_at: datetime | None
    updated_at: datetime | None
    other_properties: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Family:
    id: int
    name: str
    group_id: int | None


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A product the answer carries that cannot be read; ``reason`` is "not-an-object", "no-id", "bad-date"
    or "bad-field", ``message`` says which field and why."""

    id: int | None
    reason: str
    message: str


def decimal_json(content: bytes) -> Any:
    """JSON with its non-integral numbers read as exact decimals."""
    return json.loads(content, parse_float=Decimal)


_STAMP = re.compile(
    r"(?P<main>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)(?:[.,](?P<frac>\d+))?"
    r"(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)"
)


def instant(value: Any) -> tuple[datetime, int]:
    """(aware date-time to the microsecond, nanoseconds past it) of an ISO date-time with an offset; two
    values are the same instant when their keys are equal, whatever their offsets. ValueError otherwise."""
    found = _STAMP.fullmatch(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"{value!r} is not a date-time with an offset")
    frac = found["frac"] or ""
    offset = "+00:00" if found["offset"] in "Zz" else found["offset"]
    at = datetime.fromisoformat(found["main"] + (f".{frac[:6]}" if frac else "") + offset)
    return at, int(frac[6:9].ljust(3, "0")) if len(frac) > 6 else 0


def literal(at: datetime) -> str:
    """An OData date-time literal: ISO with its offset, Z for UTC (a literal with none is a 400)."""
    offset = at.utcoffset()
    if offset is None:
        raise ValueError("a date-time sent to Ploomes must be aware (carry an offset)")
    text = at.isoformat()
    return text[:-6] + "Z" if not offset else text


def _int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"{value!r} is not an integer")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)  # a code sent as a number
    raise ValueError(f"{value!r} is not text")


def _price(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValueError(f"{value!r} is not a number")
    try:  # a float (a body decoded elsewhere) by its shortest repr: 19.9, not 19.899999...
        price = Decimal(str(value)) if isinstance(value, float | str) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not price.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return price


def _slot(name: str, value: Any) -> Any:
    if name == "DecimalValue" and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(_price(value))
    if name == "ObjectValue" and isinstance(value, dict):
        return {"Id": value.get("Id"), "Name": value.get("Name")}
    return value


def other_properties(value: Any) -> dict[str, Any]:
    """FieldKey → the value of the first slot that is not null (None when all are); entries without a
    FieldKey are skipped."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise ValueError("is not a list")
    found: dict[str, Any] = {}
    for entry in value:
        key = entry.get("FieldKey") if isinstance(entry, dict) else None
        if isinstance(key, str) and key:
            slot = next((s for s in OTHER_SLOTS if entry.get(s) is not None), None)
            found[key] = _slot(slot, entry[slot]) if slot else None
    return found


def _when(value: Any) -> datetime | None:
    return None if value is None else instant(value)[0]


def _name(value: Any) -> str:
    name = _text(value)
    if not name or not name.strip():
        raise ValueError("is missing")
    return name


_FIELDS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("CreateDate", _when),
    ("LastUpdateDate", _when),
    ("Name", _name),
    ("Code", _text),
    ("Description", _text),
    ("GroupId", _int),
    ("FamilyId", _int),
    ("MeasurementUnit", _text),
    ("CurrencyId", _int),
    ("UnitPrice", _price),
    ("OtherProperties", other_properties),
)


def read_product(item: Any) -> ProductRecord | BadRecord:
    """A product of an answer (or a webhook body's "New"); a BadRecord naming what cannot be read."""
    if not isinstance(item, dict):
        return BadRecord(None, "not-an-object", f"the item is {type(item).__name__}, not an object")
    raw_id = item.get("Id")
    if not isinstance(raw_id, int) or isinstance(raw_id, bool):
        return BadRecord(None, "no-id", f"Id: {raw_id!r} is not an integer")
    got: dict[str, Any] = {}
    for field, read in _FIELDS:
        try:
            got[field] = read(item.get(field))
        except ValueError as exc:
            reason = "bad-date" if read is _when else "bad-field"
            return BadRecord(raw_id, reason, f"{field}: {exc}"[:300])
    return ProductRecord(
        id=raw_id,
        name=got["Name"],
        code=got["Code"],
        description=got["Description"],
        group_id=got["GroupId"],
        family_id=got["FamilyId"],
        measurement_unit=got["MeasurementUnit"],
        currency_id=got["CurrencyId"],
        unit_price=got["UnitPrice"],
        created_at=got["CreateDate"],
        updated_at=got["LastUpdateDate"],
        other_properties=got["OtherProperties"],
    )


def read_group(item: Any) -> Group | None:
    """A product group, or None when the item has no integer Id."""
    if not isinstance(item, dict) or _safe_id(item) is None:
        return None
    return Group(item["Id"], str(item.get("Name") or ""))


def read_family(item: Any) -> Family | None:
    """A product family, or None when the item has no integer Id."""
    if not isinstance(item, dict) or _safe_id(item) is None:
        return None
    return Family(item["Id"], str(item.get("Name") or ""), _safe_id({"Id": item.get("GroupId")}))


def _safe_id(item: dict[str, Any]) -> int | None:
    value = item.get("Id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_page(body: Any) -> tuple[list[Any], str | None]:
    """(the items of ``value``, ``@odata.nextLink`` or None) of an OData answer; ValueError when it has no
    ``value`` list."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise ValueError("an answer without a value list")
    link = body.get("@odata.nextLink")
    return body["value"], link if isinstance(link, str) and link.strip() else None


def reader(response: httpx.Response) -> tuple[int, str | None]:
    """The client's answer reader: judge by HTTP status. 401 and 429 bodies are unspecified (the status
    alone); another failure's reason is the OData ``error.message`` when the body has one."""
    if response.is_success or response.status_code in (401, 429):
        return response.status_code, None
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    error = body.get("error") if isinstance(body, dict) else None
    said = error.get("message") if isinstance(error, dict) else error
    text = " ".join(str(said).split())[:300] if isinstance(said, str | int) else ""
    return response.status_code, text or None
