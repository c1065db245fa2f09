"""Shopify catalogue reader against respx routes built from the contract's samples (tests/fixtures/shopify):
a small GraphQL double that pages variants, locations and levels the way the contract says Shopify does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from pydantic import SecretStr

from sync_core import errors
from sync_core.connectors.shopify import ShopifyStore
from sync_core.connectors.shopify_wire import Position
from sync_core.connectors.store_items import StoreItem
from sync_core.engine.connections import Connection
from sync_core.settings import Settings
from tests.fakes import FakeTime

BASE = "https://shop.myshopify.com"
GRAPHQL = "/admin/api/2026-10/graphql.json"
TOKEN_PATH = "/admin/oauth/access_token"
TOKEN = "shpat_Very-Secret-7f3a9c"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "shopify"
MAIN, FLOOR, CLOSED = (f"gid://shopify/Location/{n}" for n in (1, 2, 3))
LOCATIONS = [(MAIN, True), (FLOOR, True), (CLOSED, False)]
OLD, SINCE = "2026-11-01T00:00:00Z", datetime(2026, 11, 20, 10, 0, 0, 500_000, tzinfo=UTC)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def cost(requested: float, *, maximum: float = 2000, available: float = 1990, restore: float = 100) -> Any:
    status = {"maximumAvailable": maximum, "currentlyAvailable": available, "restoreRate": restore}
    return {"requestedQueryCost": requested, "actualQueryCost": requested / 4, "throttleStatus": status}


def level(location: str, available: int, active: bool = True, updated: str = OLD) -> dict[str, Any]:
    return {
        "updatedAt": updated,
        "location": {"id": location, "isActive": active},
        "quantities": [{"name": "available", "quantity": available}],
    }


def variant(
    n: int,
    *,
    levels: list[dict[str, Any]] | None = None,
    more: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A variant node as the connector's query selects it (``more``: the cursor of further levels)."""
    node: dict[str, Any] = {
        "id": f"gid://shopify/ProductVariant/{n}",
        "title": "Default Title",
        "sku": f"SKU-{n}",
        "price": "10.00",
        "compareAtPrice": None,
        "updatedAt": OLD,
        "product": {"id": f"gid://shopify/Product/{n // 10}", "title": f"Product {n // 10}"},
        "inventoryItem": {
            "id": f"gid://shopify/InventoryItem/{n}",
            "tracked": fields.pop("tracked", True),
            "inventoryLevels": {
                "nodes": [level(MAIN, 5)] if levels is None else levels,
                "pageInfo": {"hasNextPage": more is not None, "endCursor": more},
            },
        },
    }
    node.update(fields)
    return node


def page(nodes: list[Any], start: int, first: int) -> dict[str, Any]:
    served = nodes[start : start + first]
    more = start + first < len(nodes)
    return {"nodes": served, "pageInfo": {"hasNextPage": more, "endCursor": f"c{start + len(served)}"}}


def _start(after: str | None) -> int:
    return int(after[1:]) if after else 0


class FakeShopify:
    """Answers the connector's queries: ``variants`` (by the search string ``q``: "" for the full read),
    ``locations``, levels at each location, further levels of an item. A query is priced 2 + 9 per node
    asked; ``script`` answers go first. Every request is kept."""

    def __init__(self, variants: list[dict[str, Any]], **options: Any) -> None:
        self.variants = {"": variants, **options.pop("changed", {})}
        self.locations: list[tuple[str, bool]] = options.pop("locations", LOCATIONS)
        self.at_location: dict[str, list[dict[str, Any]]] = options.pop("at_location", {})
        self.item_levels: dict[str, list[dict[str, Any]]] = options.pop("item_levels", {})
        self.bucket: dict[str, float] = options.pop("bucket", {})
        self.script: list[httpx.Response] = []
        self.raw_variants: list[dict[str, Any]] = []  # whole answers to serve for the variants queries
        self.bodies: list[dict[str, Any]] = []
        self.tokens: list[str | None] = []

    def queries(self, word: str) -> list[dict[str, Any]]:
        return [b["variables"] for b in self.bodies if word in b["query"]]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        self.tokens.append(request.headers.get("X-Shopify-Access-Token"))
        if self.script:
            return self.script.pop(0)
        query, v = body["query"], body["variables"]
        first = v.get("first", 0)
        if "locations(" in query:
            nodes = [{"id": gid, "isActive": active} for gid, active in self.locations]
            data: dict[str, Any] = {"locations": page(nodes, _start(v["after"]), first)}
        elif "productVariants(" in query and self.raw_variants:
            return httpx.Response(200, json=self.raw_variants.pop(0))
        elif "productVariants(" in query:
            nodes = self.variants[v["q"] or ""]
            data = {"productVariants": page(nodes, _start(v["after"]), first)}
        elif "location(id:" in query:
            nodes = self.at_location.get(v["loc"], [])
            data = {"location": {"id": v["loc"], "inventoryLevels": page(nodes, _start(v["after"]), first)}}
        elif "inventoryItem(id:" in query:
            nodes = self.item_levels[v["id"]]
            data = {"inventoryItem": {"inventoryLevels": page(nodes, _start(v["after"]), first)}}
        else:
            data = {"shop": {"name": "Test shop"}}
        return httpx.Response(
            200, json={"data": data, "extensions": {"cost": cost(2 + 9 * first, **self.bucket)}}
        )


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"_env_file": None, "http_retries": 2, "http_retry_backoff_ms": 0, **overrides}
    return Settings(**values)


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE, assert_all_called=False)


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def store(router: respx.MockRouter, clock: FakeTime, secret: str = TOKEN, **kw: Any) -> ShopifyStore:
    connection = Connection("shopify", "shop-a", BASE, SecretStr(secret), 60_000, "SHOP_A_TOKEN")
    return ShopifyStore(
        make_settings(),
        connection,
        transport=httpx.MockTransport(router.handler),
        sleep=clock.sleep,
        clock=clock.clock,
        **kw,
    )


def serve(router: respx.MockRouter, fake: FakeShopify) -> respx.Route:
    return router.post(path=GRAPHQL).mock(side_effect=fake)


def read_all(shop: ShopifyStore, since: datetime | None = None) -> list[StoreItem]:
    items: list[StoreItem] = []
    token: str | None = None
    for _ in range(50):
        got = shop.read_page(token, since=since)
        assert not got.rejects
        items += got.items
        token = got.next
        if token is None:
            return items
    raise AssertionError("the read did not end")


# --- reading variants ---


def test_the_contract_sample_page_is_read(router: respx.MockRouter, clock: FakeTime) -> None:
    fake = FakeShopify([])
    fake.raw_variants = [fixture("products_page")["response"]]
    serve(router, fake)
    with store(router, clock) as shop:
        got = shop.read_page(None)
    assert got.total is None and not got.rejects
    assert Position.decode(got.next or "").cursor == (
        "eyJsYXN0X2lkIjoyMzY5NDgzNjAsImxhc3RfdmFsdWUiOiIyMzY5NDgzNjAifQ=="
    )
    first, second, third = got.items
    assert first == StoreItem(
        product_id="gid://shopify/Product/20995642",
        variant_id="gid://shopify/ProductVariant/30322695",
        sku="element-151",
        title="Element",
        price=Decimal("10.00"),
        compare_at_price=None,
        stock=1,
        managed=True,
        updated_at=datetime(2024, 11, 7, 22, 3, 12, tzinfo=UTC),
    )
    assert (second.compare_at_price, second.stock) == (Decimal("12.00"), 13)
    assert (third.stock, third.managed) == (None, False)  # tracked: false


def test_a_full_read_pages_by_cursor_always_sending_first(router: respx.MockRouter, clock: FakeTime) -> None:
    fake = FakeShopify([variant(n) for n in range(100, 400)])
    serve(router, fake)
    with store(router, clock) as shop:
        items = read_all(shop)
    assert [i.variant_id for i in items] == [f"gid://shopify/ProductVariant/{n}" for n in range(100, 400)]
    reads = fake.queries("productVariants(")
    assert all(isinstance(v["first"], int) and 1 <= v["first"] <= 250 for v in fake.queries(""))
    read = 0
    for asked in reads:
        assert asked["after"] == (f"c{read}" if read else None)
        read += asked["first"]
    assert {v["q"] for v in reads} == {None}
    assert {v["levels"] for v in reads} == {3}  # as many levels as the shop has locations, inactive ones too
    assert fake.queries("locations(")[0]["first"] == 250
    assert all(token == TOKEN for token in fake.tokens)


def test_stock_counts_active_locations_and_fields_are_normalised(
    router: respx.MockRouter, clock: FakeTime
) -> None:
    nodes = [
        variant(
            11, levels=[level(MAIN, 4), level(FLOOR, 3), level(CLOSED, 100, active=False)], title="Red / L"
        ),
        variant(12, tracked=False, levels=[level(MAIN, 9)], sku="", compareAtPrice="12.50"),
        variant(13, sku=None, levels=[], price="7.5"),
    ]
    serve(router, FakeShopify(nodes))
    with store(router, clock) as shop:
        a, b, c = read_all(shop)
    assert (a.stock, a.title, a.sku, a.compare_at_price) == (7, "Product 1 / Red / L", "SKU-11", None)
    assert (b.stock, b.managed, b.sku, b.compare_at_price, b.title) == (
        None,
        False,
        None,
        Decimal("12.50"),
        "Product 1",
    )
    assert (c.stock, c.sku, c.price) == (0, None, Decimal("7.5"))


def test_a_bad_variant_is_rejected_and_the_page_goes_on(router: respx.MockRouter, clock: FakeTime) -> None:
    serve(router, FakeShopify([variant(1, price="ten"), variant(2)]))
    with store(router, clock) as shop:
        got = shop.read_page(None)
    assert [i.variant_id for i in got.items] == ["gid://shopify/ProductVariant/2"]
    assert [(r.key, "price" in r.reason) for r in got.rejects] == [("gid://shopify/ProductVariant/1", True)]


def test_levels_past_the_first_page_are_read(router: respx.MockRouter, clock: FakeTime) -> None:
    many = [(f"gid://shopify/Location/{n}", True) for n in range(1, 15)]
    item = "gid://shopify/InventoryItem/5"
    fake = FakeShopify(
        [variant(5, levels=[level(MAIN, 1), level(FLOOR, 2)], more="c2")],
        locations=many,
        item_levels={item: [level(MAIN, 1), level(FLOOR, 2)] + [level(loc, 10) for loc, _ in many[2:]]},
    )
    serve(router, fake)
    with store(router, clock) as shop:
        (only,) = read_all(shop)
    assert only.stock == 3 + 12 * 10
    assert fake.queries("productVariants(")[0]["levels"] == 14
    assert [(v["id"], v["after"]) for v in fake.queries("inventoryItem(id:")] == [(item, "c2")]


def test_check_asks_the_shop_name(router: respx.MockRouter, clock: FakeTime) -> None:
    fake = FakeShopify([])
    serve(router, fake)
    with store(router, clock) as shop:
        shop.check()
    assert [b["query"] for b in fake.bodies] == ["{ shop { name } }"]


# --- the cost bucket ---


def throttled(requested: float, available: float, restore: float) -> httpx.Response:
    body = fixture("throttled")["throttled_response"]["body"]
    body["extensions"]["cost"]["requestedQueryCost"] = requested
    body["extensions"]["cost"]["throttleStatus"].update(currentlyAvailable=available, restoreRate=restore)
    return httpx.Response(200, json=body)


def test_a_throttled_answer_is_waited_out_and_sent_again(router: respx.MockRouter, clock: FakeTime) -> None:
    fake = FakeShopify([variant(1)])
    route = serve(router, fake)
    with store(router, clock) as shop:
        shop.check()
        fake.script = [httpx.Response(200, json=fixture("throttled")["throttled_response"]["body"])]
        fake.script.append(throttled(752, 700, 50))
        shop.check()
    assert clock.slept == [pytest.approx((752 - 666) / 50), pytest.approx((752 - 700) / 50)]
    assert route.call_count == 4
    assert fake.bodies[1] == fake.bodies[2] == fake.bodies[3]


def test_a_429_with_retry_after_is_waited_out(router: respx.MockRouter, clock: FakeTime) -> None:
    fake = FakeShopify([])
    fake.script = [httpx.Response(429, headers={"Retry-After": "2"}, json={"errors": "Throttled"})]
    serve(router, fake)
    with store(router, clock) as shop:
        shop.check()
    assert len(clock.slept) == 1 and 2 <= clock.slept[0] <= 2.2
    assert len(fake.bodies) == 2


def test_429s_past_the_clients_retries_are_still_waited_out(
    router: respx.MockRouter, clock: FakeTime
) -> None:
    fake = FakeShopify([])
    fake.script = [httpx.Response(429, headers={"Retry-After": "1"}) for _ in range(5)]
    serve(router, fake)
    with store(router, clock) as shop:
        shop.check()  # 3 attempts of the client, then the connector waits and sends again
    assert len(fake.bodies) == 6


def test_a_query_waits_until_the_bucket_holds_its_price(router: respx.MockRouter, clock: FakeTime) -> None:
    fake = FakeShopify(
        [variant(n) for n in range(1, 400)], bucket={"maximum": 1000, "available": 100, "restore": 50}
    )
    serve(router, fake)
    with store(router, clock) as shop:
        shop.read_page(None)
        clock.slept.clear()
        shop.read_page(None)
    # priced 2 + 9 per variant: the largest page under 1000 is 110 (992 points); 100 held, 50 a second
    assert fake.queries("productVariants(")[-1]["first"] == 110
    assert clock.slept == [pytest.approx((992 - 100) / 50)]


def test_the_page_fits_a_smaller_bucket(router: respx.MockRouter, clock: FakeTime) -> None:
    fake = FakeShopify([variant(n) for n in range(1, 400)], bucket={"maximum": 500, "available": 500})
    serve(router, fake)
    with store(router, clock) as shop:
        shop.read_page(None)
        shop.read_page(None)
    assert fake.queries("productVariants(")[-1]["first"] == (500 - 2) // 9


def test_max_cost_exceeded_halves_the_page(router: respx.MockRouter, clock: FakeTime) -> None:
    fake = FakeShopify([variant(n) for n in range(1, 400)])
    serve(router, fake)
    refusal = fixture("throttled")["max_cost_exceeded_response"]["body"]
    with store(router, clock) as shop:
        shop.read_page(None)  # a first guess, then the size the store's price says: 110
        shop.read_page(None)
        fake.script = [httpx.Response(200, json=refusal)]
        shop.read_page(None)
        shop.read_page(None)
    assert [v["first"] for v in fake.queries("productVariants(")] == [71, 110, 110, 55, 55]


# --- failures ---


def test_a_refused_token_is_one_line_without_the_secret(router: respx.MockRouter, clock: FakeTime) -> None:
    route = router.post(path=GRAPHQL).respond(401, json={"errors": "[API] Invalid API key or access token"})
    with store(router, clock) as shop, pytest.raises(errors.AuthError) as info:
        shop.check()
    message = str(info.value)
    assert "shop-a" in message and "refused the credentials" in message and "SHOP_A_TOKEN" in message
    assert TOKEN not in message and "\n" not in message
    assert route.call_count == 1


def test_access_denied_names_the_scope(router: respx.MockRouter, clock: FakeTime) -> None:
    denied = {
        "errors": [
            {
                "message": "Access denied for locations field. Required access: `read_locations` access scope.",
                "extensions": {"code": "ACCESS_DENIED", "requiredAccess": "`read_locations` access scope."},
            }
        ]
    }
    router.post(path=GRAPHQL).respond(200, json=denied)
    with store(router, clock) as shop, pytest.raises(errors.AuthError) as info:
        shop.read_page(None)
    assert "read_locations" in str(info.value) and "\n" not in str(info.value)


def test_an_internal_error_in_the_body_is_retried(router: respx.MockRouter, clock: FakeTime) -> None:
    fake = FakeShopify([])
    internal = {"errors": [{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}
    fake.script = [httpx.Response(200, json=internal)]
    serve(router, fake)
    with store(router, clock) as shop:
        shop.check()
    assert len(fake.bodies) == 2


def test_another_graphql_error_is_a_permanent_failure(router: respx.MockRouter, clock: FakeTime) -> None:
    router.post(path=GRAPHQL).respond(
        200, json={"errors": [{"message": "you must provide one of first or last"}]}
    )
    with store(router, clock) as shop, pytest.raises(errors.InvalidRequest, match="first or last"):
        shop.check()


# --- client credentials ---


def test_client_credentials_buy_a_token_fetched_again_once_on_a_401(
    router: respx.MockRouter, clock: FakeTime
) -> None:
    tokens = router.post(path=TOKEN_PATH).mock(
        side_effect=[
            httpx.Response(
                200, json={"access_token": "shpca_one", "scope": "read_products", "expires_in": 86399}
            ),
            httpx.Response(
                200, json={"access_token": "shpca_two", "scope": "read_products", "expires_in": 86399}
            ),
        ]
    )
    fake = FakeShopify([])
    serve(router, fake)
    with store(router, clock, secret="client-id:shpss_Top-Secret") as shop:
        shop.check()
        shop.check()
        fake.script = [httpx.Response(401, json={"errors": "[API] Invalid API key or access token"})]
        shop.check()
    assert fake.tokens == ["shpca_one", "shpca_one", "shpca_one", "shpca_two"]
    assert tokens.call_count == 2
    form = dict(parse_qsl(tokens.calls[0].request.content.decode()))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "client-id",
        "client_secret": "shpss_Top-Secret",
    }


def test_a_token_refused_twice_is_an_auth_error(router: respx.MockRouter, clock: FakeTime) -> None:
    router.post(path=TOKEN_PATH).respond(200, json={"access_token": "shpca_x", "expires_in": 86399})
    route = router.post(path=GRAPHQL).respond(401, json={"errors": "[API] Invalid API key or access token"})
    with store(router, clock, secret="client-id:shpss_Top-Secret") as shop, pytest.raises(errors.AuthError):
        shop.check()
    assert route.call_count == 2


def test_refused_client_credentials_are_one_line_without_the_secret(
    router: respx.MockRouter, clock: FakeTime
) -> None:
    router.post(path=TOKEN_PATH).respond(400, json={"error": "invalid_client"})
    with (
        store(router, clock, secret="client-id:shpss_Top-Secret") as shop,
        pytest.raises(errors.AuthError) as info,
    ):
        shop.check()
    message = str(info.value)
    assert "shop-a" in message and "refused the credentials" in message
    assert "shpss_Top-Secret" not in message and "\n" not in message


# --- incremental reads ---


def test_an_incremental_read_asks_for_changed_variants_then_changed_stock(
    router: respx.MockRouter, clock: FakeTime
) -> None:
    new = "2026-11-20T11:00:00Z"
    q = "updated_at:>='2026-11-20T10:00:00Z'"
    priced = variant(1, updatedAt=new)
    sold_here = variant(2, levels=[level(MAIN, 3, updated=new), level(FLOOR, 1, updated=new)])
    sold_there = variant(3, levels=[level(MAIN, 3), level(FLOOR, 0, updated=new)])
    fake = FakeShopify(
        [],
        changed={q: [priced]},
        at_location={
            MAIN: [{"updatedAt": new, "item": {"id": "i", "variant": v}} for v in (priced, sold_here)],
            FLOOR: [
                {"updatedAt": new, "item": {"id": "i", "variant": v}} for v in (priced, sold_here, sold_there)
            ],
        },
    )
    serve(router, fake)
    with store(router, clock) as shop:
        items = read_all(shop, since=SINCE)
    assert [i.variant_id.rsplit("/", 1)[1] for i in items] == ["1", "2", "3"]  # each once
    assert [v["q"] for v in fake.queries("productVariants(")] == [q]
    assert [(v["loc"], v["q"]) for v in fake.queries("location(id:")] == [
        (MAIN, q),
        (FLOOR, q),
    ]  # active only


def test_tokens_are_checked(router: respx.MockRouter, clock: FakeTime) -> None:
    with store(router, clock) as shop:
        with pytest.raises(ValueError):
            shop.read_page("not-a-token")
        with pytest.raises(ValueError, match="since"):
            shop.read_page(Position("levels", None, MAIN).encode())
