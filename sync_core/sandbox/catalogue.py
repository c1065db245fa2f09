"""Deterministic generation of the Anar360 supplier catalogue and the Sazito store that mirrors it.

Everything but the timestamps derives from `SandboxConfig.seed`; timestamps are placed in the past relative
to the moment of generation so that `since` windows behave like the real API.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

from sync_core.sandbox.records import (
    DAY_MS,
    Catalogue,
    SandboxConfig,
    StoreProduct,
    StoreVariant,
    iso_ms,
    now_ms,
    paused_gc,
    product_key,
)
from sync_core.sandbox.rules import VariantValues, expected_values, product_available, variant_is_well_formed

__all__ = [
    "Catalogue",
    "SandboxConfig",
    "StoreProduct",
    "StoreVariant",
    "generate_catalogue",
    "iso_ms",
    "mutate_supplier",
    "now_ms",
    "product_key",
]
_ADJECTIVES = ("Cotton", "Linen", "Leather", "Wool", "Denim", "Silk", "Classic", "Sport", "Urban", "Vintage")
_NOUNS = ("T-shirt", "Shirt", "Jacket", "Bag", "Scarf", "Sneaker", "Hat", "Belt", "Dress", "Hoodie")
_COLORS = ("Red", "Blue", "Black", "White", "Green", "Grey")
_SIZES = ("S", "M", "L", "XL")
_COMBOS = tuple(itertools.product(_COLORS, _SIZES))


def _between(rng: random.Random, lo: int, hi: int) -> int:
    """An integer in [lo, hi): `randrange` is several times slower, which shows at 100k products."""
    return lo + int(rng.random() * (hi - lo))


def _object_id_factory(rng: random.Random) -> Callable[[int], str]:
    machine = rng.getrandbits(40)
    counter = itertools.count(rng.randrange(1 << 20))
    return lambda ts: f"{ts:08x}{machine:010x}{next(counter) & 0xFFFFFF:06x}"


def _shipments(rng: random.Random) -> list[dict[str, Any]] | None:
    roll = rng.random()
    if roll < 0.04:
        return None
    if roll < 0.07:
        return []
    active = roll >= 0.10
    delivery = [{"deliveryType": "post", "price": _between(rng, 20, 90) * 10_000, "active": active}]
    return [{"type": "standard", "active": active, "delivery": delivery}]


def _variant(rng: random.Random, vid: str, attrs: dict[str, str], as_list: bool) -> dict[str, Any]:
    price = _between(rng, 20, 5000) * 1000
    variant: dict[str, Any] = {"_id": vid}
    variant["attributes"] = [{"key": k, "value": v} for k, v in attrs.items()] if as_list else attrs
    variant["price"] = price
    roll = rng.random()
    if roll < 0.4:
        variant["labelPrice"] = price + _between(rng, 1, 100) * 1000
    elif roll < 0.6:
        variant["labelPrice"] = price - _between(rng, 0, 10) * 1000
    variant["stock"] = None if rng.random() < 0.15 else _between(rng, 0, 60)
    variant["weight"] = _between(rng, 100, 2000)
    variant["isDefault"] = False
    return variant


def _break(rng: random.Random, product: dict[str, Any]) -> None:
    variant = rng.choice(product["variants"])
    kind = rng.choice(("abc", "negative", "no-id"))
    if kind == "abc":
        variant["price"] = "abc"
    elif kind == "negative":
        variant["price"] = -abs(variant["price"]) or -1000
    else:
        del variant["_id"]


def _supplier_product(
    rng: random.Random,
    i: int,
    config: SandboxConfig,
    oid: Callable[[int], str],
    ts: int,
    created_ms: int,
    updated_ms: int,
) -> dict[str, Any]:
    title = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {i + 1}"
    key = "_id" if rng.random() < 0.2 else "id"
    n = len(_COMBOS)
    order = list(range(n))
    for j in range(min(config.variants, n)):  # partial Fisher-Yates: rng.sample is slow at 100k products
        k = _between(rng, j, n)
        order[j], order[k] = order[k], order[j]
    picked = [_COMBOS[k] for k in order[: min(config.variants, n)]]
    for j in range(n, config.variants):  # past the 24 colour/size pairs, sizes get a suffix
        color, size = _COMBOS[j % n]
        picked.append((color, f"{size}-{j // n}"))
    as_list = rng.random() < 0.2
    variants = [_variant(rng, oid(ts), {"color": c, "size": s}, as_list) for c, s in picked]
    if variants:
        variants[0]["isDefault"] = True
    product: dict[str, Any] = {key: oid(ts), "title": title, "description": f"<p>{title}</p>"}
    product["mainImage"] = f"https://cdn.sandbox.invalid/{i}/main.jpg"
    product["images"] = [
        {
            "src": product["mainImage"],
            "thumbnail": product["mainImage"],
            "_type": "image",
            "main": True,
            "_id": oid(ts),
        }
    ]
    product["categories"] = [{"_id": oid(ts), "name": "Clothing", "parent": None, "route": []}]
    product["attributes"] = [
        {"key": "color", "name": "Color", "values": sorted({c for c, _ in picked})},
        {"key": "size", "name": "Size", "values": sorted({s for _, s in picked})},
    ]
    product["status"] = "active"
    product["resellStatus"] = "editing-pending" if rng.random() < 0.05 else "approved"
    shipments = _shipments(rng)
    if shipments is not None:
        product["shipments"] = shipments
    product["createdAt"], product["updatedAt"] = iso_ms(created_ms), iso_ms(updated_ms)
    product["variants"] = variants
    product["__v"] = 0
    product["seo"] = {"slug": title.lower().replace(" ", "-"), "score": rng.randrange(100)}
    return product


def _stale(rng: random.Random, correct: VariantValues) -> VariantValues:
    price, discount, managed, stock = correct
    kind = rng.choice(("price", "stock", "both"))
    if kind in ("price", "both"):
        price = max(0, price + rng.choice((-1, 1)) * _between(rng, 1, 200) * 1000) or 1000
        discount = None if rng.random() < 0.5 else price - _between(rng, 1, 10) * 100
    if kind in ("stock", "both"):
        if not managed or rng.random() < 0.2:
            managed, stock = (not managed), (_between(rng, 0, 60) if not managed else None)
        else:
            stock = (stock or 0) + _between(rng, 1, 20)
    return VariantValues(price, discount, managed, stock)


def generate_catalogue(config: SandboxConfig, at_ms: int | None = None) -> Catalogue:
    """Build both catalogues from `config`; timestamps lie before `at_ms` (default: now)."""
    with paused_gc():
        return _generate(config, at_ms)


def _generate(config: SandboxConfig, at_ms: int | None) -> Catalogue:
    rng = random.Random(config.seed)
    oid = _object_id_factory(rng)
    at = now_ms() if at_ms is None else at_ms
    base_ts = 1_690_000_000 + rng.randrange(10_000_000)
    n = config.products
    order = rng.sample(range(n), n)
    n_unlinked, n_broken = round(n * config.unlinked_fraction), round(n * config.bad_record_fraction)
    unlinked_pos, broken_pos = set(order[:n_unlinked]), set(order[n_unlinked : n_unlinked + n_broken])
    products: list[dict[str, Any]] = []
    updated: list[int] = []
    for i in range(n):
        updated_ms = at - _between(rng, DAY_MS, 30 * DAY_MS)
        created_ms = updated_ms - _between(rng, 0, 300 * DAY_MS)
        product = _supplier_product(rng, i, config, oid, base_ts + i * 60, created_ms, updated_ms)
        if i in broken_pos:
            _break(rng, product)
        products.append(product)
        updated.append(updated_ms)
    variant_index = {
        v["_id"]: (i, j)
        for i, p in enumerate(products)
        for j, v in enumerate(p["variants"])
        if isinstance(v.get("_id"), str)
    }
    # A store product per linked supplier product, merchant products at seeded positions among them.
    specs: list[int | None] = [i for i in range(n) if i not in unlinked_pos]
    for _ in range(config.merchant_products):
        specs.insert(rng.randrange(len(specs) + 1), None)
    store_products: dict[int, StoreProduct] = {}
    store_variants: dict[int, StoreVariant] = {}
    merchant_ids: set[int] = set()
    correct_of: dict[int, VariantValues] = {}
    pid, vid = 1001, 50001
    for k, spec in enumerate(specs):
        ids: list[int] = []
        if spec is None:
            name = f"Merchant item {k}"
            for j in range(_between(rng, 1, 3)):
                sku = None if j % 2 == 0 and rng.random() < 0.5 else f"MRC-{k:04d}-{j}"
                values = VariantValues(_between(rng, 10, 900) * 1000, None, True, _between(rng, 0, 30))
                store_variants[vid] = StoreVariant(vid, pid, sku, f"Option {j + 1}", *values)
                merchant_ids.add(vid)
                ids.append(vid)
                vid += 1
        else:
            product = products[spec]
            name = product["title"]
            for variant in product["variants"]:
                if not isinstance(variant.get("_id"), str):
                    continue
                attrs = variant["attributes"]
                title = (
                    " / ".join(a["value"] for a in attrs)
                    if isinstance(attrs, list)
                    else " / ".join(attrs.values())
                )
                if spec not in broken_pos and variant_is_well_formed(variant):
                    correct_of[vid] = expected_values(product, variant)
                placeholder = VariantValues(_between(rng, 10, 900) * 1000, None, True, _between(rng, 0, 30))
                store_variants[vid] = StoreVariant(vid, pid, variant["_id"], title, *placeholder)
                ids.append(vid)
                vid += 1
        store_products[pid] = StoreProduct(pid, name, name.lower().replace(" ", "-"), ids)
        pid += 1
    candidates = sorted(correct_of)
    in_sync = set(rng.sample(candidates, round(len(candidates) * config.in_sync_fraction)))
    for variant_id in candidates:
        values = correct_of[variant_id] if variant_id in in_sync else _stale(rng, correct_of[variant_id])
        sv = store_variants[variant_id]
        sv.price, sv.discount_price, sv.is_stock_managed, sv.stock_number = values
    link_order = sorted(v for v in store_variants if v not in merchant_ids)
    random.Random(config.seed + 1).shuffle(link_order)
    return Catalogue(
        supplier_products=products,
        updated_ms=updated,
        variant_index=variant_index,
        broken_products={product_key(products[i]) for i in broken_pos},
        unlinked_products={product_key(products[i]) for i in unlinked_pos},
        store_products=store_products,
        store_variants=store_variants,
        merchant_variant_ids=merchant_ids,
        link_order=link_order,
        next_product_id=pid,
        next_variant_id=vid,
    )


def mutate_supplier(cat: Catalogue, rng: random.Random, n_variants: int, at_ms: int) -> list[str]:
    """Change price and/or stock of up to n distinct linked, well-formed variants of healthy products.

    Every change is visible to a sync (an unavailable product gets a price change). Returns the `_id`s.
    """
    skus = {v.sku for v in cat.store_variants.values() if v.sku}
    eligible = sorted(
        vid
        for vid, (i, j) in cat.variant_index.items()
        if vid in skus
        and variant_is_well_formed(cat.supplier_products[i]["variants"][j])
        and product_key(cat.supplier_products[i]) not in cat.broken_products
    )
    chosen = rng.sample(eligible, min(max(0, n_variants), len(eligible)))
    for vid in chosen:
        pos, j = cat.variant_index[vid]
        product = cat.supplier_products[pos]
        variant = product["variants"][j]
        kind = rng.choice(("price", "stock", "both")) if product_available(product) else "price"
        if kind != "stock":
            _change_price(rng, variant)
        if kind != "price":
            _change_stock(rng, variant)
        cat.touch(pos, at_ms)
    return chosen


def _change_price(rng: random.Random, variant: dict[str, Any]) -> None:
    old = variant["price"]
    new = old + rng.choice((-1, 1)) * _between(rng, 1, 50) * 1000
    if new < 1000:
        new = old + _between(rng, 1, 50) * 1000
    variant["price"] = new
    if isinstance(variant.get("labelPrice"), int):
        variant["labelPrice"] = max(0, variant["labelPrice"] + new - old)


def _change_stock(rng: random.Random, variant: dict[str, Any]) -> None:
    old = variant.get("stock")
    if old is None:
        variant["stock"] = _between(rng, 0, 60)
    elif rng.random() < 0.1:
        variant["stock"] = None
    else:
        new = max(0, old + rng.choice((-1, 1)) * _between(rng, 1, 10))
        variant["stock"] = new if new != old else old + 1
