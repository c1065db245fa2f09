"""The WooCommerce simulator (sync_core.sandbox.woo_*) as the contract describes the API, and the connector
reading it whole (through the ASGI app, no server) against the oracle."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from sync_core.connectors.store_items import StoreItem
from sync_core.connectors.woocommerce import WooCommerceStore
from sync_core.engine.connections import Connection
from sync_core.sandbox.woo_admin import woo_admin_routes
from sync_core.sandbox.woo_app import build_woo_app
from sync_core.sandbox.woo_oracle import ROW_FIELDS, woo_oracle
from sync_core.sandbox.woo_state import WooState
from sync_core.settings import Settings

HOST = "http://127.0.0.1:8765"
STORE = HOST + "/woocommerce"
API = "/woocommerce/wp-json/wc/v3"


class Woo:
    """Drives a simulator mounted as the sandbox mounts it: the store at /woocommerce, control at /_sandbox."""

    def __init__(self, **knobs: Any) -> None:
        self.state = WooState(variants=60, seed=11, lock=threading.RLock(), **knobs)
        app = Starlette(
            routes=[
                Mount("/woocommerce", app=build_woo_app(self.state)),
                Mount("/_sandbox", routes=woo_admin_routes(self.state)),
            ]
        )
        self.http = TestClient(app, base_url=HOST)
        self.auth = (self.state.knobs.consumer_key, self.state.knobs.consumer_secret)

    def get(self, path: str, auth: Any = True, **params: Any) -> httpx.Response:
        answer: httpx.Response = self.http.get(
            API + path, params=params, auth=self.auth if auth is True else auth
        )
        return answer

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        url = "/_sandbox/woocommerce/" + path
        answer = self.http.get(url) if body is None else self.http.post(url, json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def store(self, **overrides: Any) -> WooCommerceStore:
        """The connector, its calls sent into the app."""
        settings = Settings(_env_file=None, http_retries=2, http_retry_backoff_ms=0)  # type: ignore[call-arg]
        secret = SecretStr(f"{self.auth[0]}:{self.auth[1]}")
        connection = Connection("woocommerce", "sandbox-shop", STORE, secret, 100_000, "SHOP_WOO")
        return WooCommerceStore(
            settings, connection, transport=AppTransport(self.http), sleep=lambda s: None, **overrides
        )


class AppTransport(httpx.BaseTransport):
    """Sends a connector's requests into the ASGI app (through the TestClient's own transport)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.client.request(
            request.method, str(request.url), headers=dict(request.headers), content=request.read()
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


@pytest.fixture
def woo() -> Woo:
    return Woo()


def read_all(store: WooCommerceStore, since: datetime | None = None) -> list[StoreItem]:
    items: list[StoreItem] = []
    token: str | None = None
    for _ in range(200):
        page = store.read_page(token, since=since)
        assert not page.rejects, page.rejects
        items += page.items
        token = page.next
        if token is None:
            return items
    raise AssertionError("the read did not end")


def rows(items: list[StoreItem]) -> list[dict[str, Any]]:
    found = [{name: getattr(item, name) for name in ROW_FIELDS} for item in items]
    return sorted(found, key=lambda row: int(row["variant_id"]))


@pytest.fixture
def reader(woo: Woo) -> Iterator[WooCommerceStore]:
    with woo.store() as store:
        yield store


# ----- the API -------------------------------------------------------------------------------------------
def test_per_page_above_100_is_refused_not_capped(woo: Woo) -> None:
    answer = woo.get("/products", per_page=101)
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "rest_invalid_param" and body["data"]["status"] == 400
    assert "per_page" in body["data"]["params"]
    assert len(woo.get("/products", per_page=100).json()) == len(woo.state.products)
    assert len(woo.get("/products").json()) == 10  # the default


def test_paging_headers_and_the_empty_page_past_the_end(woo: Woo) -> None:
    total = len(woo.state.products)
    first = woo.get("/products", per_page=7, page=1, orderby="id", order="asc")
    assert first.headers["X-WP-Total"] == str(total)
    assert first.headers["X-WP-TotalPages"] == str(-(-total // 7))
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    ids = [p["id"] for p in first.json()]
    assert ids == sorted(woo.state.products)[:7]
    assert woo.get("/products", per_page=7, page=99).json() == []


def test_fields_trim_the_answer(woo: Woo) -> None:
    (record,) = woo.get("/products", per_page=1, _fields="id,sku,date_modified_gmt").json()
    assert set(record) == {"id", "sku", "date_modified_gmt"}


def test_modified_after_is_strict_to_the_second_and_in_gmt_when_asked(woo: Woo) -> None:
    newest = max(woo.state.products.values(), key=lambda p: p.modified)
    at = newest.modified.strftime("%Y-%m-%dT%H:%M:%S")
    second_before = (newest.modified - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")

    def ids(**params: Any) -> list[int]:
        return [p["id"] for p in woo.get("/products", per_page=100, **params).json()]

    assert newest.id not in ids(modified_after=at, dates_are_gmt="true")  # strictly after
    assert ids(modified_after=second_before, dates_are_gmt="true") == [newest.id]
    assert newest.id not in ids(modified_after=second_before)  # the site's zone (UTC-3): 3 h later in GMT


def test_a_sku_lookup_finds_variations_too(woo: Woo) -> None:
    variation = next(v for v in woo.state.variations.values() if v.sku)
    product = next(p for p in woo.state.products.values() if p.type == "simple" and p.sku)
    found = woo.get("/products", sku=f"{variation.sku},{product.sku}").json()
    by_id = {r["id"]: r for r in found}
    assert set(by_id) == {variation.id, product.id}
    assert (
        by_id[variation.id]["type"] == "variation" and by_id[variation.id]["parent_id"] == variation.parent_id
    )


@pytest.mark.parametrize(("version", "served"), [("10.3.0", True), ("10.2.1", False), ("9.8", False)])
def test_the_variations_route_follows_the_version(version: str, served: bool) -> None:
    woo = Woo(version=version)
    index = woo.get("", auth=None).json()
    assert ("/wc/v3/variations" in index["routes"]) is served
    answer = woo.get("/variations", per_page=100)
    if served:
        assert len(answer.json()) == len(woo.state.variations)
    else:
        assert answer.status_code == 404 and answer.json()["code"] == "rest_no_route"


def test_product_variations_and_a_deleted_product(woo: Woo) -> None:
    parent = next(p for p in woo.state.products.values() if p.type == "variable")
    found = woo.get(f"/products/{parent.id}/variations", per_page=100, orderby="id", order="asc").json()
    assert [v["id"] for v in found] == sorted(parent.variations)
    woo.admin("delete", {"ids": [parent.id]})
    gone = woo.get(f"/products/{parent.id}/variations")
    assert gone.status_code == 404 and gone.json()["code"] == "woocommerce_rest_product_invalid_id"


def test_credentials(woo: Woo) -> None:
    assert woo.get("/products", auth=None).status_code == 401
    wrong = woo.get("/products", auth=(woo.auth[0], "cs_wrong"))
    assert wrong.status_code == 401 and wrong.json()["code"] == "woocommerce_rest_authentication_error"
    assert woo.get("", auth=None).status_code == 200  # the route index is public
    assert woo.get("", auth=("ck_wrong", "x")).status_code == 401
    woo.admin("knobs", {"can_view": False})
    assert woo.get("/products").json()["code"] == "woocommerce_rest_cannot_view"


def test_a_dropped_authorization_header_needs_query_credentials(woo: Woo) -> None:
    woo.admin("knobs", {"drop_authorization": True})
    refused = woo.get("/products")
    assert refused.status_code == 401 and refused.json()["message"] == "Consumer key is missing."
    key, secret = woo.auth
    assert woo.get("/products", auth=None, consumer_key=key, consumer_secret=secret).status_code == 200
    assert all(secret not in q for q in woo.admin("stats")["queries"])


def test_faults(woo: Woo) -> None:
    woo.admin("knobs", {"down": True})
    assert woo.get("/products").status_code == 500
    woo.admin("knobs", {"down": False, "html_status": 503, "html_times": 1})
    answer = woo.get("/products")
    assert answer.status_code == 503 and answer.headers["content-type"].startswith("text/html")
    assert woo.get("/products").status_code == 200  # once only
    woo.admin("knobs", {"html_status": 200, "html_times": 0})
    assert woo.get("/products").text.startswith("<!DOCTYPE html>")
    woo.admin("knobs", {"html_status": None, "rate_limit_per_s": 1})
    statuses = [woo.get("/products").status_code for _ in range(3)]
    assert statuses[0] == 200 and 429 in statuses
    limited = woo.get("/products")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_wrong_knobs_are_refused(woo: Woo) -> None:
    answer = woo.http.post("/_sandbox/woocommerce/knobs", json={"html_status": "x"})
    assert answer.status_code == 400 and "html_status" in answer.json()["error"]


def test_stats_count_calls_by_path(woo: Woo) -> None:
    woo.get("/products")
    woo.get("/products/1/variations")
    stats = woo.admin("stats")
    assert stats["requests"]["GET /wp-json/wc/v3/products"] == 1
    assert stats["requests"]["GET /wp-json/wc/v3/products/{product_id:int}/variations"] == 1
    woo.admin("reset", {"stats_only": True})
    assert woo.admin("stats")["requests_total"] == 0


def test_the_catalogue_is_deterministic_and_has_every_kind() -> None:
    one, two = WooState(variants=60, seed=3), WooState(variants=60, seed=3)
    assert woo_oracle(one) == woo_oracle(two) and len(woo_oracle(one)) == 60
    kinds = {p.type for p in one.products.values()}
    assert kinds == {"simple", "variable", "grouped", "external"}
    manages = {v.manage_stock for v in one.variations.values()}
    assert manages == {True, False, "parent"}
    rows = woo_oracle(one)
    assert any(r["sku"] is None for r in rows) and any(r["compare_at_price"] is not None for r in rows)
    assert any(r["stock"] is None and not r["managed"] for r in rows)


# ----- the connector against the simulator ---------------------------------------------------------------
@pytest.mark.parametrize("version", ["10.3.0", "9.9.0"])
def test_a_full_read_equals_the_oracle(version: str) -> None:
    woo = Woo(version=version)
    with woo.store() as store:
        store.check()
        assert store.serves_variations() is (version == "10.3.0")
        items = read_all(store)
    assert rows(items) == woo_oracle(woo.state)
    assert woo.admin("oracle")["count"] == len(items) == 60
    requests = woo.admin("stats")["requests"]
    assert ("GET /wp-json/wc/v3/variations" in requests) is (version == "10.3.0")


def test_the_connector_falls_back_to_query_credentials(woo: Woo, reader: WooCommerceStore) -> None:
    woo.admin("knobs", {"drop_authorization": True})
    assert rows(read_all(reader)) == woo_oracle(woo.state)
    assert woo.admin("stats")["query_auth"] > 0


def test_the_connector_rides_out_an_html_503(woo: Woo, reader: WooCommerceStore) -> None:
    woo.admin("knobs", {"html_status": 503, "html_times": 2})
    assert rows(read_all(reader)) == woo_oracle(woo.state)


def test_a_sale_is_missed_by_an_incremental_read_and_seen_by_a_full_one(
    woo: Woo, reader: WooCommerceStore
) -> None:
    first = rows(read_all(reader))
    assert first == woo_oracle(woo.state)
    simple_managed = [r["variant_id"] for r in first if r["product_id"] == r["variant_id"] and r["managed"]]
    sold_ids, changed_id = [int(i) for i in simple_managed[:2]], int(simple_managed[2])
    since = datetime.now(UTC)
    assert woo.admin("sell", {"ids": sold_ids, "quantity": 2})["sold"] == sold_ids
    assert woo.admin("change", {"ids": [changed_id], "fields": ["price"]})["changed"] == [changed_id]

    changed = {i.variant_id for i in read_all(reader, since)}
    assert str(changed_id) in changed
    assert not changed & {str(i) for i in sold_ids}  # orders do not move date_modified

    full = rows(read_all(reader))
    assert full == woo_oracle(woo.state) and full != first
    stock = {r["variant_id"]: r["stock"] for r in full}
    before = {r["variant_id"]: r["stock"] for r in first}
    assert all(stock[str(i)] == before[str(i)] - 2 for i in sold_ids)


def test_a_changed_variation_is_read_again_both_ways() -> None:
    for version in ("10.3.0", "9.9.0"):
        woo = Woo(version=version)
        variation = next(iter(sorted(woo.state.variations)))
        since = datetime.now(UTC)
        woo.admin("change", {"ids": [variation], "fields": ["price", "sale"]})
        with woo.store() as store:
            found = {i.variant_id: i for i in read_all(store, since)}
        expected = {r["variant_id"]: r for r in woo_oracle(woo.state)}[str(variation)]
        assert {name: getattr(found[str(variation)], name) for name in ROW_FIELDS} == expected
