from __future__ import annotations

import httpx
import pytest

from sync_core.sandbox import SandboxHandle
from tests.sandbox.helpers import linked_ids

OK = {"error": "", "error_code": 0, "status": 200}


def _ok(body: dict) -> dict:
    assert {k: body[k] for k in OK} == OK
    return body["result"]


def test_catalogue_defaults_to_page_0_of_10(shared_sandbox: SandboxHandle, sazito_ro: httpx.Client) -> None:
    result = _ok(sazito_ro.get("/products").json())
    total = len(shared_sandbox.state.catalogue.store_products)
    assert (result["page_number"], result["page_size"], result["total_count"]) == (0, 10, total)
    assert len(result["products"]) == 10
    variant = result["products"][0]["product_variants"][0]
    assert set(variant) == {
        "id",
        "title",
        "sku",
        "price",
        "discount_price",
        "is_stock_managed",
        "stock_number",
    }
    assert isinstance(variant["id"], int) and isinstance(result["products"][0]["id"], int)


def test_catalogue_pages_are_0_based_and_end_empty(
    shared_sandbox: SandboxHandle, sazito_ro: httpx.Client
) -> None:
    total = len(shared_sandbox.state.catalogue.store_products)
    ids: list[int] = []
    page = 0
    while products := _ok(sazito_ro.get("/products", params={"page_number": page, "page_size": 7}).json())[
        "products"
    ]:
        ids += [p["id"] for p in products]
        page += 1
    assert len(ids) == len(set(ids)) == total
    assert page == -(-total // 7)


def test_page_size_is_capped_and_reported(make_sandbox) -> None:
    sb = make_sandbox(sazito_max_page_size=5)
    result = _ok(httpx.get(sb.sazito_base + "/products", params={"page_size": 100}).json())
    assert result["page_size"] == 5 and len(result["products"]) == 5


@pytest.mark.parametrize("params", [{"page_number": -1}, {"page_size": 0}, {"page_number": "a"}])
def test_bad_catalogue_query_is_a_failed_envelope(sazito_ro: httpx.Client, params: dict) -> None:
    r = sazito_ro.get("/products", params=params)
    assert r.status_code == 400 and r.json()["status"] == 400 and r.json()["error"]


def test_merchant_products_are_listed_without_supplier_skus(
    shared_sandbox: SandboxHandle, sazito_ro: httpx.Client
) -> None:
    result = _ok(sazito_ro.get("/products", params={"page_size": 100}).json())
    supplier = shared_sandbox.state.catalogue.variant_index
    merchant = [v for p in result["products"] for v in p["product_variants"] if v["sku"] not in supplier]
    assert merchant and any(v["sku"] is None for v in merchant)


WRITES = [
    ("PUT", "/accounting/bulk-update-price", {"variants": []}),
    ("PUT", "/accounting/bulk-update-stock", {"variants": []}),
    ("PUT", "/accounting/update-price/50001", {"price": 1000, "discount_price": None}),
    ("PUT", "/accounting/update-stock/50001", {"is_stock_manager": True, "stock_number": 1}),
    ("POST", "/products", {"product": {"name": "x"}, "product_variants": [{"price": 1, "stock_number": 1}]}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize("key", [None, "wrong"])
def test_writes_need_the_api_key(
    shared_sandbox: SandboxHandle, method: str, path: str, body: dict, key: str | None
) -> None:
    headers = {"X-API-KEY": key} if key else {}
    r = httpx.request(method, shared_sandbox.sazito_base + path, json=body, headers=headers)
    assert r.status_code == 401
    assert r.json()["status"] == 401 and r.json()["error_code"] != 0 and "key" in r.json()["error"]
    assert shared_sandbox.sazito_key not in r.text
    assert shared_sandbox.state.stats()["write_calls"] == 0


def test_bulk_price_applies_valid_and_lists_failures(sandbox: SandboxHandle, sazito: httpx.Client) -> None:
    a, b, c, d = linked_ids(sandbox)[:4]
    body = {
        "variants": [
            {"id": a, "price": 520000, "discount_price": 450000},
            {"id": b, "price": 300000, "discount_price": None},
            {"id": c, "price": 1000, "discount_price": 1000},  # discount >= price
            {"id": d, "price": -5, "discount_price": None},
            {"id": 999_999, "price": 1000, "discount_price": None},  # unknown
        ]
    }
    result = _ok(sazito.put("/accounting/bulk-update-price", json=body).json())
    assert result == {"success_variants": [a, b], "failed_variant_ids": [c, d, 999_999]}
    variants = sandbox.state.catalogue.store_variants
    assert (variants[a].price, variants[a].discount_price) == (520000, 450000)
    assert (variants[b].price, variants[b].discount_price) == (300000, None)
    stats = sandbox.state.stats()
    assert (stats["write_calls"], stats["variant_writes"], stats["noop_writes"]) == (1, 2, 0)
    sazito.put("/accounting/bulk-update-price", json={"variants": body["variants"][:1]})
    assert sandbox.state.stats()["noop_writes"] == 1
    assert sandbox.state.stats()["variant_write_counts"][a] == 2


def test_bulk_price_left_out_discount_is_kept(sandbox: SandboxHandle, sazito: httpx.Client) -> None:
    vid = linked_ids(sandbox)[0]
    sazito.put(
        "/accounting/bulk-update-price",
        json={"variants": [{"id": vid, "price": 9000, "discount_price": 8000}]},
    )
    sazito.put("/accounting/bulk-update-price", json={"variants": [{"id": vid, "price": 9500}]})
    variant = sandbox.state.catalogue.store_variants[vid]
    assert (variant.price, variant.discount_price) == (9500, 8000)


@pytest.mark.parametrize("path", ["/accounting/bulk-update-price", "/accounting/bulk-update-stock"])
@pytest.mark.parametrize(
    "body",
    [
        {"variants": [{"id": 50001, "price": 1, "stock": 1}] * 51},
        {"nope": []},
        [1, 2],
        {"variants": [{"price": 5}]},
        {"variants": [{"id": "50001", "price": 5, "stock": 1}]},
    ],
)
def test_bulk_malformed_or_over_50_is_422_for_the_whole_call(
    shared_sandbox: SandboxHandle, sazito_ro: httpx.Client, path: str, body: object
) -> None:
    r = sazito_ro.put(path, json=body)
    assert r.status_code == 422 and r.json()["status"] == 422 and r.json()["error"]
    assert shared_sandbox.state.stats()["variant_writes"] == 0


def test_bulk_not_json_is_422(sazito_ro: httpx.Client) -> None:
    r = sazito_ro.put("/accounting/bulk-update-stock", content=b"{not json")
    assert r.status_code == 422


def test_bulk_of_exactly_50_is_accepted(sandbox: SandboxHandle, sazito: httpx.Client) -> None:
    ids = linked_ids(sandbox)[:50]
    result = _ok(
        sazito.put(
            "/accounting/bulk-update-stock", json={"variants": [{"id": i, "stock": 3} for i in ids]}
        ).json()
    )
    assert result["success_variants"] == ids and result["failed_variant_ids"] == []


def test_bulk_stock_sets_absolute_managed_stock(sandbox: SandboxHandle, sazito: httpx.Client) -> None:
    a, b = linked_ids(sandbox)[:2]
    sazito.put(f"/accounting/update-stock/{a}", json={"is_stock_manager": False, "stock_number": 0})
    result = _ok(
        sazito.put(
            "/accounting/bulk-update-stock",
            json={"variants": [{"id": a, "stock": 12}, {"id": b, "stock": -1}]},
        ).json()
    )
    assert result == {"success_variants": [a], "failed_variant_ids": [b]}
    variant = sandbox.state.catalogue.store_variants[a]
    assert (variant.is_stock_managed, variant.stock_number) == (True, 12)


def test_update_price_single(sandbox: SandboxHandle, sazito: httpx.Client) -> None:
    vid = linked_ids(sandbox)[0]
    r = sazito.put(
        f"/accounting/update-price/{vid}",
        json={"price": 450000, "discount_price": None, "has_raw_price": False},
    )
    assert _ok(r.json())["price"] == 450000 and r.json()["result"]["id"] == vid
    assert (
        sazito.put("/accounting/update-price/999999", json={"price": 1, "discount_price": None}).status_code
        == 404
    )
    assert sazito.put("/accounting/update-price/abc", json={"price": 1}).status_code == 404
    for bad in (
        {"price": -1, "discount_price": None},
        {"price": 10, "discount_price": 10},
        {"price": "10", "discount_price": None},
        {"price": 10.0},
        [1],
    ):
        r = sazito.put(f"/accounting/update-price/{vid}", json=bad)
        assert r.status_code == 422 and r.json()["status"] == 422, bad
    assert sandbox.state.catalogue.store_variants[vid].price == 450000
    assert sandbox.state.stats()["write_calls"] == 1


def test_update_stock_single_absolute_unmanaged_and_relative(
    sandbox: SandboxHandle, sazito: httpx.Client
) -> None:
    vid = linked_ids(sandbox)[0]
    variant = sandbox.state.catalogue.store_variants[vid]
    path = f"/accounting/update-stock/{vid}"
    _ok(sazito.put(path, json={"is_stock_manager": True, "stock_number": 12, "is_relative": False}).json())
    assert (variant.is_stock_managed, variant.stock_number) == (True, 12)
    _ok(sazito.put(path, json={"is_stock_manager": True, "stock_number": 3, "is_relative": True}).json())
    assert variant.stock_number == 15
    _ok(sazito.put(path, json={"is_stock_manager": False, "stock_number": 0, "is_relative": False}).json())
    assert variant.is_stock_managed is False
    assert sandbox.state.stats()["relative_writes"] == 1
    assert (
        sazito.put(
            "/accounting/update-stock/999999", json={"is_stock_manager": True, "stock_number": 1}
        ).status_code
        == 404
    )
    for bad in (
        {"stock_number": 1},
        {"is_stock_manager": True},
        {"is_stock_manager": True, "stock_number": -1},
        {"is_stock_manager": "yes", "stock_number": 1},
    ):
        assert sazito.put(path, json=bad).status_code == 422, bad


@pytest.mark.parametrize("envelope", ["wrapped", "flat", "bare"])
def test_bulk_answer_shapes(make_sandbox, envelope: str) -> None:
    sb = make_sandbox(envelope=envelope)
    vid = linked_ids(sb)[0]
    body = httpx.put(
        sb.sazito_base + "/accounting/bulk-update-stock",
        headers={"X-API-KEY": sb.sazito_key},
        json={"variants": [{"id": vid, "stock": 1}, {"id": 1, "stock": 1}]},
    ).json()
    lists = {"success_variants": [vid], "failed_variant_ids": [1]}
    expected = {"wrapped": {"result": lists, **OK}, "flat": {**lists, **OK}, "bare": lists}[envelope]
    assert body == expected


def test_mixed_envelope_rotates_through_all_shapes(make_sandbox) -> None:
    sb = make_sandbox(envelope="mixed")
    shapes = []
    with httpx.Client(base_url=sb.sazito_base, headers={"X-API-KEY": sb.sazito_key}) as client:
        for _ in range(6):
            body = client.put("/accounting/bulk-update-price", json={"variants": []}).json()
            shapes.append("wrapped" if "result" in body else "flat" if "status" in body else "bare")
    assert shapes == ["wrapped", "flat", "bare"] * 2


def test_rejected_variants_always_fail(make_sandbox) -> None:
    sb = make_sandbox(rejected_fraction=0.1)
    rejected = [v for v in linked_ids(sb) if sb.state.is_rejected(v)]
    assert len(rejected) == round(len(linked_ids(sb)) * 0.1)
    with httpx.Client(base_url=sb.sazito_base, headers={"X-API-KEY": sb.sazito_key}) as client:
        result = _ok(
            client.put(
                "/accounting/bulk-update-stock",
                json={"variants": [{"id": v, "stock": 1} for v in rejected[:3]]},
            ).json()
        )
        assert result == {"success_variants": [], "failed_variant_ids": rejected[:3]}
        r = client.put(f"/accounting/update-price/{rejected[0]}", json={"price": 5, "discount_price": None})
        assert r.status_code == 422


def test_create_product(sandbox: SandboxHandle, sazito: httpx.Client) -> None:
    body = {
        "product": {"name": "New Hat", "product_type": "simple", "description": "<p>hat</p>"},
        "product_variants": [
            {"sku": "abc", "price": 450000, "is_stock_managed": True, "stock_number": 12},
            {"sku": "def", "price": 1000, "is_stock_managed": False},
        ],
    }
    before = set(sandbox.state.catalogue.store_variants)
    product = _ok(sazito.post("/products", json=body).json())["product"]
    assert isinstance(product["id"], int) and len(product["product_variants"]) == 2
    new_ids = [v["id"] for v in product["product_variants"]]
    assert set(new_ids).isdisjoint(before)
    variants = sandbox.state.catalogue.store_variants
    assert variants[new_ids[0]].sku == "abc" and variants[new_ids[1]].is_stock_managed is False
    stats = sandbox.state.stats()
    assert (stats["created_products"], stats["created_variants"], stats["write_calls"]) == (1, 2, 1)
    listed = _ok(sazito.get("/products", params={"page_number": 0, "page_size": 100}).json())["products"]
    assert product["id"] in [p["id"] for p in listed]
    for bad in (
        {"product": {}, "product_variants": body["product_variants"]},
        {"product": {"name": "x"}, "product_variants": []},
        {"product": {"name": "x"}, "product_variants": [{"price": -1, "stock_number": 1}]},
    ):
        assert sazito.post("/products", json=bad).status_code == 422
