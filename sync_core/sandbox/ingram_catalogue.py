"""The simulated Ingram Micro catalogue (contracts/ingram.md): seeded part numbers, records built lazily.

Part numbers are generated up front (cheap even for 100,000); a part's record is built from its own seeded
generator the first time it is asked for, then kept, so that changes between runs stick. Every liberty the
contract settles is drawn per part: status code "W", null or absent; warehouse ids as integers or strings
("05"); rows without `quantityAvailable`; prices as JSON integers or decimals.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sync_core.sandbox.ingram_details import details_json

KNOWN_EXAMPLES = ("012345", "3E0042")  # the contract's own examples lead the list when there is room
_DIGITS = "0123456789"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXY"  # no Z: "ZZ...." part numbers are kept for unknown ones
_VENDORS: tuple[tuple[str, str], ...] = (
    ("DELL", "802U"),
    ("LENOVO", "0000500082"),
    ("HP INC", "1101"),
    ("CISCO", "1234"),
    ("LOGITECH", "5511"),
    ("APC BY SCHNEIDER", "3301"),
    ("SAMSUNG", "7722"),
)
_ITEMS = (
    "20IN MONITOR",
    "NOTEBOOK 15.6",
    "USB-C DOCK",
    "POE SWITCH 24P",
    "UPS 1500VA",
    "WIRELESS MOUSE",
    "6FT PARALLEL PRINTER CABLE",
    "SSD 1TB NVME",
    "KEYBOARD US",
)
_STATUS_MESSAGE = "ACOPS ARE AVAILABLE FOR THIS CUSTOMER AND SKU"
# (id as a number, location or None); id 5 is always served as the string "05", as in the vendor sample.
_WAREHOUSES: tuple[tuple[int, str | None], ...] = (
    (10, "Mira Loma, CA"),
    (20, "Fort Worth, TX"),
    (25, None),
    (30, "Millington, TN"),
    (40, "Carol Stream, IL"),
    (80, "Jonestown, PA"),
    (81, None),
    (5, None),
)
ABSENT = "absent"  # a status code that is left out of the item altogether


def _between(rng: random.Random, lo: int, hi: int) -> int:
    """An integer in [lo, hi) (`randrange` is several times slower)."""
    return lo + int(rng.random() * (hi - lo))


@dataclass(slots=True)
class WarehouseRow:
    """One row of `availabilityByWarehouse`; None means the key is left out of the row."""

    warehouse_id: int | str  # as served: 20 or "20" or "05"
    location: str | None
    available: int | None
    backordered: int | None

    def to_json(self) -> dict[str, Any]:
        """The row as the P&A answer serves it."""
        row: dict[str, Any] = {"warehouseId": self.warehouse_id}
        if self.location is not None:
            row["location"] = self.location
        if self.available is not None:
            row["quantityAvailable"] = self.available
        if self.backordered is not None:
            row["quantityBackordered"] = self.backordered
        return row


@dataclass(slots=True)
class IngramPart:
    """One part as the sandbox holds it: what its P&A item and its details are rendered from."""

    index: int
    part: str
    vendor_part_number: str
    upc: str
    description: str
    vendor_name: str
    vendor_number: str
    status_code: str | None  # "W", None (served as null) or ABSENT
    status_message: str | None  # None: left out
    authorized: bool
    currency: str
    customer_cents: int
    retail_cents: int
    map_cents: int
    warehouses: list[WarehouseRow] = field(default_factory=list)

    @property
    def total_available(self) -> int:
        """`totalAvailability`: the rows' quantities, a missing one counting 0."""
        return sum(row.available or 0 for row in self.warehouses)

    def pricing_json(self) -> dict[str, Any]:
        """The `pricing` object; whole amounts are JSON integers, others decimals."""
        return {
            "currencyCode": self.currency,
            "retailPrice": price_json(self.retail_cents),
            "mapPrice": price_json(self.map_cents),
            "customerPrice": price_json(self.customer_cents),
        }

    def to_json(
        self, *, nested_pricing: bool, availability: bool = True, pricing: bool = True
    ) -> dict[str, Any]:
        """The part's P&A item; `nested_pricing` puts `pricing` inside `availability` (the 207 sample's way)."""
        item: dict[str, Any] = {}
        if self.status_message is not None:
            item["productStatusMessage"] = self.status_message
        if self.status_code != ABSENT:
            item["productStatusCode"] = self.status_code
        item |= {
            "ingramPartNumber": self.part,
            "vendorPartNumber": self.vendor_part_number,
            "extendedVendorPartNumber": self.vendor_part_number,
            "upc": self.upc,
            "vendorNumber": self.vendor_number,
            "vendorName": self.vendor_name,
            "description": self.description,
            "productClass": "B",
            "uom": "EA",
            "acceptBackOrder": True,
            "productAuthorized": self.authorized,
            "returnableProduct": True,
            "endUserInfoRequired": False,
        }
        total = self.total_available
        stock: dict[str, Any] = {
            "available": total > 0,
            "totalAvailability": total,
            "availabilityByWarehouse": [row.to_json() for row in self.warehouses],
        }
        if availability:
            item["availability"] = stock
        if pricing and nested_pricing and availability:
            stock["pricing"] = self.pricing_json()
        elif pricing:
            item["pricing"] = self.pricing_json()
        return item


def price_json(cents: int) -> int | float:
    """A price as JSON: an integer when whole (10), else a decimal (5.43)."""
    return cents // 100 if cents % 100 == 0 else cents / 100


def part_numbers(count: int, seed: int) -> list[str]:
    """`count` distinct six-character part numbers: "012345"-like, "3E0042"-like, "QQ0202"-like, "123512"-like."""
    rng = random.Random(seed * 7_368_787 + 11)
    chosen = list(KNOWN_EXAMPLES[:count])
    seen = set(chosen)
    while len(chosen) < count:
        roll, n = rng.random(), int(rng.random() * 10_000)
        if roll < 0.25:
            candidate = f"0{int(rng.random() * 100_000):05d}"
        elif roll < 0.6:
            candidate = f"{_DIGITS[int(rng.random() * 10)]}{_LETTERS[int(rng.random() * 25)]}{n:04d}"
        elif roll < 0.75:
            candidate = f"{_LETTERS[int(rng.random() * 25)]}{_LETTERS[int(rng.random() * 25)]}{n:04d}"
        else:
            candidate = f"{_between(rng, 100_000, 1_000_000)}"
        if candidate not in seen:
            seen.add(candidate)
            chosen.append(candidate)
    return chosen


def unknown_part_numbers(count: int) -> list[str]:
    """Part numbers the catalogue never holds: "ZZ0000"-like and eight digits (the 207 sample's "12351211")."""
    return [f"ZZ{i:04d}" if i % 2 == 0 else f"{12351211 + i:08d}" for i in range(count)]


def _prices(rng: random.Random) -> tuple[int, int, int]:
    """(customer, retail, MAP) in cents; a fifth of the parts in whole currency units, MAP often 0."""
    whole = rng.random() < 0.2
    customer = _between(rng, 5, 5000) * 100 if whole else _between(rng, 500, 500_000)
    retail = customer + (customer * _between(rng, 10, 60)) // 100
    if whole:
        retail -= retail % 100
    map_cents = 0 if rng.random() < 0.5 else retail - retail // 10
    if whole:
        map_cents -= map_cents % 100
    return customer, retail, map_cents


def _warehouses(rng: random.Random) -> list[WarehouseRow]:
    """One to five rows in a seeded order; string or integer ids; some rows without quantities."""
    as_strings = rng.random() < 0.4
    rows: list[WarehouseRow] = []
    picked = sorted(_WAREHOUSES, key=lambda _: rng.random())[: _between(rng, 1, 6)]
    for number, location in picked:
        warehouse_id: int | str = f"{number:02d}" if as_strings or number == 5 else number
        available = None if rng.random() < 0.12 else (0 if rng.random() < 0.2 else _between(rng, 1, 500))
        backordered = None if rng.random() < 0.4 else _between(rng, 0, 200)
        rows.append(WarehouseRow(warehouse_id, location, available, backordered))
    return rows


def build_part(seed: int, index: int, part: str) -> IngramPart:
    """The record of part number `part` (position `index`), from its own seeded generator."""
    rng = random.Random((seed << 40) | index)
    vendor, vendor_number = _VENDORS[int(rng.random() * len(_VENDORS))]
    item = _ITEMS[int(rng.random() * len(_ITEMS))]
    vendor_part = f"{vendor[:2]}{_between(rng, 1000, 99_999)}{'HV' if rng.random() < 0.3 else ''}"
    roll = rng.random()
    status = "W" if roll < 0.3 else (None if roll < 0.5 else ABSENT)
    customer, retail, map_cents = _prices(rng)
    return IngramPart(
        index=index,
        part=part,
        vendor_part_number=vendor_part,
        upc=f"0{_between(rng, 10**11, 10**12)}",
        description=f"{item} {vendor_part}",
        vendor_name=vendor,
        vendor_number=vendor_number,
        status_code=status,
        status_message=None if rng.random() < 0.3 else _STATUS_MESSAGE,
        authorized=rng.random() >= 0.1,
        currency="USD",
        customer_cents=customer,
        retail_cents=retail,
        map_cents=map_cents,
        warehouses=_warehouses(rng),
    )


class IngramCatalogue:
    """The parts the sandbox knows, in a stable order; not thread-safe by itself (the state's lock guards it)."""

    def __init__(self, count: int, seed: int) -> None:
        self.seed = seed
        self.parts: list[str] = part_numbers(count, seed)
        self.index: dict[str, int] = {part: i for i, part in enumerate(self.parts)}
        self._records: dict[str, IngramPart] = {}

    def __contains__(self, part: object) -> bool:
        return part in self.index

    def __len__(self) -> int:
        return len(self.parts)

    def record(self, part: str) -> IngramPart | None:
        """The record of a known part number (built on first use), None for an unknown one."""
        found = self._records.get(part)
        if found is None and part in self.index:
            found = self._records[part] = build_part(self.seed, self.index[part], part)
        return found

    def details(self, part: str) -> dict[str, Any] | None:
        """The details answer of a known part number, None for an unknown one."""
        record = self.record(part)
        return None if record is None else details_json(self.seed, record)

    def change(self, rng: random.Random, count: int) -> list[str]:
        """Change the price and/or the stock of `count` distinct parts (all of them at most), visibly in the
        table; returns their part numbers in the order chosen."""
        chosen = [
            self.parts[i] for i in rng.sample(range(len(self.parts)), min(max(0, count), len(self.parts)))
        ]
        for part in chosen:
            record = self.record(part)
            assert record is not None
            kind = rng.choice(("price", "stock", "both"))
            if kind != "stock":
                _change_price(rng, record)
            if kind != "price":
                _change_stock(rng, record)
        return chosen


def _change_price(rng: random.Random, record: IngramPart) -> None:
    step = _between(rng, 1, 5000) * rng.choice((-1, 1))
    if record.customer_cents + step < 100:
        step = abs(step)
    record.customer_cents += step
    record.retail_cents += step


def _change_stock(rng: random.Random, record: IngramPart) -> None:
    row = rng.choice(record.warehouses)
    old = row.available or 0  # a missing quantity reads as 0: the new one must differ from that
    new = old + rng.choice((-1, 1)) * _between(rng, 1, 50)
    row.available = new if new >= 0 and new != old else old + _between(rng, 1, 50)
