"""WooCommerce catalogue reader against respx routes built from the contract's sample
(contracts/samples/woocommerce_products_page.json, copied to tests/fixtures/woocommerce): a small store that
pages, trims to ``_fields`` and filters by ``modified_after`` the way the contract says WooCommerce does."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from sync_core import errors
from sync_core.connectors.store_items import ItemPage, StoreItem
from sync_core.connectors.woocommerce import WooCommerceStore
from sync_core.connectors.woocommerce_wire import Position
from sync_core.engine.connections import Connection
from sync_core.http.client import RequestRecord
from sync_core.settings import Settings
from tests.fakes import FakeTime

STORE = "https://shop.example.com"
API = STORE + "/wp-json/wc/v3"
KEY, SECRET = "ck_0123456789abcdef", "cs_fedcba9876543210"
SAMPLE = json.loads((Path(__file__).parent.parent / "fixtures/woocommerce/products_page.json").read_text())


def sample_products() -> list[dict[str, Any]]:
    """The sample page (799 variable without variation ids, 794 simple) and product 22, the variable
    product the sample's variations belong to."""
    products = copy.deepcopy(SAMPLE["response_body"])
    product_22 = {**copy.deepcopy(products[0]), "id": 22, "variations": [733, 732]}
    return [product_22, *products]


def sample_variations() -> dict[int, dict[str, Any]]:
    return {v["id"]: {**copy.deepcopy(v), "parent_id": 22} for v in SAMPLE["variations_response_body"]}


def simple(n: int, modified: str = "2026-11-20T10:00:00", **changes: Any) -> dict[str, Any]:
    found = {
        "id": n,
        "name": f"Product {n}",
        "type": "simple",
        "sku": f"SKU-{n}",
        "price": "10.00",
        "regular_price": "10.00",
        "sale_price": "",
        "manage_stock": True,
        "stock_quantity": 5,
        "stock_status": "instock",
        "variations": [],
        "date_modified_gmt": modified,
    }
    return {**found, **changes}


class FakeWoo:
    """A store: the route index (with or without /variations), /products (paged, ``include``,
    ``modified_after`` strictly after, ``_fields``), /products/{id}/variations and /variations."""

    def __init__(
        self,
        products: list[dict[str, Any]],
        variations: dict[int, dict[str, Any]] | None = None,
        *,
        shared: bool = False,
    ) -> None:
        self.products, self.variations, self.shared = products, variations or {}, shared
        self.queries: list[tuple[str, dict[str, str]]] = []

    def index(self, request: httpx.Request) -> httpx.Response:
        routes: dict[str, Any] = {
            "/wc/v3": {},
            "/wc/v3/products": {},
            "/wc/v3/products/(?P<product_id>[\\d]+)/variations": {},
        }
        if self.shared:
            routes["/wc/v3/variations"] = {}
        return httpx.Response(200, json={"namespace": "wc/v3", "routes": routes})

    def listing(self, request: httpx.Request, records: list[dict[str, Any]]) -> httpx.Response:
        assert (
            request.headers["Authorization"]
            == "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
        )
        params = dict(request.url.params)
        self.queries.append((request.url.path.removeprefix("/wp-json/wc/v3"), params))
        per_page, page = int(params.get("per_page", 10)), int(params.get("page", 1))
        if per_page > 100:
            return httpx.Response(400, json={"code": "rest_invalid_param", "data": {"status": 400}})
        if "include" in params:
            wanted = {int(i) for i in params["include"].split(",")}
            records = [r for r in records if r["id"] in wanted]
        if "modified_after" in params:
            assert params["dates_are_gmt"] == "true"
            records = [r for r in records if r["date_modified_gmt"] > params["modified_after"]]
        records = sorted(records, key=lambda r: r["id"])
        chosen = records[(page - 1) * per_page : page * per_page]
        if "_fields" in params:
            fields = params["_fields"].split(",")
            chosen = [{k: v for k, v in r.items() if k in fields} for r in chosen]
        pages = -(-len(records) // per_page)
        return httpx.Response(
            200, json=chosen, headers={"X-WP-Total": str(len(records)), "X-WP-TotalPages": str(pages)}
        )

    def products_route(self, request: httpx.Request) -> httpx.Response:
        return self.listing(request, self.products)

    def product_variations(self, request: httpx.Request, product_id: str) -> httpx.Response:
        parent = next(p for p in self.products if p["id"] == int(product_id))
        return self.listing(request, [self.variations[i] for i in parent["variations"]])

    def all_variations(self, request: httpx.Request) -> httpx.Response:
        return self.listing(request, list(self.variations.values()))

    def mount(self, router: respx.MockRouter) -> None:
        router.get(API).mock(side_effect=self.index)
        router.get(path="/wp-json/wc/v3/products").mock(side_effect=self.products_route)
        router.get(path__regex=r"/wp-json/wc/v3/products/(?P<product_id>\d+)/variations").mock(
            side_effect=self.product_variations
        )
        router.get(path="/wp-json/wc/v3/variations").mock(side_effect=self.all_variations)

    def paths(self) -> list[str]:
        return [path for path, _ in self.queries]


class ListAudit:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def record(self, rec: RequestRecord) -> None:
        self.records.append(rec)

    def dumped(self) -> str:
        return json.dumps([asdict(r) for r in self.records], default=str)


def settings() -> Settings:
    return Settings(_env_file=None, http_retries=2, http_retry_backoff_ms=0)  # type: ignore[call-arg]


def connection(base: str = STORE, secret: str = f"{KEY}:{SECRET}") -> Connection:
    return Connection("woocommerce", "shop-a", base, SecretStr(secret), 100_000, "SHOP_A_WOO")


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=STORE, assert_all_called=False)


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def woo(router: respx.MockRouter, audit: ListAudit, clock: FakeTime) -> Iterator[WooCommerceStore]:
    transport = httpx.MockTransport(router.handler)
    with WooCommerceStore(
        settings(), connection(), transport=transport, audit=audit, sleep=clock.sleep
    ) as store:
        yield store


def read_all(woo: WooCommerceStore, since: datetime | None = None) -> tuple[list[ItemPage], list[StoreItem]]:
    pages: list[ItemPage] = []
    token: str | None = None
    while True:
        pages.append(woo.read_page(token, since=since))
        token = pages[-1].next
        if token is None:
            return pages, [item for page in pages for item in page.items]
        assert len(pages) < 50


# --- the read ---


def test_the_sample_page(woo: WooCommerceStore, router: respx.MockRouter) -> None:
    store = FakeWoo(SAMPLE["response_body"])
    store.mount(router)
    pages, items = read_all(woo)
    assert items == [
        StoreItem(
            product_id="794",
            variant_id="794",
            sku=None,
            title="Premium Quality",
            price=Decimal("21.99"),
            compare_at_price=None,
            stock=None,
            managed=False,
            updated_at=datetime(2017, 3, 23, 20, 1, 14, tzinfo=UTC),
        )
    ]  # 799 is variable with no variations: no call for it
    assert pages[0].total == 2 and not pages[0].rejects
    assert store.paths() == ["/products", "/products"]
    first = store.queries[0][1]
    assert first == {
        "per_page": "100",
        "page": "1",
        "orderby": "id",
        "order": "asc",
        "_fields": "id,name,type,sku,price,regular_price,sale_price,manage_stock,stock_quantity,stock_status,"
        "variations,date_modified_gmt",
    }


def test_pages_run_to_the_empty_page_100_at_a_time(woo: WooCommerceStore, router: respx.MockRouter) -> None:
    store = FakeWoo([simple(n) for n in range(1, 151)])
    store.mount(router)
    pages, items = read_all(woo)
    assert [int(i.variant_id) for i in items] == list(range(1, 151))
    assert [q["page"] for _, q in store.queries] == ["1", "2", "3"]
    assert {q["per_page"] for _, q in store.queries} == {"100"} and pages[0].total == 150


def test_variations_per_product_when_the_index_has_no_variations_route(
    woo: WooCommerceStore, router: respx.MockRouter
) -> None:
    store = FakeWoo(sample_products(), sample_variations())
    store.mount(router)
    _, items = read_all(woo)
    assert [(i.product_id, i.variant_id, i.title, i.price) for i in items] == [
        ("794", "794", "Premium Quality", Decimal("21.99")),
        ("22", "732", "Ship Your Idea / Black", Decimal("9.00")),
        ("22", "733", "Ship Your Idea / Green", Decimal("9.00")),
    ]
    assert store.paths() == ["/products", "/products/22/variations", "/products"]  # one page of variations
    assert store.queries[1][1]["per_page"] == "100" and "modified_after" not in store.queries[1][1]


def test_variations_from_the_variations_route_when_the_index_lists_it(
    woo: WooCommerceStore, router: respx.MockRouter
) -> None:
    store = FakeWoo(sample_products(), sample_variations(), shared=True)
    store.mount(router)
    _, items = read_all(woo)
    assert sorted((i.variant_id, i.title) for i in items) == [
        ("732", "Ship Your Idea / Black"),
        ("733", "Ship Your Idea / Green"),
        ("794", "Premium Quality"),
    ]
    assert store.paths() == ["/products", "/products", "/variations", "/variations"]
    assert router.calls[0].request.url == API  # the route index, read once


def test_a_resumed_read_asks_the_products_it_has_not_seen(
    router: respx.MockRouter, audit: ListAudit, clock: FakeTime
) -> None:
    store = FakeWoo(sample_products(), sample_variations(), shared=True)
    store.mount(router)
    token = Position("variations", 1, shared=True).token()
    transport = httpx.MockTransport(router.handler)
    with WooCommerceStore(settings(), connection(), transport=transport, sleep=clock.sleep) as fresh:
        page = fresh.read_page(token)
    assert {i.title for i in page.items} == {"Ship Your Idea / Black", "Ship Your Idea / Green"}
    assert store.queries[1] == (
        "/products",
        {"include": "22", "per_page": "100", "_fields": "id,name,type,manage_stock,stock_quantity"},
    )


def test_stock_managed_by_the_parent_unmanaged_and_own(
    woo: WooCommerceStore, router: respx.MockRouter
) -> None:
    parent = simple(
        40, type="variable", manage_stock=True, stock_quantity=7, variations=[41, 42, 43], price=""
    )
    parent["name"] = "Shirt"
    variation = {k: v for k, v in simple(0).items() if k not in ("type", "variations", "name")}
    variations = {
        41: {
            **variation,
            "id": 41,
            "manage_stock": "parent",
            "stock_quantity": 7,
            "attributes": [{"name": "Color", "option": "Red"}, {"name": "Size", "option": "L"}],
        },
        42: {**variation, "id": 42, "manage_stock": False, "stock_quantity": None, "sku": ""},
        43: {**variation, "id": 43, "manage_stock": True, "stock_quantity": 2},
    }
    FakeWoo([parent], variations).mount(router)
    _, items = read_all(woo)
    assert [(i.variant_id, i.title, i.managed, i.stock, i.sku) for i in items] == [
        ("41", "Shirt / Red L", True, 7, "SKU-0"),
        ("42", "Shirt", False, None, None),
        ("43", "Shirt", True, 2, "SKU-0"),
    ]


def test_grouped_external_and_plugin_types_are_skipped(
    woo: WooCommerceStore, router: respx.MockRouter
) -> None:
    records = [simple(1), simple(2, type="grouped"), simple(3, type="external"), simple(4, type="bundle")]
    FakeWoo(records).mount(router)
    pages, items = read_all(woo)
    assert [i.variant_id for i in items] == ["1"] and not any(p.rejects for p in pages)


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        (("8.00", "10.00", "8.00"), (Decimal("8.00"), Decimal("10.00"))),
        (("10.00", "10.00", ""), (Decimal("10.00"), None)),
        (("10.00", "10.00", "8.00"), (Decimal("10.00"), None)),  # a sale scheduled later: not on yet
        (("", "", ""), (None, None)),
    ],
)
def test_sale_and_compare_at_prices(
    woo: WooCommerceStore, router: respx.MockRouter, prices: tuple[str, str, str], expected: tuple[Any, Any]
) -> None:
    price, regular, sale = prices
    FakeWoo([simple(1, price=price, regular_price=regular, sale_price=sale)]).mount(router)
    (item,) = read_all(woo)[1]
    assert (item.price, item.compare_at_price) == expected


def test_a_bad_record_is_rejected_and_the_page_goes_on(
    woo: WooCommerceStore, router: respx.MockRouter
) -> None:
    FakeWoo([simple(1, price="abc"), simple(2, manage_stock=True, stock_quantity=None), simple(3)]).mount(
        router
    )
    pages, items = read_all(woo)
    assert [i.variant_id for i in items] == ["3"]
    assert [(r.key, r.reason) for r in pages[0].rejects] == [
        ("1", "product 1: price 'abc' is not a price"),
        ("2", "product 2: manage_stock true without a stock_quantity"),
    ]


def test_gmt_dates_are_utc(woo: WooCommerceStore, router: respx.MockRouter) -> None:
    FakeWoo([simple(1, modified="2026-11-20T23:30:05")]).mount(router)
    (item,) = read_all(woo)[1]
    assert item.updated_at == datetime(2026, 11, 20, 23, 30, 5, tzinfo=UTC)
    assert item.updated_at.utcoffset() is not None


def test_an_incremental_read_asks_modified_after_in_gmt(
    woo: WooCommerceStore, router: respx.MockRouter
) -> None:
    parent = simple(20, type="variable", variations=[21], modified="2026-11-20T10:00:00")
    variation = {**simple(21), "parent_id": 20, "date_modified_gmt": "2026-01-01T00:00:00"}
    changed = {**simple(31), "parent_id": 30, "date_modified_gmt": "2026-11-20T10:00:03"}
    store = FakeWoo(
        [simple(1, modified="2026-11-20T09:59:59"), simple(2, modified="2026-11-20T10:00:00"), parent,
         simple(30, type="variable", variations=[31], modified="2026-01-01T00:00:00")],
        {21: variation, 31: changed},
        shared=True,
    )  # fmt: skip
    store.mount(router)
    since = datetime(2026, 11, 20, 10, 0, 0, 400_000, tzinfo=UTC)
    _, items = read_all(woo, since)
    assert sorted(i.variant_id for i in items) == ["2", "21", "31"]  # at or after since; 21 its parent's
    asked = [(path, q.get("modified_after"), q.get("dates_are_gmt")) for path, q in store.queries]
    assert asked == [
        ("/products", "2026-11-20T09:59:59", "true"),
        ("/products/20/variations", None, None),  # every variation of a changed product
        ("/products", "2026-11-20T09:59:59", "true"),
        ("/variations", "2026-11-20T09:59:59", "true"),
        ("/products", None, None),  # the name of 31's product
        ("/variations", "2026-11-20T09:59:59", "true"),
    ]


def test_each_variant_once_a_read(woo: WooCommerceStore, router: respx.MockRouter) -> None:
    parent = simple(20, type="variable", variations=[21])
    variation = {**simple(21), "parent_id": 20}
    FakeWoo([parent], {21: variation}, shared=True).mount(router)
    _, items = read_all(woo, datetime(2026, 1, 1, tzinfo=UTC))
    assert [i.variant_id for i in items] == ["21"]  # its product's variations, then /variations again


def test_tokens_round_trip_and_a_foreign_one_is_refused() -> None:
    position = Position("products", 3, (7, 9), 2, True)
    assert Position.from_token(position.token()) == position
    for foreign in ("", "abc", '{"v":2}', '{"v":1,"ph":"x","pg":1,"pend":[],"vp":1,"vr":false}'):
        with pytest.raises(ValueError, match="not a WooCommerce read token"):
            Position.from_token(foreign)


# --- the check ---


def test_check_reads_the_route_index_and_one_product(woo: WooCommerceStore, router: respx.MockRouter) -> None:
    store = FakeWoo([simple(1)], shared=True)
    store.mount(router)
    woo.check()
    assert woo.serves_variations() and store.queries == [("/products", {"per_page": "1", "_fields": "id"})]
    assert len(router.calls) == 2


def test_a_base_ending_in_the_api_path_is_not_doubled(router: respx.MockRouter, clock: FakeTime) -> None:
    FakeWoo([simple(1)]).mount(router)
    transport = httpx.MockTransport(router.handler)
    with WooCommerceStore(settings(), connection(API + "/"), transport=transport, sleep=clock.sleep) as woo:
        woo.check()
    assert str(router.calls[1].request.url).startswith(API + "/products?")


# --- errors ---


def test_refused_credentials_are_one_line_without_the_secret(
    woo: WooCommerceStore, router: respx.MockRouter, audit: ListAudit
) -> None:
    body = {
        "code": "woocommerce_rest_authentication_error",
        "message": f"Consumer secret {SECRET} is invalid.",
        "data": {"status": 401},
    }
    route = router.get(API).respond(401, json=body)
    with pytest.raises(errors.AuthError) as info:
        woo.check()
    message = str(info.value)
    assert message == (
        "shop-a: GET /wp-json/wc/v3: the store refused the consumer key and secret (HTTP 401); check SHOP_A_WOO"
    )
    assert route.call_count == 1 and SECRET not in audit.dumped() and KEY not in audit.dumped()


def test_a_missing_consumer_key_falls_back_to_query_credentials(
    woo: WooCommerceStore, router: respx.MockRouter, audit: ListAudit
) -> None:
    missing = {
        "code": "woocommerce_rest_authentication_error",
        "message": "Consumer key is missing.",
        "data": {"status": 401},
    }

    def products(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if params.get("consumer_key") != KEY or params.get("consumer_secret") != SECRET:
            return httpx.Response(401, json=missing)
        return httpx.Response(200, json=[simple(1)] if params["page"] == "1" else [])

    route = router.get(path="/wp-json/wc/v3/products").mock(side_effect=products)
    router.get(API).respond(200, json={"routes": {"/wc/v3/products": {}}})
    _, items = read_all(woo)
    assert [i.variant_id for i in items] == ["1"] and route.call_count == 3  # refused once, then two pages
    urls = [r.url for r in audit.records]
    assert all(SECRET not in u and KEY not in u for u in urls)
    assert "consumer_secret=REDACTED" in urls[-1]


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (
            403,
            {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources."},
            "the key lacks read rights",
        ),
        (
            401,
            {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources."},
            "the key lacks read rights",
        ),
    ],
)
def test_a_key_without_read_rights(
    woo: WooCommerceStore, router: respx.MockRouter, status: int, body: dict[str, Any], says: str
) -> None:
    router.get(API).respond(200, json={"routes": {}})
    router.get(path="/wp-json/wc/v3/products").respond(status, json={**body, "data": {"status": status}})
    with pytest.raises(errors.AuthError, match=says) as info:
        woo.check()
    assert "\n" not in str(info.value) and str(info.value).startswith("shop-a: ")


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (
            httpx.Response(
                404, json={"code": "rest_no_route", "message": "No route was found", "data": {"status": 404}}
            ),
            "not a WooCommerce REST API",
        ),
        (httpx.Response(404, html="<html>Not Found</html>"), "are pretty permalinks on"),
        (httpx.Response(403, html="<html>Access denied</html>"), "firewall or security plugin"),
    ],
)
def test_configuration_errors_are_one_line(
    woo: WooCommerceStore, router: respx.MockRouter, answer: httpx.Response, says: str
) -> None:
    router.get(API).mock(return_value=answer)
    with pytest.raises(errors.ConfigError, match=says) as info:
        woo.check()
    assert "\n" not in str(info.value)


def test_an_html_503_is_retried(woo: WooCommerceStore, router: respx.MockRouter) -> None:
    page = "<html><body><h1>503 Service Unavailable</h1></body></html>"
    route = router.get(path="/wp-json/wc/v3/products").mock(
        side_effect=[
            httpx.Response(503, html=page),
            httpx.Response(200, json=[simple(1)]),
            httpx.Response(200, json=[]),
        ]
    )
    router.get(API).respond(200, json={"routes": {}})
    _, items = read_all(woo)
    assert [i.variant_id for i in items] == ["1"] and route.call_count == 3


def test_a_429_waits_as_retry_after_says(
    woo: WooCommerceStore, router: respx.MockRouter, clock: FakeTime
) -> None:
    router.get(API).respond(200, json={"routes": {}})
    router.get(path="/wp-json/wc/v3/products").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, html="<p>slow</p>"),
            httpx.Response(200, json=[]),
        ]
    )
    assert read_all(woo)[1] == []
    (waited,) = clock.slept
    assert 7 <= waited <= 8 and woo.http.throttled == 1


def test_an_html_page_answered_200_is_an_error_not_data(
    woo: WooCommerceStore, router: respx.MockRouter
) -> None:
    router.get(API).respond(200, json={"routes": {}})
    route = router.get(path="/wp-json/wc/v3/products").respond(200, html="<!DOCTYPE html><html>Shop</html>")
    with pytest.raises(errors.PermanentError, match="HTTP 200 with an HTML page") as info:
        woo.read_page(None)
    assert route.call_count == 1 and "\n" not in str(info.value)


# --- construction ---


@pytest.mark.parametrize("base", ["http://shop.example.com", "http://10.0.0.5:8080/shop"])
def test_plain_http_is_refused_off_loopback(base: str) -> None:
    with pytest.raises(errors.ConfigError, match="http:// is accepted on loopback only") as info:
        WooCommerceStore(settings(), connection(base))
    assert "\n" not in str(info.value) and "shop-a" in str(info.value)


@pytest.mark.parametrize(
    "base", ["http://127.0.0.1:8000/woocommerce", "http://localhost/shop", "http://127.8.9.10"]
)
def test_plain_http_is_accepted_on_loopback(base: str) -> None:
    with WooCommerceStore(settings(), connection(base)) as woo:
        assert woo.connection.base_url == base.rstrip("/") + "/wp-json/wc/v3"


@pytest.mark.parametrize("secret", ["ck_only", ":cs_only", "ck_only:"])
def test_a_credential_without_key_and_secret_is_refused(secret: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        WooCommerceStore(settings(), connection(secret=secret))
    assert str(info.value) == (
        "connection 'shop-a': the credential (SHOP_A_WOO) must be consumer_key:consumer_secret (ck_...:cs_...)"
    )


def test_there_is_no_default_connection() -> None:
    with pytest.raises(errors.ConfigError, match="woocommerce has no default connection"):
        WooCommerceStore(settings())


def test_calls_time_out_after_60_seconds() -> None:
    with WooCommerceStore(settings(), connection()) as woo:
        assert woo.settings.http_timeout == 60 and woo.settings.http_deadline_s >= 60
