"""The Shopify simulator (in process, through Starlette's TestClient), and the Shopify connector reading it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from sync_core import errors
from sync_core.connectors.shopify import ShopifyStore
from sync_core.connectors.store_items import StoreItem
from sync_core.engine.connections import Connection
from sync_core.sandbox.shopify_admin import shopify_admin_routes
from sync_core.sandbox.shopify_app import build_shopify_app
from sync_core.sandbox.shopify_state import ShopifyState, shopify_oracle
from sync_core.settings import Settings
from tests.fakes import FakeTime

GRAPHQL = "/shopify/admin/api/2026-10/graphql.json"
VARIANT_IDS = "query($first: Int!, $after: String) { productVariants(first: $first, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }"


class Sim:
    """A simulated shop mounted as the sandbox mounts it (`/shopify`, `/_sandbox/shopify/...`), on a fake
    clock that the connector's waits move."""

    def __init__(self, **options: Any) -> None:
        self.clock = FakeTime()
        self.state = ShopifyState(clock=self.clock.clock, **options)
        app = Starlette(
            routes=[
                Mount("/shopify", app=build_shopify_app(self.state)),
                Mount("/_sandbox", routes=shopify_admin_routes(self.state)),
            ]
        )
        self.http = TestClient(app, base_url="http://sandbox")

    def query(
        self, text: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"X-Shopify-Access-Token": self.state.token if token is None else token}
        answer: httpx.Response = self.http.post(
            GRAPHQL, json={"query": text, "variables": variables}, headers=headers
        )
        return answer

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        if body is None:
            return self.http.get("/_sandbox/shopify/" + path).json()
        return self.http.post("/_sandbox/shopify/" + path, json=body).json()

    def _forward(self, request: httpx.Request) -> httpx.Response:
        answer = self.http.request(
            request.method, str(request.url), headers=dict(request.headers), content=request.read()
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def connector(self, secret: str | None = None) -> ShopifyStore:
        connection = Connection(
            "shopify", "shop-sim", "http://sandbox/shopify", SecretStr(secret or self.state.token), 60_000
        )
        settings = Settings(_env_file=None, http_retries=2, http_retry_backoff_ms=0)  # type: ignore[call-arg]
        return ShopifyStore(
            settings,
            connection,
            transport=httpx.MockTransport(self._forward),
            sleep=self.clock.sleep,
            clock=self.clock.clock,
        )


def read_all(shop: ShopifyStore, since: datetime | None = None) -> list[StoreItem]:
    items: list[StoreItem] = []
    token: str | None = None
    for _ in range(100):
        page = shop.read_page(token, since=since)
        assert not page.rejects
        items += page.items
        token = page.next
        if token is None:
            return items
    raise AssertionError("the read did not end")


def row(item: StoreItem) -> dict[str, Any]:
    money = [None if v is None else str(v) for v in (item.price, item.compare_at_price)]
    return {
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "sku": item.sku,
        "title": item.title,
        "price": money[0],
        "compare_at_price": money[1],
        "stock": item.stock,
        "managed": item.managed,
    }


@pytest.fixture
def sim() -> Sim:
    return Sim()


# --- the API ---


def test_every_answer_reports_its_cost_and_the_bucket_spends_the_actual_cost(sim: Sim) -> None:
    answer = sim.query("{ shop { name } }")
    assert answer.status_code == 200
    assert answer.json()["data"] == {"shop": {"name": "Sandbox Outfitters"}}
    assert answer.json()["extensions"]["cost"] == {
        "requestedQueryCost": 1,
        "actualQueryCost": 1,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1999, "restoreRate": 100.0},
    }
    cost = sim.query(VARIANT_IDS, {"first": 100}).json()["extensions"]["cost"]
    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (2 + 100, 2 + 60)  # 60 variants served
    assert cost["throttleStatus"]["currentlyAvailable"] == 1999 - 62
    sim.clock.now += 0.5  # restores 50
    cost = sim.query("{ shop { name } }").json()["extensions"]["cost"]
    assert cost["throttleStatus"]["currentlyAvailable"] == 1999 - 62 + 50 - 1
    stats = sim.admin("stats")
    assert (stats["calls"], stats["answered"], stats["actual_cost"], stats["requested_cost"]) == (
        3,
        3,
        64,
        104,
    )


def test_a_nested_connection_costs_first_times_its_node(sim: Sim) -> None:
    text = (
        "{ productVariants(first: 10) { nodes { id product { title } inventoryItem { tracked "
        'inventoryLevels(first: 4) { nodes { location { id } quantities(names: ["available"]) { quantity } } } } } } }'
    )
    cost = sim.query(text).json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 10 * (1 + 1 + 1 + (2 + 4 * (1 + 1 + 1)))


def test_an_empty_bucket_answers_throttled_on_200(sim: Sim) -> None:
    sim.admin("knobs", {"maximum_available": 100, "restore_rate": 10})
    priced = "{ productVariants(first: 40) { nodes { id product { id } } } }"  # 2 + 40 * 2 = 82
    assert sim.query(priced).json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 18
    answer = sim.query(priced)
    assert answer.status_code == 200 and "data" not in answer.json()
    assert answer.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    cost = answer.json()["extensions"]["cost"]
    assert (
        cost["requestedQueryCost"],
        cost["actualQueryCost"],
        cost["throttleStatus"]["currentlyAvailable"],
    ) == (82, None, 18)
    sim.clock.now += (82 - 18) / 10
    assert "data" in sim.query(priced).json()
    sim.admin("knobs", {"throttle_as_429": True})
    answer = sim.query(priced)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "9"  # (82 - 0) / 10, rounded up
    assert answer.json()["extensions"]["cost"]["requestedQueryCost"] == 82
    stats = sim.admin("stats")
    assert (stats["throttled"], stats["throttled_429"]) == (2, 1)


def test_a_query_priced_over_1000_is_refused_without_cost(sim: Sim) -> None:
    text = "{ productVariants(first: 250) { nodes { id inventoryItem { inventoryLevels(first: 2) { nodes { id } } } } } }"
    body = sim.query(text).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["errors"][0]["extensions"]["cost"] == 2 + 250 * (1 + 1 + (2 + 2))
    assert "extensions" not in body
    assert sim.admin("stats")["max_cost_refusals"] == 1


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{ productVariants { nodes { id } } }", "you must provide one of first or last"),
        ("{ productVariants(first: 251) { nodes { id } } }", "from 0 to 250"),
        (
            "{ productVariants(first: 1) { nodes { nope } } }",
            "Field 'nope' doesn't exist on type 'ProductVariant'",
        ),
        ("{ shop { name }", "Parse error"),
        ("mutation { shop { name } }", "queries only"),
    ],
)
def test_a_query_it_cannot_serve_is_a_graphql_error(sim: Sim, text: str, said: str) -> None:
    body = sim.query(text).json()
    assert "data" not in body and said in body["errors"][0]["message"]


def test_pages_follow_opaque_cursors_and_the_updated_at_filter(sim: Sim) -> None:
    seen: list[str] = []
    after = None
    while True:
        found = sim.query(VARIANT_IDS, {"first": 25, "after": after}).json()["data"]["productVariants"]
        seen += [n["id"] for n in found["nodes"]]
        if not found["pageInfo"]["hasNextPage"]:
            break
        after = found["pageInfo"]["endCursor"]
    assert seen == [r["variant_id"] for r in shopify_oracle(sim.state)]
    since = datetime.now(UTC) - timedelta(seconds=2)
    changed = sim.admin("change", {"count": 3, "fields": ["price"], "seed": 1})["changed"]
    at = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"{{ productVariants(first: 50, query: \"updated_at:>='{at}'\") {{ nodes {{ id }} }} }}"
    nodes = sim.query(text).json()["data"]["productVariants"]["nodes"]
    assert sorted(n["id"] for n in nodes) == sorted(changed)


def test_levels_page_at_an_item_and_at_a_location(sim: Sim) -> None:
    crowded = max(sim.state.shop.variants.values(), key=lambda v: len(v.levels))
    assert len(crowded.levels) > 10
    text = (
        "query($id: ID!, $after: String) { inventoryItem(id: $id) { inventoryLevels(first: 5, after: $after) "
        "{ nodes { location { id isActive } } pageInfo { hasNextPage endCursor } } } }"
    )
    locations, after = [], None
    while True:
        variables = {"id": f"gid://shopify/InventoryItem/{crowded.item}", "after": after}
        levels = sim.query(text, variables).json()["data"]["inventoryItem"]["inventoryLevels"]
        locations += [n["location"]["id"] for n in levels["nodes"]]
        if not levels["pageInfo"]["hasNextPage"]:
            break
        after = levels["pageInfo"]["endCursor"]
    assert len(locations) == len(set(locations)) == len(crowded.levels)
    all_locations = sim.query("{ locations(first: 50, includeInactive: true) { nodes { id isActive } } }")
    active = sim.query("{ locations(first: 50) { nodes { id } } }").json()["data"]["locations"]["nodes"]
    assert len(all_locations.json()["data"]["locations"]["nodes"]) == len(active) + 1


def test_credentials(sim: Sim) -> None:
    refused = sim.query("{ shop { name } }", token="wrong")
    assert refused.status_code == 401
    assert refused.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    form = {"grant_type": "client_credentials", "client_id": sim.state.client_id, "client_secret": "nope"}
    assert sim.http.post("/shopify/admin/oauth/access_token", data=form).status_code == 400
    form["client_secret"] = sim.state.client_secret
    granted = sim.http.post("/shopify/admin/oauth/access_token", data=form).json()
    assert granted["expires_in"] == 86399 and "read_products" in granted["scope"]
    assert sim.query("{ shop { name } }", token=granted["access_token"]).status_code == 200
    assert sim.admin("expire-tokens", {}) == {"expired": 1}
    assert sim.query("{ shop { name } }", token=granted["access_token"]).status_code == 401
    sim.admin("knobs", {"refuse_credentials": True})
    assert sim.query("{ shop { name } }").status_code == 401
    sim.admin("knobs", {"refuse_credentials": False, "down": True})
    assert sim.query("{ shop { name } }").status_code == 503
    assert sim.http.post("/_sandbox/shopify/knobs", json={"restore_rate": 0}).status_code == 400
    assert sim.http.post("/_sandbox/shopify/knobs", json={"bogus": 1}).status_code == 400


# --- the connector against the simulator ---


def test_a_full_read_equals_the_oracle(sim: Sim) -> None:
    with sim.connector() as shop:
        shop.check()
        items = read_all(shop)
    assert [row(i) for i in items] == sim.admin("oracle")["rows"] == shopify_oracle(sim.state)
    oracle = shopify_oracle(sim.state)
    assert any(r["stock"] is None for r in oracle) and any(r["sku"] is None for r in oracle)
    assert any(r["compare_at_price"] for r in oracle) and any(" / " in r["title"] for r in oracle)
    assert sim.admin("stats")["throttled"] == 0


def test_a_small_slow_bucket_paces_the_read_without_failing(sim: Sim) -> None:
    sim.admin("knobs", {"maximum_available": 500, "restore_rate": 10})
    with sim.connector() as shop:
        sim.query("{ productVariants(first: 200) { nodes { id product { id } } } }")  # another app spends
        items = read_all(shop)
        assert shop.graphql.waited_s > 0
    assert [row(i) for i in items] == shopify_oracle(sim.state)


def test_throttled_answers_and_429s_are_waited_out(sim: Sim) -> None:
    sim.admin("knobs", {"maximum_available": 1000, "restore_rate": 50})
    with sim.connector() as shop:
        shop.read_page(None)
        for as_429 in (False, True):
            sim.admin("knobs", {"throttle_as_429": as_429})
            sim.query("{ productVariants(first: 240) { nodes { id product { id } } } }")  # the bucket spent
            sim.query("{ productVariants(first: 240) { nodes { id product { id } } } }")
            items = read_all(shop)
            assert [row(i) for i in items] == shopify_oracle(sim.state)
    stats = sim.admin("stats")
    assert stats["throttled"] >= 2 and stats["throttled_429"] >= 1


def test_an_incremental_read_sees_price_and_stock_only_changes(sim: Sim) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    with sim.connector() as shop:
        assert read_all(shop, since=since) == []
        ids = sim.state.variant_ids()
        before = {v.number: v.updated_at for v in sim.state.shop.variants.values()}
        priced = sim.admin("change", {"ids": ids[:3], "fields": ["price"]})["changed"]
        stocked = sim.admin("change", {"ids": ids[10:14], "fields": ["stock"]})["changed"]
        both = sim.admin("change", {"ids": ids[20:22], "fields": ["price", "stock"]})["changed"]
        assert all(
            sim.state.shop.variants[int(i.rsplit("/", 1)[1])].updated_at == before[int(i.rsplit("/", 1)[1])]
            for i in stocked
        )
        items = read_all(shop, since=since)
    got = [i.variant_id for i in items]
    assert len(got) == len(set(got))  # each once
    assert sorted(got) == sorted(priced + stocked + both)
    oracle = {r["variant_id"]: r for r in shopify_oracle(sim.state)}
    assert all(row(i) == oracle[i.variant_id] for i in items)


def test_deleted_variants_leave_the_read_and_the_oracle(sim: Sim) -> None:
    gone = sim.admin("delete", {"count": 5})["deleted"]
    with sim.connector() as shop:
        items = read_all(shop)
    assert not {i.variant_id for i in items} & set(gone)
    assert [row(i) for i in items] == shopify_oracle(sim.state)
    assert len(items) == 55


def test_client_credentials_against_the_simulator(sim: Sim) -> None:
    with sim.connector(f"{sim.state.client_id}:{sim.state.client_secret}") as shop:
        shop.check()
        sim.admin("expire-tokens", {})
        items = read_all(shop)  # the refused token is fetched again once
        assert len(items) == 60
    assert sim.admin("stats")["tokens_issued"] == 2
    with sim.connector(f"{sim.state.client_id}:wrong") as shop, pytest.raises(errors.AuthError) as info:
        shop.check()
    assert "refused the credentials" in str(info.value) and "wrong" not in str(info.value)


def test_a_refused_token_is_an_auth_error(sim: Sim) -> None:
    with sim.connector("shpat_wrong_token") as shop, pytest.raises(errors.AuthError) as info:
        shop.read_page(None)
    assert "shop-sim" in str(info.value) and "shpat_wrong_token" not in str(info.value)


def test_the_oracle_rows(sim: Sim) -> None:
    rows = shopify_oracle(sim.state)
    assert len(rows) == 60 and rows == ShopifyState(clock=sim.clock.clock).oracle()  # deterministic
    assert all(isinstance(r["price"], str) and Decimal(r["price"]) > 0 for r in rows)
    untracked = [r for r in rows if not r["managed"]]
    assert untracked and all(r["stock"] is None for r in untracked)
