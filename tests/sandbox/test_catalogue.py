from __future__ import annotations

import re

from sync_core.sandbox import SandboxConfig, SandboxState
from sync_core.sandbox.catalogue import generate_catalogue, now_ms, product_key
from sync_core.sandbox.rules import expected_values, product_available, variant_is_well_formed

OBJECT_ID = re.compile(r"[0-9a-f]{24}")


def _without_times(products: list[dict]) -> list[dict]:
    return [{k: v for k, v in p.items() if k not in ("createdAt", "updatedAt")} for p in products]


def test_same_seed_same_catalogues_other_seed_differs() -> None:
    a = generate_catalogue(SandboxConfig(products=30, seed=3), at_ms=1_700_000_000_000)
    b = generate_catalogue(SandboxConfig(products=30, seed=3), at_ms=1_700_000_000_000)
    c = generate_catalogue(SandboxConfig(products=30, seed=4), at_ms=1_700_000_000_000)
    assert a.supplier_products == b.supplier_products
    assert a.store_variants == b.store_variants
    assert _without_times(a.supplier_products) != _without_times(c.supplier_products)


def test_supplier_products_carry_the_contract_quirks() -> None:
    cat = generate_catalogue(SandboxConfig(products=300, seed=1))
    products = cat.supplier_products
    variants = [v for p in products for v in p["variants"]]
    assert all(OBJECT_ID.fullmatch(product_key(p)) for p in products)
    assert all(OBJECT_ID.fullmatch(v["_id"]) for v in variants)
    assert any("_id" in p and "id" not in p for p in products) and any("id" in p for p in products)
    assert any(isinstance(v["attributes"], list) for v in variants)
    assert any(isinstance(v["attributes"], dict) for v in variants)
    assert any(v.get("labelPrice", 0) > v["price"] for v in variants)
    assert any("labelPrice" in v and v["labelPrice"] <= v["price"] for v in variants)
    assert any("labelPrice" not in v for v in variants)
    assert any(v["stock"] is None for v in variants)
    assert any(p["resellStatus"] == "editing-pending" for p in products)
    assert any("shipments" not in p for p in products)
    assert any(p.get("shipments") == [] for p in products)
    assert any(p.get("shipments") and not product_available(p) for p in products)
    assert all("seo" in p for p in products)  # unknown fields a client must ignore
    assert max(cat.updated_ms) < now_ms() - 3_600_000  # updated days ago
    assert all(len(p["variants"]) == 3 for p in products)


def test_store_links_in_sync_unlinked_and_merchant_products() -> None:
    config = SandboxConfig(
        products=200, seed=2, in_sync_fraction=0.25, unlinked_fraction=0.1, merchant_products=4
    )
    cat = generate_catalogue(config)
    assert len(cat.unlinked_products) == 20
    assert len(cat.store_products) == 200 - 20 + 4
    supplier_ids = set(cat.variant_index)
    linked = [v for v in cat.store_variants.values() if v.sku in supplier_ids]
    assert len(linked) == 180 * 3
    merchant = [cat.store_variants[i] for i in cat.merchant_variant_ids]
    assert merchant and all(v.sku is None or v.sku not in supplier_ids for v in merchant)
    assert any(v.sku is None for v in merchant)
    in_sync = 0
    for v in linked:
        i, j = cat.variant_index[v.sku]
        in_sync += (
            expected_values(cat.supplier_products[i], cat.supplier_products[i]["variants"][j]) == v.values()
        )
    assert in_sync == round(len(linked) * 0.25)


def test_bad_records_are_deterministic_and_broken() -> None:
    config = SandboxConfig(products=100, seed=5, bad_record_fraction=0.1)
    a, b = generate_catalogue(config), generate_catalogue(config)
    assert a.broken_products == b.broken_products and len(a.broken_products) == 10
    for key in a.broken_products:
        product = a.supplier_products[a.product_index[key]]
        assert not all(variant_is_well_formed(v) for v in product["variants"])
    healthy = [p for p in a.supplier_products if product_key(p) not in a.broken_products]
    assert all(variant_is_well_formed(v) for p in healthy for v in p["variants"])


def test_many_variants_per_product_get_distinct_titles() -> None:
    state = SandboxState(SandboxConfig(products=3, variants=30, merchant_products=0, unlinked_fraction=0))
    titles = [v.title for v in state.catalogue.store_variants.values() if v.product_id == 1001]
    assert len(titles) == len(set(titles)) == 30
