from __future__ import annotations

import httpx
import pytest

from sync_core.sandbox import SandboxHandle
from sync_core.sandbox.catalogue import now_ms, product_key

DENIED = {"statusCode": 403, "success": False, "error": "10010"}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "sandbox-token"}]
)
@pytest.mark.parametrize("path", ["/auth/validate", "/products", "/products/abc"])
def test_bad_or_missing_token_is_403_with_error_code(
    shared_sandbox: SandboxHandle, headers: dict, path: str
) -> None:
    r = httpx.get(shared_sandbox.anar360_base + path, headers=headers)
    assert r.status_code == 403
    assert r.json() == DENIED


def test_auth_validate(anar_ro: httpx.Client) -> None:
    body = anar_ro.get("/auth/validate").json()
    assert body["success"] is True and body["shopUrl"].startswith("https://")
    assert body["subscriptionPlan"] == "pro" and isinstance(body["subscriptionRemaining"], int)


def test_default_page_is_first_page_of_25(anar_ro: httpx.Client) -> None:
    body = anar_ro.get("/products").json()
    assert (body["total"], body["skip"], body["limit"], len(body["items"])) == (40, 0, 25, 25)


def test_pages_are_1_based_cover_the_catalogue_and_end_empty(anar_ro: httpx.Client) -> None:
    seen: list[str] = []
    for page in (1, 2, 3, 4, 5):
        body = anar_ro.get("/products", params={"page": page, "limit": 9}).json()
        assert body["skip"] == (page - 1) * 9 and body["limit"] == 9
        seen += [product_key(p) for p in body["items"]]
    assert len(seen) == len(set(seen)) == 40
    assert anar_ro.get("/products", params={"page": 6, "limit": 9}).json()["items"] == []


def test_limit_is_capped_and_the_used_limit_reported(make_sandbox) -> None:
    sb = make_sandbox(products=30, anar360_max_limit=10)
    r = httpx.get(
        sb.anar360_base + "/products",
        params={"page": 2, "limit": 500},
        headers={"Authorization": f"Bearer {sb.anar360_token}"},
    )
    body = r.json()
    assert (body["limit"], body["skip"], len(body["items"]), body["total"]) == (10, 10, 10, 30)


@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"page": -1},
        {"limit": 0},
        {"page": "x"},
        {"limit": "2.5"},
        {"since": 120000},
        {"since": "yesterday"},
        {"page": ""},
    ],
)
def test_invalid_query_is_400(anar_ro: httpx.Client, params: dict) -> None:
    r = anar_ro.get("/products", params=params)
    assert r.status_code == 400
    assert r.json()["success"] is False and r.json()["statusCode"] == 400


def test_since_window_lists_only_recent_products(sandbox: SandboxHandle, anar: httpx.Client) -> None:
    assert anar.get("/products", params={"since": -60_000}).json()["total"] == 0
    changed = sandbox.state.mutate(5, seed=1)
    body = anar.get("/products", params={"since": -60_000, "limit": 100}).json()
    listed = {v["_id"] for p in body["items"] for v in p["variants"]}
    assert set(changed) <= listed
    assert body["total"] == len(body["items"]) <= 5
    for item in body["items"]:
        assert item["updatedAt"].endswith("Z")
    # A window wider than the catalogue's age is the whole catalogue; since=0 is "from now on".
    assert anar.get("/products", params={"since": -40 * 86_400_000}).json()["total"] == 40
    assert anar.get("/products", params={"since": 0}).json()["total"] == 0


def test_since_window_pages_without_overlap(sandbox: SandboxHandle, anar: httpx.Client) -> None:
    sandbox.state.mutate(20, seed=2)
    window = -int(now_ms() - min(sandbox.state.catalogue.updated_ms)) - 1000
    total = anar.get("/products", params={"since": window}).json()["total"]
    keys = [
        product_key(p)
        for page in range(1, 20)
        for p in anar.get("/products", params={"since": window, "page": page, "limit": 3}).json()["items"]
    ]
    assert len(keys) == len(set(keys)) == total == 40


def test_get_product_by_id_or_underscore_id(shared_sandbox: SandboxHandle, anar_ro: httpx.Client) -> None:
    products = shared_sandbox.state.catalogue.supplier_products
    with_id = next(p for p in products if "id" in p)
    with_underscore = next(p for p in products if "_id" in p)
    assert anar_ro.get(f"/products/{with_id['id']}").json() == with_id
    assert anar_ro.get(f"/products/{with_underscore['_id']}").json() == with_underscore
    r = anar_ro.get("/products/000000000000000000000000")
    assert r.status_code == 404 and r.json()["success"] is False
