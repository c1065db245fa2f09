"""The Shopify simulator's shop: locations, products, their variants and each variant's inventory levels,
generated from a seed (the same seed and size give the same shop).

By default 2 active locations and 1 inactive one (whose levels must not count), and ``extra_locations`` more
active ones where every 13th variant is stocked too (so that item has levels at more than 10 locations).
Products have 1 to 4 variants (a single one is titled "Default Title"); about 1 in 7 variants is untracked
(its levels exist, its stock does not count), 1 in 10 has no SKU and 1 in 20 an empty one, 1 in 4 a
compare-at price. Ids are numbers; the API shows them as gids (``gid://shopify/ProductVariant/N``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

CENT = Decimal("0.01")
LOCATION_BASE, PRODUCT_BASE, VARIANT_BASE, ITEM_BASE = (
    71_000_000_000,
    8_100_000_000,
    44_000_000_000,
    46_000_000_000,
)
_ADJECTIVES = (
    "Classic",
    "Urban",
    "Alpine",
    "Coastal",
    "Vintage",
    "Modern",
    "Rugged",
    "Silk",
    "Linen",
    "Wool",
)
_NOUNS = ("Shirt", "Jacket", "Backpack", "Mug", "Lamp", "Scarf", "Boots", "Notebook", "Blanket", "Cap")
_COLOURS = ("Red", "Blue", "Black", "Sand", "Olive")
_SIZES = ("S", "M", "L", "XL")


def gid(kind: str, number: int) -> str:
    """The global id of a ``kind`` (ProductVariant, Location ...) numbered ``number``."""
    return f"gid://shopify/{kind}/{number}"


def stamp(at: datetime) -> str:
    """A date-time as the API shows it: UTC, to the second, with a Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> datetime:
    """Now, to the second (the API's precision)."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(slots=True)
class Location:
    number: int
    name: str
    active: bool


@dataclass(slots=True)
class Level:
    """An inventory item's quantities at one location (on hand = available + committed)."""

    location: int
    available: int
    committed: int
    updated_at: datetime


@dataclass(slots=True)
class Product:
    number: int
    title: str
    handle: str
    updated_at: datetime


@dataclass(slots=True)
class Variant:
    """A variant and its inventory item (numbered ``item``), with its levels by location number."""

    number: int
    product: Product
    item: int
    title: str
    sku: str | None
    price: Decimal
    compare_at: Decimal | None
    tracked: bool
    updated_at: datetime
    levels: dict[int, Level] = field(default_factory=dict)


@dataclass(slots=True)
class Shop:
    """What the API serves: the shop's name, its locations and variants by number, items by number."""

    name: str
    locations: dict[int, Location]
    variants: dict[int, Variant]
    items: dict[int, Variant]

    def remove(self, number: int) -> Variant | None:
        """Delete a variant and its inventory item (a product is only seen through its variants)."""
        variant = self.variants.pop(number, None)
        if variant is not None:
            self.items.pop(variant.item, None)
        return variant


def _titles(rng: random.Random, count: int) -> list[str]:
    if count == 1:
        return ["Default Title"]
    colours = rng.sample(_COLOURS, 2)
    return [f"{colours[i % 2]} / {_SIZES[i // 2]}" for i in range(count)]


def _levels(rng: random.Random, index: int, locations: list[Location], past: datetime) -> dict[int, Level]:
    main, floor, closed, *extra = locations
    stocked = [main]
    if rng.random() < 0.6:
        stocked.append(floor)
    if rng.random() < 0.4:
        stocked.append(closed)
    if index % 13 == 5:
        stocked += extra
    when = past + timedelta(seconds=rng.randrange(86_400 * 20))
    return {
        loc.number: Level(loc.number, rng.randrange(0, 40), rng.randrange(0, 3), when + timedelta(seconds=i))
        for i, loc in enumerate(stocked)
    }


def generate_shop(
    variants: int, seed: int, *, extra_locations: int = 10, now: datetime | None = None
) -> Shop:
    """A shop of ``variants`` variants (see the module docstring)."""
    rng = random.Random(seed * 7_919 + 17)
    past = (now or now_utc()) - timedelta(days=40)
    names = ["Main warehouse", "Shop floor", "Closed depot"] + [
        f"Pop-up {i + 1}" for i in range(extra_locations)
    ]
    locations = [Location(LOCATION_BASE + i + 1, name, i != 2) for i, name in enumerate(names)]
    found: dict[int, Variant] = {}
    product_number, variant_number = PRODUCT_BASE, VARIANT_BASE
    while len(found) < variants:
        count = min(rng.choice((1, 1, 2, 3, 4)), variants - len(found))
        product_number += rng.randint(1, 999)
        title = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        updated = past + timedelta(seconds=rng.randrange(86_400 * 20))
        product = Product(product_number, title, title.lower().replace(" ", "-"), updated)
        for title_of_variant in _titles(rng, count):
            variant_number += rng.randint(1, 99)
            index = len(found)
            roll = rng.random()
            sku = None if roll < 0.1 else "" if roll < 0.15 else f"{product.handle[:6].upper()}-{index:03d}"
            price = (Decimal(rng.randrange(500, 20_000)) / 100).quantize(CENT)
            compare_at = (
                (price * Decimal(rng.choice(("1.2", "1.5")))).quantize(CENT) if rng.random() < 0.25 else None
            )
            found[variant_number] = Variant(
                number=variant_number,
                product=product,
                item=ITEM_BASE + (variant_number - VARIANT_BASE),
                title=title_of_variant,
                sku=sku,
                price=price,
                compare_at=compare_at,
                tracked=rng.random() >= 1 / 7,
                updated_at=updated + timedelta(seconds=rng.randrange(3_600)),
                levels=_levels(rng, index, locations, past),
            )
    return Shop(
        name="Sandbox Outfitters",
        locations={loc.number: loc for loc in locations},
        variants=found,
        items={v.item: v for v in found.values()},
    )
