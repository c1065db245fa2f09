"""The simulated Ploomes CRM product catalogue (contracts/ploomes.md) of a machinery dealer, seeded.

Records are immutable: a change replaces a product with a new record, so that "the last record served" is one
reference. Every liberty the contract leaves is drawn per product: the custom-field value in any of the six
slots, with or without the empty slots as nulls; `Description` text, null or absent; `UnitPrice` or null; no
code, group or family; LastUpdateDate shared by groups of products (`ploomes_shared_dates`), whole seconds
for generated products and milliseconds for those changed at run time, always with the -03:00 offset.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sync_core.sandbox.ploomes_data import BRANDS, ERP_ITEMS, FIELDS, KINDS, SLOTS, SUPPLIERS

BRT = timezone(timedelta(hours=-3))
_START = datetime(2024, 1, 8, 8, 0, tzinfo=BRT)  # generated LastUpdateDates lie in [_START, _START + _SPAN)
_SPAN_S = 640 * 86_400
SHARED_GROUP_MAX = 400
NCM_KEY = next(key for key, _, label in FIELDS if label == "NCM")


def served_date(moment: datetime) -> str:
    """A date-time as the API serves it: -03:00, whole seconds or milliseconds."""
    local = moment.astimezone(BRT)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def now_brt() -> datetime:
    """The current time at -03:00, to the millisecond."""
    moment = datetime.now(BRT)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def money(cents: int) -> Decimal:
    """Cents as a Decimal in currency units whose str is the JSON number served ("12.35", "1200.0")."""
    return Decimal(repr(cents / 100))


@dataclass(frozen=True, slots=True)
class CustomValue:
    """One OtherProperties entry: its FieldKey, the slot its value sits in, and the value (as served)."""

    field_key: str
    slot: str
    value: Any  # str, int, Decimal, ISO string, bool or {"Id", "Name"}

    def to_json(self, with_nulls: bool) -> dict[str, Any]:
        """The entry; `with_nulls` also lists the five empty slots as null."""
        item: dict[str, Any] = {"FieldKey": self.field_key}
        if with_nulls:
            item |= dict.fromkeys(SLOTS)
        item[self.slot] = float(self.value) if isinstance(self.value, Decimal) else self.value
        return item


@dataclass(frozen=True, slots=True)
class PloomesProduct:
    """One product as the simulator holds it; `description` ABSENT means the key is left out."""

    id: int
    name: str
    code: str | None
    description: str | None
    group_id: int | None
    family_id: int | None
    unit: str | None
    currency_id: int | None
    price_cents: int | None
    created: datetime
    updated: datetime
    properties: tuple[CustomValue, ...]
    null_slots: bool  # OtherProperties entries list the empty slots as null
    tiebreak: int  # the order among equal sort keys (not the Id)
    revision: int = 0

    @property
    def unit_price(self) -> Decimal | None:
        """UnitPrice as a Decimal (None when null)."""
        return None if self.price_cents is None else money(self.price_cents)

    def to_json(self, expand: bool) -> dict[str, Any]:
        """The product as `GET /Products` serves it; `expand` adds OtherProperties."""
        data: dict[str, Any] = {"Id": self.id, "Name": self.name, "Code": self.code}
        if self.description != ABSENT:
            data["Description"] = self.description
        data |= {
            "GroupId": self.group_id,
            "FamilyId": self.family_id,
            "MeasurementUnit": self.unit,
            "CurrencyId": self.currency_id,
            "UnitPrice": None if self.price_cents is None else self.price_cents / 100,
            "CreateDate": served_date(self.created),
            "LastUpdateDate": served_date(self.updated),
        }
        if expand:
            data["OtherProperties"] = [p.to_json(self.null_slots) for p in self.properties]
        return data


ABSENT = "\x00absent"


def _value(rng: random.Random, slot: str, key: str = "") -> Any:
    if slot == "StringValue":
        return f"8414.{rng.randint(10, 99)}.{rng.randint(10, 99)}" if key == NCM_KEY else rng.choice(BRANDS)
    if slot == "IntegerValue":
        return rng.randint(1, 500)
    if slot == "DecimalValue":
        return money(rng.randint(100, 450_000) // 10 * 10 + rng.randint(1, 9))  # never a whole or .x0 value
    if slot == "DateTimeValue":
        day = datetime(2015, 1, 1, tzinfo=BRT) + timedelta(days=rng.randint(0, 3650))
        return served_date(day)
    if slot == "BooleanValue":
        return rng.random() < 0.5
    supplier_id, name = rng.choice(SUPPLIERS)
    return {"Id": supplier_id, "Name": name}


def new_value(rng: random.Random, prop: CustomValue) -> CustomValue:
    """`prop` with another value in the same slot."""
    while True:
        value = _value(rng, prop.slot, prop.field_key)
        if value != prop.value:
            return dataclasses.replace(prop, value=value)


def _properties(rng: random.Random, index: int) -> tuple[CustomValue, ...]:
    """Zero to five custom fields; product `index` always carries slot `index % 6` (every slot is served)."""
    first = next(f for f in FIELDS if f[1] == SLOTS[index % len(SLOTS)])
    others = [f for f in FIELDS if f is not first]
    chosen = [first, *rng.sample(others, rng.randint(0, 4))] if rng.random() < 0.9 or index < 6 else []
    return tuple(CustomValue(key, slot, _value(rng, slot, key)) for key, slot, _ in chosen)


_KIND_ODDS = (
    ("atlas", 0.18),
    ("ingersoll", 0.3),
    ("service", 0.45),
    ("rental", 0.6),
    ("part", 0.82),
    ("erp", 0.95),
)


def _kind(rng: random.Random) -> str:
    roll = rng.random()
    return next((kind for kind, upto in _KIND_ODDS if roll < upto), "uncoded")


def _description(rng: random.Random, name: str) -> str | None:
    roll = rng.random()
    if roll < 0.3:
        return ABSENT
    return None if roll < 0.55 else f"{name}. Garantia de fábrica; assistência técnica própria em São Paulo."


def random_product(rng: random.Random, index: int, product_id: int, updated: datetime) -> PloomesProduct:
    """A product of a random kind (machine, service, rental, part, ERP import or uncoded) updated at `updated`."""
    kind, number = _kind(rng), rng.randint(5, 250)
    cents: int | None
    group_id: int | None
    family_id: int | None
    if kind in KINDS:
        group_id, items = KINDS[kind]
        family_id, template, prefix, unit, (low, high) = rng.choice(items)
        name, cents = template.format(n=number), rng.randint(low * 100, high * 100)
        code = f"{prefix}{number:03d}" if prefix.startswith("CIA_") else f"{prefix}-{number:03d}"
        if kind == "part":
            code = f"{prefix}-{rng.randint(1000, 9999)}-{number:02d}"
        description = _description(rng, name)
    elif kind == "erp":
        group_id, family_id, unit = (400105 if rng.random() < 0.5 else None), None, "UN"
        name, code = (
            f"{rng.choice(ERP_ITEMS)} {rng.randint(1_000_000, 9_999_999)}",
            str(rng.randint(10**5, 10**6)),
        )
        cents, description = rng.randint(1_000, 300_000), "Cadastrado pela integração ERP (Sankhya)"
    else:
        group_id, family_id, unit = (400106 if rng.random() < 0.5 else None), None, None
        name, code, cents = f"Item avulso nº {number} – orçamento", None, rng.randint(500, 90_000)
        description = _description(rng, name)
    if kind in ("service", "uncoded") and rng.random() < 0.2:
        cents = None  # "sob consulta"
    roll = rng.random()
    currency = 1 if roll < 0.8 else 2 if roll < 0.9 else 3 if roll < 0.94 else 7 if roll < 0.97 else None
    created = updated - timedelta(seconds=rng.randint(0, 700 * 86_400) if rng.random() < 0.8 else 0)
    return PloomesProduct(
        id=product_id,
        name=name,
        code=code,
        description=description,
        group_id=group_id,
        family_id=family_id,
        unit=unit,
        currency_id=currency,
        price_cents=cents,
        created=created,
        updated=updated,
        properties=_properties(rng, index),
        null_slots=rng.random() < 0.5,
        tiebreak=rng.getrandbits(32),
    )


def update_dates(rng: random.Random, count: int, shared_fraction: float) -> list[datetime]:
    """`count` LastUpdateDates (whole seconds): `shared_fraction` of them in groups sharing one date (the first
    group as large as SHARED_GROUP_MAX allows), the others distinct."""
    shared = round(count * shared_fraction)
    shared = 0 if shared < 2 else shared
    sizes: list[int] = []
    left = shared
    while left:
        size = min(SHARED_GROUP_MAX, left) if not sizes else min(left, rng.randint(2, 40))
        if 0 < left - size < 2:
            size = left
        sizes.append(size)
        left -= size
    seconds: set[int] = set()
    while len(seconds) < len(sizes) + count - shared:
        seconds.add(rng.randrange(_SPAN_S))
    distinct = [_START + timedelta(seconds=s) for s in rng.sample(sorted(seconds), len(seconds))]
    dates = [d for size, d in zip(sizes, distinct, strict=False) for _ in range(size)]
    dates += distinct[len(sizes) :]
    rng.shuffle(dates)
    return dates


def generate_products(count: int, seed: int, shared_fraction: float) -> list[PloomesProduct]:
    """The seeded catalogue: `count` products with increasing, gapped Ids."""
    rng = random.Random(seed * 2_038_074_743 + 29)
    product_id = 3_100_000 + rng.randint(0, 9_999)
    products = []
    for index, updated in enumerate(update_dates(rng, count, shared_fraction)):
        product_id += rng.randint(1, 40)
        products.append(random_product(rng, index, product_id, updated))
    return products


def changed(
    rng: random.Random, product: PloomesProduct, fields: tuple[str, ...], now: datetime
) -> PloomesProduct:
    """`product` with new values in `fields` ("name", "price", "custom_field"; one of them at random when
    empty) and LastUpdateDate `now`."""
    fields = fields or (rng.choice(CHANGE_FIELDS),)
    new = dataclasses.replace(product, updated=now, revision=product.revision + 1)
    if "name" in fields:
        base = product.name.split(" (rev. ")[0]
        new = dataclasses.replace(new, name=f"{base} (rev. {new.revision})")
    if "price" in fields:
        old = product.price_cents
        step = max(1, (old or 100_000) * rng.randint(1, 20) // 100)
        price = rng.randint(1_000, 500_000) if old is None else old + rng.choice((-1, 1)) * step
        new = dataclasses.replace(new, price_cents=price if price > 0 else (old or 0) + step)
    if "custom_field" in fields:
        props = list(product.properties)
        if props:
            at = rng.randrange(len(props))
            props[at] = new_value(rng, props[at])
        else:
            key, slot, _ = rng.choice(FIELDS)
            props.append(CustomValue(key, slot, _value(rng, slot, key)))
        new = dataclasses.replace(new, properties=tuple(props))
    return new


CHANGE_FIELDS = ("name", "price", "custom_field")
