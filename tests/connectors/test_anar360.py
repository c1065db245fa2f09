"""Anar360 connector against respx routes built from the contract's examples (tests/fixtures/anar360)."""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from sync_core import errors
from sync_core.connectors.anar360 import Anar360, SupplierProduct
from sync_core.engine.connections import Connection
from sync_core.engine.ports import Source
from sync_core.http.client import RequestRecord
from sync_core.models import PageRequest, RejectedRecord
from sync_core.settings import Settings

BASE = "https://api.anar360.test/api/360"
TOKEN = "anar-Token-0123456789"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "anar360"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def product(pid: str, *, id_field: str = "id", **changes: Any) -> dict[str, Any]:
    item = fixture("product")
    del item["id"]
    item[id_field] = pid
    item["variants"][0]["_id"] = f"{pid}-v1"
    item.update(changes)
    return item


def page(items: list[dict[str, Any]], *, total: int | None, limit: int, skip: int = 0) -> dict[str, Any]:
    return {"total": total, "skip": skip, "limit": limit, "items": items}


class ListAudit:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def record(self, rec: RequestRecord) -> None:
        self.records.append(rec)


@pytest.fixture
def cfg() -> Settings:
    return Settings(
        anar360_base=BASE,
        anar360_token=TOKEN,
        sazito_base="https://shop.test/api/v1",
        sazito_key="sazito-key-1",
        _env_file=None,
        http_retries=2,
        http_retry_backoff_ms=0,
        rate_limit_per_min=100_000,
    )


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE, assert_all_called=False)


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def source(cfg: Settings, router: respx.MockRouter, audit: ListAudit) -> Any:
    with Anar360(
        cfg, transport=httpx.MockTransport(router.handler), audit=audit, sleep=lambda s: None
    ) as src:
        yield src


def test_is_a_source(source: Anar360) -> None:
    assert isinstance(source, Source) and source.provider == source.connection.name == "anar360"


def test_missing_settings_raise_config_error() -> None:
    with pytest.raises(errors.ConfigError, match="ANAR360_TOKEN"):
        Anar360(Settings(anar360_base=BASE, _env_file=None))


def test_check_ok_sends_bearer(source: Anar360, router: respx.MockRouter) -> None:
    route = router.get("/auth/validate").respond(200, json=fixture("validate_ok"))
    source.check()
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_check_403_names_the_error_code(source: Anar360, router: respx.MockRouter, audit: ListAudit) -> None:
    route = router.get("/auth/validate").respond(403, json=fixture("token_refused"))
    with pytest.raises(errors.AuthError) as info:
        source.check()
    assert str(info.value).startswith("anar360 refused the token (error 10010)")
    assert info.value.status == 403 and info.value.provider == "anar360"
    assert route.call_count == 1  # permanent: not retried
    assert TOKEN not in str(info.value) and TOKEN not in json.dumps(
        [asdict(r) for r in audit.records], default=str
    )


def test_check_success_false_is_auth_error(source: Anar360, router: respx.MockRouter) -> None:
    router.get("/auth/validate").respond(200, json={"success": False, "error": "10011"})
    with pytest.raises(errors.AuthError, match=r"refused the token \(error 10011\)"):
        source.check()


def test_check_5xx_is_transient(source: Anar360, router: respx.MockRouter) -> None:
    route = router.get("/auth/validate").respond(502)
    with pytest.raises(errors.TransientError):
        source.check()
    assert route.call_count == 3


def test_first_page(source: Anar360, cfg: Settings) -> None:
    assert source.first_page() == PageRequest(number=1, size=cfg.sync_page_limit, since_ms=None)
    assert source.first_page(since_ms=120_000).since_ms == -120_000
    assert source.first_page(since_ms=-5_000).since_ms == -5_000


def test_since_is_sent_negative(source: Anar360, router: respx.MockRouter) -> None:
    route = router.get("/products").respond(200, json=page([], total=0, limit=25))
    source.fetch_page(PageRequest(number=1, size=25, since_ms=120_000))
    params = route.calls.last.request.url.params
    assert params["since"] == "-120000" and params["page"] == "1" and params["limit"] == "25"


def test_full_listing_sends_no_since(source: Anar360, router: respx.MockRouter) -> None:
    route = router.get("/products").respond(200, json=page([], total=0, limit=25))
    source.fetch_page(source.first_page())
    assert "since" not in route.calls.last.request.url.params


def test_contract_page_is_parsed(source: Anar360, router: respx.MockRouter) -> None:
    router.get("/products").respond(200, json=fixture("products_page"))
    result = source.fetch_page(PageRequest(number=1, size=25))
    assert result.rejects == [] and result.total == 1234
    (p,) = result.records
    assert p.key == "6650c1f0a1b2c3d4e5f60718" and p.title == "Cotton T-shirt"
    assert p.status == "active" and p.resell_status == "approved" and p.has_active_shipment is True
    assert p.updated_at == datetime(2025, 11, 20, 9, 30, 12, 345000, tzinfo=UTC)
    (v,) = p.variants
    assert (v.key, v.price, v.label_price, v.stock) == ("6650c1f0a1b2c3d4e5f60719", 450000, 520000, 12)
    assert v.attributes == {"color": "Red", "size": "L"}
    assert result.next is None  # fewer items than the reported limit


def test_pages_by_reported_limit(source: Anar360, router: respx.MockRouter) -> None:
    items = [product(f"p{i:03d}") for i in range(60)]

    def serve(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        limit = min(int(request.url.params["limit"]), 25)  # the server caps what it was asked
        chunk = items[(number - 1) * limit : number * limit]
        return httpx.Response(200, json=page(chunk, total=len(items), limit=limit, skip=(number - 1) * limit))

    route = router.get("/products").mock(side_effect=serve)
    request: PageRequest | None = PageRequest(number=1, size=100)
    seen: list[str] = []
    while request is not None:
        result = source.fetch_page(request)
        seen += [p.key for p in result.records]
        request = result.next
        if request is not None:
            assert request.size == 25
    assert seen == [f"p{i:03d}" for i in range(60)]
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2", "3"]
    assert [c.request.url.params["limit"] for c in route.calls] == ["100", "25", "25"]


def test_full_page_with_total_reached_is_last(source: Anar360, router: respx.MockRouter) -> None:
    router.get("/products").respond(200, json=page([product(f"p{i}") for i in range(25)], total=50, limit=25))
    assert source.fetch_page(PageRequest(number=2, size=25)).next is None


def test_full_page_without_total_asks_for_more(source: Anar360, router: respx.MockRouter) -> None:
    router.get("/products").respond(
        200, json=page([product(f"p{i}") for i in range(25)], total=None, limit=25)
    )
    nxt = source.fetch_page(PageRequest(number=1, size=25, since_ms=-1000)).next
    assert nxt == PageRequest(number=2, size=25, since_ms=-1000)


def test_past_last_page_is_empty(source: Anar360, router: respx.MockRouter) -> None:
    router.get("/products").respond(200, json=fixture("products_past_last"))
    result = source.fetch_page(PageRequest(number=51, size=25))
    assert result.records == [] and result.rejects == [] and result.next is None


def test_id_or_underscore_id_and_both_attribute_shapes(source: Anar360, router: respx.MockRouter) -> None:
    listed = product("p2", id_field="_id")
    listed["variants"][0]["attributes"] = [{"key": "color", "value": "Blue"}, {"key": "size", "value": 42}]
    router.get("/products").respond(200, json=page([product("p1"), listed], total=2, limit=25))
    result = source.fetch_page(PageRequest())
    assert [p.key for p in result.records] == ["p1", "p2"]
    assert result.records[0].variants[0].attributes == {"color": "Red", "size": "L"}
    assert result.records[1].variants[0].attributes == {"color": "Blue", "size": "42"}


def test_shipments_and_lenient_fields(source: Anar360, router: respx.MockRouter) -> None:
    no_active = product("p1", shipments=[{"type": "x", "active": False}], brandNew={"ignored": True})
    missing = product("p2")
    del missing["shipments"]
    floats = product("p3")
    floats["variants"][0].update(price=1000.0, labelPrice="1200", stock=None)
    router.get("/products").respond(200, json=page([no_active, missing, floats], total=3, limit=25))
    result = source.fetch_page(PageRequest())
    assert result.rejects == []
    assert [p.has_active_shipment for p in result.records] == [False, False, True]
    v = result.records[2].variants[0]
    assert (v.price, v.label_price, v.stock) == (1000, 1200, None)


@pytest.mark.parametrize(
    ("breakage", "key", "field"),
    [
        (lambda p: p["variants"][0].update(price=450000.5), "bad", "variants.0.price"),
        (lambda p: p["variants"][0].update(price="12,000"), "bad", "variants.0.price"),
        (lambda p: p["variants"][0].update(stock=True), "bad", "variants.0.stock"),
        (lambda p: p["variants"][0].pop("_id"), "bad", "variants.0._id"),
        (lambda p: p.pop("id"), None, "id"),
        (lambda p: p.update(updatedAt="yesterday"), "bad", "updatedAt"),
        (lambda p: p["variants"][0].update(attributes="red"), "bad", "variants.0.attributes"),
    ],
)
def test_bad_record_goes_to_rejects(
    source: Anar360, router: respx.MockRouter, breakage: Any, key: str | None, field: str
) -> None:
    bad = product("bad")
    breakage(bad)
    raw = copy.deepcopy(bad)
    router.get("/products").respond(
        200, json=page([product("good1"), bad, product("good2")], total=3, limit=25)
    )
    result = source.fetch_page(PageRequest())
    assert [p.key for p in result.records] == ["good1", "good2"]
    (reject,) = result.rejects
    assert isinstance(reject, RejectedRecord)
    assert reject.key == key and reject.reason == "invalid-record" and reject.payload == raw
    assert reject.message.startswith(f"{field}:") and "\n" not in reject.message


def test_non_object_item_is_rejected(source: Anar360, router: respx.MockRouter) -> None:
    router.get("/products").respond(200, json=page(["oops", product("ok")], total=2, limit=25))
    result = source.fetch_page(PageRequest())
    assert [p.key for p in result.records] == ["ok"] and result.rejects[0].key is None
    assert all(isinstance(p, SupplierProduct) for p in result.records)


def test_unexpected_page_shape_is_transient(source: Anar360, router: respx.MockRouter) -> None:
    router.get("/products").respond(200, json={"items": "nope"})
    with pytest.raises(errors.TransientError, match="unexpected shape"):
        source.fetch_page(PageRequest())


def test_403_on_products_is_auth_error(source: Anar360, router: respx.MockRouter) -> None:
    router.get("/products").respond(403, json=fixture("token_refused"))
    with pytest.raises(errors.AuthError, match=r"refused the token \(error 10010\); check ANAR360_TOKEN"):
        source.fetch_page(PageRequest())


def test_a_page_served_again_and_again_stops_the_listing(source: Anar360, router: respx.MockRouter) -> None:
    same = [product("a"), product("b")]
    router.get("/products").respond(200, json=page(same, total=None, limit=2))
    first = source.fetch_page(PageRequest(number=1, size=2))
    assert first.next is not None  # a full page and no total: the listing may go on
    with pytest.raises(
        errors.LimitExceeded, match=r"pages 1 and 2 hold the same 2 items, so it would never end"
    ):
        source.fetch_page(first.next)


def test_a_total_that_grows_with_every_page_cannot_keep_the_listing_going(
    source: Anar360, router: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        items = [product(f"p{number}-{i}") for i in range(2)]
        return httpx.Response(200, json=page(items, total=(number + 1) * 2, limit=2))

    router.get("/products").mock(side_effect=answer)
    request: PageRequest | None = PageRequest(number=1, size=2)
    with pytest.raises(errors.LimitExceeded, match=r"goes on past page 7 \(its total of 4 items at 2 a page"):
        while request is not None:
            request = source.fetch_page(request).next


# --- connections ---

OTHER = "https://other.anar360.test/api/360"


def other_connection(**changes: Any) -> Connection:
    values: dict[str, Any] = dict(
        provider="anar360",
        name="anar-b",
        base_url=OTHER,
        secret=SecretStr("other-Token-987654321"),
        rate_limit_per_min=100_000,
        secret_name="ANAR_B_TOKEN",
    )
    values.update(changes)
    return Connection(**values)


def test_the_default_connection_comes_from_settings(source: Anar360, cfg: Settings) -> None:
    assert source.connection == Connection(
        provider="anar360",
        name="anar360",
        base_url=BASE,
        secret=cfg.anar360_token,
        rate_limit_per_min=100_000,
        secret_name="ANAR360_TOKEN",
    )


def test_another_connection_uses_its_own_address_token_and_name(cfg: Settings) -> None:
    router, audit = respx.MockRouter(base_url=OTHER, assert_all_called=False), ListAudit()
    route = router.get("/products").respond(403, json=fixture("token_refused"))
    with (
        Anar360(cfg, other_connection(), transport=httpx.MockTransport(router.handler), audit=audit) as src,
        pytest.raises(
            errors.AuthError, match=r"refused the token \(error 10010\); check ANAR_B_TOKEN"
        ) as info,
    ):
        src.fetch_page(PageRequest())
    assert route.calls.last.request.headers["Authorization"] == "Bearer other-Token-987654321"
    assert info.value.provider == "anar-b" and str(info.value).startswith("anar-b: GET /products")
    assert [r.provider for r in audit.records] == ["anar-b"]  # audit rows are keyed by the connection


def test_a_refused_check_names_where_the_token_comes_from(cfg: Settings) -> None:
    router = respx.MockRouter(base_url=OTHER, assert_all_called=False)
    router.get("/auth/validate").respond(200, json={"success": False, "error": "10011"})
    with (
        Anar360(cfg, other_connection(), transport=httpx.MockTransport(router.handler)) as src,
        pytest.raises(
            errors.AuthError, match=r"^anar-b refused the token \(error 10011\).*check ANAR_B_TOKEN$"
        ),
    ):
        src.check()


def test_a_connection_of_another_provider_or_without_a_token_is_refused(cfg: Settings) -> None:
    with pytest.raises(errors.ConfigError, match="'anar-b' is a sazito connection, not a anar360 one"):
        Anar360(cfg, other_connection(provider="sazito"))
    with pytest.raises(errors.ConfigError, match="'anar-b' has no credential: set ANAR_B_TOKEN"):
        Anar360(cfg, other_connection(secret=None))
    with pytest.raises(errors.ConfigError, match="base URL must be http:// or https://, not file"):
        Anar360(cfg, other_connection(base_url="file:///tmp/products.json"))


def test_a_check_is_reused_per_connection(cfg: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sync_core.connectors.base._checked", {})
    router = respx.MockRouter(base_url=BASE, assert_all_called=False)
    route = router.get("/auth/validate").respond(200, json=fixture("validate_ok"))
    transport = httpx.MockTransport(router.handler)
    # The same address and token under another name: a connection of its own, checked on its own.
    twin = other_connection(base_url=BASE, secret=cfg.anar360_token)
    with Anar360(cfg, transport=transport) as a, Anar360(cfg, twin, transport=transport) as b:
        for _ in range(2):
            a.check(reuse_s=60)
            b.check(reuse_s=60)
    assert route.call_count == 2
