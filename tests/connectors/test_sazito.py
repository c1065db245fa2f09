"""Sazito connector against respx routes built from the contract's examples (tests/fixtures/sazito)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from sync_core import errors
from sync_core.connectors.sazito import Sazito
from sync_core.engine.connections import Connection
from sync_core.engine.ports import CatalogueReader, Creator, Replayer, Writer
from sync_core.errors import RejectedByStore
from sync_core.http.circuit import MemoryBreakerStore
from sync_core.models import CatalogueItem, NewProduct, Write
from sync_core.settings import Settings

BASE = "https://shop.test/api/v1"
KEY = "sazito-Key-0123456789"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "sazito"
OK = {"result": {}, "error": "", "error_code": 0, "status": 200}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def price(vid: int, p: int = 520000, d: int | None = 450000) -> Write:
    return Write("price", str(vid), f"s{vid}", {"price": p, "discount_price": d})


def stock(vid: int, managed: bool = True, n: int | None = 12) -> Write:
    return Write("stock", str(vid), f"s{vid}", {"managed": managed, "stock": n if managed else None})


def bodies(route: respx.Route) -> list[Any]:
    return [json.loads(call.request.content) for call in route.calls]


def catalogue(products: list[dict[str, Any]], size: int = 2, number: int = 0) -> dict[str, Any]:
    return {
        "result": {"page_number": number, "page_size": size, "total_count": 3, "products": products},
        "error": "",
        "error_code": 0,
        "status": 200,
    }


@pytest.fixture
def cfg() -> Settings:
    return Settings(
        anar360_base="https://anar.test",
        anar360_token="anar-tok-1",
        sazito_base=BASE,
        sazito_key=KEY,
        _env_file=None,
        http_retries=2,
        http_retry_backoff_ms=0,
        rate_limit_per_min=100_000,
        sazito_page_size=2,
    )


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE, assert_all_called=False)


@pytest.fixture
def target(cfg: Settings, router: respx.MockRouter) -> Any:
    with Sazito(cfg, transport=httpx.MockTransport(router.handler), sleep=lambda s: None) as tgt:
        yield tgt


def test_is_a_target(target: Sazito) -> None:
    assert all(isinstance(target, port) for port in (Writer, CatalogueReader, Replayer, Creator))
    assert target.provider == target.connection.name == "sazito"
    assert target.write_kinds == frozenset({"price", "stock"})


def test_missing_settings_raise_config_error() -> None:
    with pytest.raises(errors.ConfigError, match="SAZITO_BASE"):
        Sazito(Settings(sazito_key=KEY, _env_file=None))


def test_check_reads_one_catalogue_item_then_proves_the_key_with_an_empty_bulk_update(
    target: Sazito, router: respx.MockRouter
) -> None:
    route = router.get("/products").respond(200, json=fixture("catalogue_page"))
    empty = router.put("/accounting/bulk-update-stock").respond(
        200, json={"result": {"success_variants": [], "failed_variant_ids": []}, **OK}
    )
    target.check()
    params = route.calls.last.request.url.params
    assert (params["page_number"], params["page_size"]) == ("0", "1")
    assert bodies(empty) == [{"variants": []}]  # changes nothing
    assert empty.calls.last.request.headers["X-API-KEY"] == KEY


def test_check_names_a_refused_key(target: Sazito, router: respx.MockRouter) -> None:
    router.get("/products").respond(200, json=fixture("catalogue_page"))  # public: any key passes
    router.put("/accounting/bulk-update-stock").respond(
        401, json={"result": None, "error": "invalid or missing API key", "error_code": 401, "status": 401}
    )
    with pytest.raises(
        errors.AuthError, match=r"^sazito refused the key: PUT .* HTTP 401; check SAZITO_KEY$"
    ):
        target.check()


def test_check_takes_a_422_for_the_empty_list_as_an_accepted_key(
    target: Sazito, router: respx.MockRouter
) -> None:
    router.get("/products").respond(200, json=fixture("catalogue_page"))
    router.put("/accounting/bulk-update-stock").respond(
        422, json={"result": None, "error": "variants is empty", "error_code": 422, "status": 422}
    )
    target.check()


def test_check_envelope_failure(target: Sazito, router: respx.MockRouter) -> None:
    router.get("/products").respond(
        200, json={"result": None, "error": "store closed", "error_code": 5, "status": 403}
    )
    with pytest.raises(errors.AuthError, match="store closed"):
        target.check()


def test_contract_catalogue_page(target: Sazito, router: respx.MockRouter) -> None:
    route = router.get("/products").respond(200, json=fixture("catalogue_page"))
    page = target.read_catalogue_page(0)
    assert route.calls.last.request.url.params["page_number"] == "0"
    assert page.items == [
        CatalogueItem(
            key="456",
            product_key="123",
            sku="6650c1f0a1b2c3d4e5f60719",
            product_name="Cotton T-shirt",
            title="Red / L",
            holds={
                "price": {"price": 450000, "discount_price": None},
                "stock": {"managed": True, "stock": 12},
            },
        )
    ]
    assert page.number == 0 and page.total == 57 and page.next is None  # 1 product < reported page_size 100


def test_catalogue_pages_are_zero_based(target: Sazito, router: respx.MockRouter) -> None:
    products = [
        {"id": i, "name": f"P{i}", "product_variants": [{"id": 100 + i, "title": None}]} for i in range(3)
    ]

    def serve(request: httpx.Request) -> httpx.Response:
        n, size = int(request.url.params["page_number"]), int(request.url.params["page_size"])
        return httpx.Response(200, json=catalogue(products[n * size : (n + 1) * size], size=size, number=n))

    router.get("/products").mock(side_effect=serve)
    first = target.read_catalogue_page(0)
    assert [v.key for v in first.items] == ["100", "101"] and first.next == 1
    second = target.read_catalogue_page(1)
    assert [v.key for v in second.items] == ["102"] and second.next is None
    v = second.items[0]
    assert (v.sku, v.title, v.holds) == (None, None, {})  # nothing reported: no value held


def test_catalogue_past_last_page(target: Sazito, router: respx.MockRouter) -> None:
    router.get("/products").respond(200, json=catalogue([], size=2, number=5))
    page = target.read_catalogue_page(5)
    assert page.items == [] and page.next is None


def test_catalogue_skips_unreadable_variants(target: Sazito, router: respx.MockRouter) -> None:
    router.get("/products").respond(
        200,
        json=catalogue(
            [{"id": 1, "name": "A", "product_variants": [{"title": "no id"}, {"id": 7, "price": "x"}]}]
        ),
    )
    page = target.read_catalogue_page(0)
    assert [(v.key, v.holds) for v in page.items] == [("7", {})]  # an unreadable price is not reported


def test_catalogue_items_hold_the_values_in_the_write_shapes(
    target: Sazito, router: respx.MockRouter
) -> None:
    variants = [
        {"id": 1, "title": "t", "sku": "s", "price": 100, "is_stock_managed": True, "stock_number": 3},
        {"id": 2, "price": 100, "discount_price": 90, "is_stock_managed": False, "stock_number": 40},
        {"id": 3},
    ]
    router.get("/products").respond(
        200, json=catalogue([{"id": 9, "name": "P", "product_variants": variants}])
    )
    managed, unmanaged, unknown = target.read_catalogue_page(0).items
    assert managed.holds == {
        "price": {"price": 100, "discount_price": None},
        "stock": {"managed": True, "stock": 3},
    }
    assert (managed.key, managed.product_key, managed.product_name, managed.sku) == ("1", "9", "P", "s")
    assert unmanaged.holds == {
        "price": {"price": 100, "discount_price": 90},
        "stock": {"managed": False, "stock": None},
    }
    assert unknown.holds == {}


@pytest.mark.parametrize("shape", ["bulk_result_wrapped", "bulk_top_level", "bulk_lists_only"])
def test_three_bulk_answer_shapes(target: Sazito, router: respx.MockRouter, shape: str) -> None:
    route = router.put("/accounting/bulk-update-price").respond(200, json=fixture(shape))
    ok, bad = price(456), price(789)
    outcome = target.apply([ok, bad])
    assert outcome.succeeded == [ok]
    assert [(f.write, f.error) for f in outcome.failed] == [(bad, RejectedByStore)]
    assert "789" in outcome.failed[0].message
    assert outcome.failed[0].error.__name__ == "RejectedByStore"  # the name failures rows keep
    assert bodies(route) == [
        {
            "variants": [
                {"id": 456, "price": 520000, "discount_price": 450000},
                {"id": 789, "price": 520000, "discount_price": 450000},
            ]
        }
    ]


def test_ids_in_neither_list_count_as_succeeded(target: Sazito, router: respx.MockRouter) -> None:
    router.put("/accounting/bulk-update-stock").respond(200, json={**OK, "result": {"success_variants": []}})
    outcome = target.apply([stock(1)])
    assert outcome.succeeded == [stock(1)] and outcome.failed == []


def test_chunks_of_fifty_run_concurrently(target: Sazito, router: respx.MockRouter) -> None:
    prices = router.put("/accounting/bulk-update-price").respond(200, json=OK)
    stocks = router.put("/accounting/bulk-update-stock").respond(200, json=OK)
    writes = [price(i, d=None) for i in range(120)] + [stock(i, n=i) for i in range(51)]
    outcome = target.apply(writes)
    assert len(outcome.succeeded) == 171 and outcome.failed == []
    assert sorted(len(b["variants"]) for b in bodies(prices)) == [20, 50, 50]
    assert sorted(len(b["variants"]) for b in bodies(stocks)) == [1, 50]
    sent = [v for b in bodies(prices) for v in b["variants"]]
    assert sorted(v["id"] for v in sent) == list(range(120))
    assert all(v["discount_price"] is None and "discount_price" in v for v in sent)  # always sent
    assert {"id": 7, "stock": 7} in [v for b in bodies(stocks) for v in b["variants"]]


def test_each_batch_outcome_is_reported_as_it_lands(target: Sazito, router: respx.MockRouter) -> None:
    router.put("/accounting/bulk-update-price").respond(200, json=OK)
    seen: list[int] = []
    outcome = target.apply(
        [price(i) for i in range(120)], on_outcome=lambda part: seen.append(len(part.succeeded))
    )
    assert sorted(seen) == [20, 50, 50] and len(outcome.succeeded) == 120


def test_unmanaged_stock_uses_per_variant_endpoint(target: Sazito, router: respx.MockRouter) -> None:
    bulk = router.put("/accounting/bulk-update-stock").respond(200, json=OK)
    single = router.put("/accounting/update-stock/456").respond(200, json=OK)
    outcome = target.apply([stock(456, managed=False)])
    assert outcome.succeeded == [stock(456, managed=False)] and bulk.call_count == 0
    assert bodies(single) == [{"is_stock_manager": False, "stock_number": 0, "is_relative": False}]


def test_envelope_failure_on_http_200_fails_the_chunk(target: Sazito, router: respx.MockRouter) -> None:
    route = router.put("/accounting/bulk-update-price").respond(200, json=fixture("envelope_failure"))
    outcome = target.apply([price(1), price(2)])
    assert outcome.succeeded == [] and route.call_count == 1  # 422 in the body: permanent, not retried
    assert [f.error for f in outcome.failed] == [errors.InvalidRequest, errors.InvalidRequest]
    assert "discount_price must be lower than price" in outcome.failed[0].message


def test_error_code_alone_fails_the_call(target: Sazito, router: respx.MockRouter) -> None:
    router.put("/accounting/update-price/5").respond(
        200, json={"result": None, "error": "", "error_code": 77, "status": 200}
    )
    with pytest.raises(errors.InvalidRequest, match="error_code 77"):
        target.apply_one(price(5))


def test_in_body_5xx_is_transient_and_retried(target: Sazito, router: respx.MockRouter) -> None:
    route = router.put("/accounting/bulk-update-price").mock(
        side_effect=[
            httpx.Response(200, json={"result": None, "error": "busy", "error_code": 1, "status": 503}),
            httpx.Response(200, json=fixture("bulk_result_wrapped")),
        ]
    )
    outcome = target.apply([price(456)])
    assert outcome.succeeded == [price(456)] and route.call_count == 2


def test_chunk_errors_do_not_hide_other_chunks(target: Sazito, router: respx.MockRouter) -> None:
    router.put("/accounting/bulk-update-price").respond(500)
    router.put("/accounting/bulk-update-stock").respond(200, json=OK)
    outcome = target.apply([price(1), stock(2)])
    assert outcome.succeeded == [stock(2)]
    (failed,) = outcome.failed
    assert failed.write == price(1) and failed.error is errors.TransientError
    assert "after 3 attempts" in failed.message


def test_auth_error_per_chunk(target: Sazito, router: respx.MockRouter) -> None:
    router.put("/accounting/bulk-update-price").respond(401, json={"message": "invalid api key"})
    outcome = target.apply([price(1)])
    assert outcome.failed[0].error is errors.AuthError and "invalid api key" in outcome.failed[0].message
    assert KEY not in outcome.failed[0].message


def test_malformed_writes_fail_without_a_call(target: Sazito, router: respx.MockRouter) -> None:
    bad = [
        Write("price", "abc", "s", {"price": 1, "discount_price": None}),
        Write("price", "1", "s", {"price": 1.5, "discount_price": None}),
        Write("stock", "1", "s", {"managed": True, "stock": None}),
        Write("title", "1", "s", {"title": "x"}),
    ]
    outcome = target.apply(bad)
    assert outcome.succeeded == [] and [f.error for f in outcome.failed] == [errors.InvalidRequest] * 4
    assert all("not sent" in f.message for f in outcome.failed)


@pytest.mark.parametrize(
    ("status", "expected"), [(404, errors.NotFound), (422, errors.InvalidRequest), (409, None)]
)
def test_per_variant_statuses(
    target: Sazito, router: respx.MockRouter, status: int, expected: type[Exception] | None
) -> None:
    router.put("/accounting/update-stock/9").respond(
        status, json={"error": "why", "error_code": 1, "status": status}
    )
    outcome = target.apply([stock(9, managed=False)])
    if expected is None:
        assert outcome.succeeded == [stock(9, managed=False)] and outcome.failed == []
    else:
        assert [f.error for f in outcome.failed] == [expected]


def test_apply_one_price_and_stock(target: Sazito, router: respx.MockRouter) -> None:
    p = router.put("/accounting/update-price/456").respond(200, json=OK)
    s = router.put("/accounting/update-stock/456").respond(409, json={"error": "same value"})
    target.apply_one(price(456, p=450000, d=None))
    target.apply_one(stock(456, n=12))  # 409: already set
    assert bodies(p) == [{"price": 450000, "discount_price": None, "has_raw_price": False}]
    assert bodies(s) == [{"is_stock_manager": True, "stock_number": 12, "is_relative": False}]


def test_apply_one_raises(target: Sazito, router: respx.MockRouter) -> None:
    router.put("/accounting/update-price/404").respond(404, json={"error": "unknown variant"})
    with pytest.raises(errors.NotFound, match="unknown variant"):
        target.apply_one(price(404))


def test_bulk_409_counts_as_already_set(target: Sazito, router: respx.MockRouter) -> None:
    router.put("/accounting/bulk-update-stock").respond(409)
    assert target.apply([stock(1)]).succeeded == [stock(1)]


def test_never_relative(target: Sazito, router: respx.MockRouter) -> None:
    route = router.put(path__regex=r"/accounting/.*").respond(200, json=OK)
    target.apply([stock(1), stock(2, managed=False), price(3)])
    target.apply_one(stock(4))
    target.apply_one(stock(5, managed=False))
    assert all(b.get("is_relative") in (None, False) for b in bodies(route))
    assert "is_relative" not in json.dumps([b for b in bodies(route) if "variants" in b])


def test_create_product(target: Sazito, router: respx.MockRouter) -> None:
    route = router.post("/products").respond(200, json=fixture("create_product"))
    new = NewProduct(
        source_key="6650c1f0a1b2c3d4e5f60718",
        name="Cotton T-shirt",
        description="<p>HTML</p>",
        variants=(
            ("6650c1f0a1b2c3d4e5f60719", {"price": 520000, "is_stock_managed": True, "stock_number": 12}),
            ("missing-in-answer", {"price": 1, "is_stock_managed": False, "stock_number": 0}),
        ),
    )
    assert target.create_product(new) == {"6650c1f0a1b2c3d4e5f60719": "654"}
    assert route.call_count == 1
    assert bodies(route)[0] == {
        "product": {"name": "Cotton T-shirt", "product_type": "simple", "description": "<p>HTML</p>"},
        "product_variants": [
            {
                "sku": "6650c1f0a1b2c3d4e5f60719",
                "price": 520000,
                "is_stock_managed": True,
                "stock_number": 12,
            },
            {"sku": "missing-in-answer", "price": 1, "is_stock_managed": False, "stock_number": 0},
        ],
    }


def test_create_product_is_not_resent_after_5xx(target: Sazito, router: respx.MockRouter) -> None:
    route = router.post("/products").respond(502)
    new = NewProduct("p", "P", "", (("v", {"price": 1, "is_stock_managed": False, "stock_number": 0}),))
    with pytest.raises(errors.TransientError):
        target.create_product(new)
    assert route.call_count == 1  # a resent POST could create the product twice


def test_create_product_without_result(target: Sazito, router: respx.MockRouter) -> None:
    router.post("/products").respond(200, json={"result": None, "error": "", "error_code": 0, "status": 200})
    new = NewProduct("p", "P", "", (("v", {"price": 1}),))
    with pytest.raises(errors.PermanentError, match="may have been created"):
        target.create_product(new)


def test_chunks_really_overlap(target: Sazito, router: respx.MockRouter) -> None:
    import threading

    barrier = threading.Barrier(2, timeout=5)  # breaks (and fails the chunks) if the calls ran one by one

    def serve(request: httpx.Request) -> httpx.Response:
        barrier.wait()
        return httpx.Response(200, json=OK)

    router.put("/accounting/bulk-update-price").mock(side_effect=serve)
    outcome = target.apply([price(i) for i in range(100)])
    assert len(outcome.succeeded) == 100 and outcome.failed == []


def test_a_catalogue_that_repeats_a_page_is_stopped(target: Sazito, router: respx.MockRouter) -> None:
    full = [{"id": 1, "name": "a", "product_variants": []}, {"id": 2, "name": "b", "product_variants": []}]
    router.get("/products").respond(
        200, json={**catalogue(full), "result": {**catalogue(full)["result"], "total_count": None}}
    )
    assert target.read_catalogue_page(0).next == 1
    with pytest.raises(
        errors.LimitExceeded, match="the catalogue repeats itself: pages 1 and 2 hold the same 2"
    ):
        target.read_catalogue_page(1)


def test_bulk_entries_come_from_the_write_values(target: Sazito, router: respx.MockRouter) -> None:
    prices = router.put("/accounting/bulk-update-price").respond(200, json=OK)
    stocks = router.put("/accounting/bulk-update-stock").respond(200, json=OK)
    writes = [
        Write("price", "5", "s5", {"price": 520000.0, "discount_price": "450000"}),
        Write("price", "6", "s6", {"price": "1000"}),  # no discount given: sent as null
        Write("stock", "7", "s7", {"managed": True, "stock": "0"}),
    ]
    succeeded = target.apply(writes).succeeded
    assert sorted(succeeded, key=lambda w: w.target_key) == writes
    assert bodies(prices) == [
        {
            "variants": [
                {"id": 5, "price": 520000, "discount_price": 450000},
                {"id": 6, "price": 1000, "discount_price": None},
            ]
        }
    ]
    assert bodies(stocks) == [{"variants": [{"id": 7, "stock": 0}]}]


# --- connections ---

OTHER = "https://store-b.test/api/v1"


def store_b(cfg: Settings, router: respx.MockRouter) -> Sazito:
    connection = Connection(
        provider="sazito",
        name="store-b",
        base_url=OTHER,
        secret=SecretStr("store-b-Key-555"),
        rate_limit_per_min=100_000,
        secret_name="STORE_B_KEY",
    )
    return Sazito(cfg, connection, transport=httpx.MockTransport(router.handler), sleep=lambda s: None)


def test_another_store_uses_its_own_address_and_key(cfg: Settings) -> None:
    router = respx.MockRouter(base_url=OTHER, assert_all_called=False)
    router.get("/products").respond(200, json=fixture("catalogue_page"))
    bulk = router.put("/accounting/bulk-update-price").respond(200, json=fixture("bulk_top_level"))
    refused = router.put("/accounting/bulk-update-stock").respond(401, json={"error": "invalid key"})
    with store_b(cfg, router) as target:
        outcome = target.apply([price(456), price(789)])
        with pytest.raises(errors.AuthError, match=r"^store-b refused the key: .*; check STORE_B_KEY$"):
            target.check()
    assert bulk.calls.last.request.headers["X-API-KEY"] == "store-b-Key-555"
    assert refused.calls.last.request.headers["X-API-KEY"] == "store-b-Key-555"
    assert [f.message for f in outcome.failed] == [
        "store-b did not update variant 789: listed in failed_variant_ids"
    ]


def test_a_connection_of_another_provider_is_refused(cfg: Settings) -> None:
    anar = Connection(provider="anar360", name="anar-b", base_url=OTHER, secret=SecretStr("k"))
    with pytest.raises(errors.ConfigError, match="'anar-b' is a anar360 connection, not a sazito one"):
        Sazito(cfg, anar)


def test_a_failing_store_does_not_open_the_circuit_of_another(cfg: Settings) -> None:
    settings = cfg.model_copy(update={"circuit_failure_threshold": 2, "http_retries": 0})
    store, router = MemoryBreakerStore(), respx.MockRouter(assert_all_called=False)
    router.get(f"{BASE}/products").respond(503)
    router.get(f"{OTHER}/products").respond(200, json=fixture("catalogue_page"))
    transport = httpx.MockTransport(router.handler)
    other = Connection(provider="sazito", name="store-b", base_url=OTHER, secret=SecretStr("k-b"))
    with (
        Sazito(settings, transport=transport, breaker_store=store, sleep=lambda s: None) as a,
        Sazito(settings, other, transport=transport, breaker_store=store, sleep=lambda s: None) as b,
    ):
        for _ in range(2):
            with pytest.raises(errors.TransientError):
                a.read_catalogue_page(0)
        with pytest.raises(errors.CircuitOpenError):
            a.read_catalogue_page(0)
        assert [item.key for item in b.read_catalogue_page(0).items] == ["456"]
        assert a.http._bucket is not b.http._bucket
