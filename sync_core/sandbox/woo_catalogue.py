"""The WooCommerce simulator's catalogue: products (simple, variable, grouped, external) and variations, how
a deterministic one is generated, and their JSON as WooCommerce REST API v3 serves it.

Dates are kept in UTC to the second; ``date_modified`` (no ``_gmt``) is served in the site's zone (UTC-3).
Prices are Decimals with two places, served as strings (``""`` when unset).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

SITE_ZONE = timezone(
    timedelta(hours=-3)
)  # the site's zone: dates without _gmt, and modified_after without dates_are_gmt
GENERATED_FROM = datetime(2024, 3, 1, tzinfo=UTC)
_ADJECTIVES = ("Cotton", "Linen", "Leather", "Wool", "Denim", "Silk", "Classic", "Sport", "Urban", "Vintage")
_NOUNS = ("Shirt", "Hoodie", "Cap", "Jacket", "Scarf", "Belt", "Sneaker", "Backpack", "Mug", "Poster")
COLORS = ("Black", "Green", "Red", "Blue", "White")
SIZES = ("S", "M", "L", "XL")


def now_utc() -> datetime:
    """Now, in UTC, to the second (WooCommerce keeps dates to the second)."""
    return datetime.now(UTC).replace(microsecond=0)


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def quantize(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


@dataclass
class WooVariation:
    """A variation of a variable product; ``manage_stock`` is True, False or "parent"."""

    id: int
    parent_id: int
    sku: str
    regular_price: Decimal
    sale_price: Decimal | None
    manage_stock: bool | str
    stock_quantity: int | None
    attributes: tuple[tuple[str, str], ...]  # (name, option)
    created: datetime
    modified: datetime

    @property
    def price(self) -> Decimal:
        return self.sale_price if self.sale_price is not None else self.regular_price


@dataclass
class WooProduct:
    """A product; a variable one's price and stock live on its variations (``stock_quantity`` is the one its
    "parent"-managed variations share)."""

    id: int
    name: str
    type: str  # simple | variable | grouped | external
    sku: str
    regular_price: Decimal | None
    sale_price: Decimal | None
    manage_stock: bool
    stock_quantity: int | None
    created: datetime
    modified: datetime
    variations: list[int] = field(default_factory=list)
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, options) of a variable product
    children: tuple[int, ...] = ()  # a grouped product's

    @property
    def price(self) -> Decimal | None:
        return self.sale_price if self.sale_price is not None else self.regular_price


def stock_status(managed: bool, quantity: int | None) -> str:
    return "instock" if not managed or (quantity or 0) > 0 else "outofstock"


def _dates(value: datetime) -> dict[str, str]:
    return {
        "": value.astimezone(SITE_ZONE).strftime("%Y-%m-%dT%H:%M:%S"),
        "_gmt": value.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _dated(created: datetime, modified: datetime) -> dict[str, str]:
    made, changed = _dates(created), _dates(modified)
    return {
        "date_created": made[""],
        "date_created_gmt": made["_gmt"],
        "date_modified": changed[""],
        "date_modified_gmt": changed["_gmt"],
    }


def product_json(product: WooProduct, store: str, variation_prices: list[Decimal]) -> dict[str, Any]:
    """A product as ``GET /products`` serves it (``variation_prices``: a variable product's, for its price)."""
    price = min(variation_prices) if product.type == "variable" and variation_prices else product.price
    slug = product.name.lower().replace(" ", "-")
    return {
        "id": product.id,
        "name": product.name,
        "slug": slug,
        "permalink": f"{store}/product/{slug}/",
        **_dated(product.created, product.modified),
        "type": product.type,
        "status": "publish",
        "sku": product.sku,
        "price": money(price),
        "regular_price": money(product.regular_price),
        "sale_price": money(product.sale_price),
        "on_sale": product.sale_price is not None,
        "purchasable": price is not None,
        "manage_stock": product.manage_stock,
        "stock_quantity": product.stock_quantity,
        "stock_status": stock_status(product.manage_stock, product.stock_quantity),
        "parent_id": 0,
        "attributes": [
            {
                "id": 0,
                "name": name,
                "position": n,
                "visible": True,
                "variation": True,
                "options": list(options),
            }
            for n, (name, options) in enumerate(product.attributes)
        ],
        "variations": list(product.variations),
        "grouped_products": list(product.children),
        "_links": {"self": [{"href": f"{store}/wp-json/wc/v3/products/{product.id}"}]},
    }


def variation_json(variation: WooVariation, parent: WooProduct, store: str) -> dict[str, Any]:
    """A variation as ``/products/{id}/variations`` and ``/variations`` serve it (and as a ``sku=`` lookup
    does, product-shaped: ``type`` "variation" with its ``parent_id``); a "parent"-managed one shows its
    parent's stock_quantity."""
    own = variation.manage_stock is True
    quantity = parent.stock_quantity if variation.manage_stock == "parent" else variation.stock_quantity
    options = [option for _, option in variation.attributes]
    return {
        "id": variation.id,
        "name": f"{parent.name} - {', '.join(options)}",
        "type": "variation",
        "parent_id": parent.id,
        **_dated(variation.created, variation.modified),
        "status": "publish",
        "sku": variation.sku,
        "price": money(variation.price),
        "regular_price": money(variation.regular_price),
        "sale_price": money(variation.sale_price),
        "on_sale": variation.sale_price is not None,
        "purchasable": True,
        "manage_stock": variation.manage_stock,
        "stock_quantity": quantity,
        "stock_status": stock_status(own or variation.manage_stock == "parent", quantity),
        "attributes": [{"id": 0, "name": name, "option": option} for name, option in variation.attributes],
        "_links": {"up": [{"href": f"{store}/wp-json/wc/v3/products/{parent.id}"}]},
    }


def _price(rng: random.Random) -> tuple[Decimal, Decimal | None]:
    regular = quantize(Decimal(rng.randrange(500, 20_000)) / 100)
    sale = quantize(regular * Decimal("0.8")) if rng.random() < 0.25 else None
    return regular, sale


def _sku(rng: random.Random, item_id: int) -> str:
    return "" if rng.random() < 0.15 else f"WC-{item_id}"


class Generator:
    """Builds a deterministic catalogue of ``variants`` sellable items (simple products and variations),
    with grouped and external products among them (not sellable items)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed * 7919 + 3)
        self.next_id = 100

    def new_id(self) -> int:
        self.next_id += self.rng.randint(1, 4)
        return self.next_id

    def dates(self) -> tuple[datetime, datetime]:
        created = GENERATED_FROM + timedelta(seconds=self.rng.randrange(0, 120 * 86_400))
        return created, created + timedelta(seconds=self.rng.randrange(0, 90 * 86_400))

    def name(self) -> str:
        return f"{self.rng.choice(_ADJECTIVES)} {self.rng.choice(_NOUNS)}"

    def simple(self) -> WooProduct:
        rng, product_id = self.rng, self.new_id()
        regular, sale = _price(rng)
        managed = rng.random() < 0.8
        quantity = rng.randrange(0, 50) if managed else None
        return WooProduct(
            product_id,
            self.name(),
            "simple",
            _sku(rng, product_id),
            regular,
            sale,
            managed,
            quantity,
            *self.dates(),
        )

    def variable(self, count: int) -> tuple[WooProduct, list[WooVariation]]:
        rng, product_id = self.rng, self.new_id()
        parent_managed = rng.random() < 0.35
        created, modified = self.dates()
        combos = [(c, s) for c in rng.sample(COLORS, 2) for s in rng.sample(SIZES, 2)][:count]
        product = WooProduct(
            product_id, self.name(), "variable", _sku(rng, product_id), None, None, parent_managed,
            rng.randrange(0, 80) if parent_managed else None, created, modified,
            attributes=(("Color", tuple(dict.fromkeys(c for c, _ in combos))), ("Size", tuple(dict.fromkeys(s for _, s in combos)))),
        )  # fmt: skip
        variations = []
        for color, size in combos:
            variation_id = self.new_id()
            regular, sale = _price(rng)
            if parent_managed and rng.random() < 0.7:
                manage: bool | str = "parent"
            else:
                manage = rng.random() < 0.75
            quantity = rng.randrange(0, 30) if manage is True else None
            variations.append(
                WooVariation(
                    variation_id,
                    product_id,
                    _sku(rng, variation_id),
                    regular,
                    sale,
                    manage,
                    quantity,
                    (("Color", color), ("Size", size)),
                    created,
                    modified,
                )  # fmt: skip
            )
            product.variations.append(variation_id)
        return product, variations

    def other(self, kind: str, simple_ids: list[int]) -> WooProduct:
        product_id = self.new_id()
        regular = _price(self.rng)[0] if kind == "external" else None
        children = tuple(simple_ids[-2:]) if kind == "grouped" else ()
        return WooProduct(
            product_id, self.name(), kind, _sku(self.rng, product_id), regular, None, False, None, *self.dates(),
            children=children,
        )  # fmt: skip

    def catalogue(self, variants: int) -> tuple[dict[int, WooProduct], dict[int, WooVariation]]:
        """(products by id, variations by id) holding ``variants`` sellable items."""
        products: dict[int, WooProduct] = {}
        variations: dict[int, WooVariation] = {}
        simple_ids: list[int] = []
        made, others = 0, 0
        while made < variants:
            if made and self.rng.random() < 0.08 or made >= variants // 2 and others < 2:
                kind = "grouped" if others % 2 == 0 else "external"
                product = self.other(kind, simple_ids)
                products[product.id] = product
                others += 1
                continue
            if self.rng.random() < 0.45 or variants - made < 2:
                product = self.simple()
                simple_ids.append(product.id)
                made += 1
            else:
                product, children = self.variable(min(self.rng.randint(2, 4), variants - made))
                variations.update((v.id, v) for v in children)
                made += len(children)
            products[product.id] = product
        return products, variations
