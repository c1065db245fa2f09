"""Ingram Micro connector against respx routes built from the contract's examples (tests/fixtures/ingram)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
import respx

from sync_core import errors
from sync_core.connectors.ingram import IngramCatalog, PartDetails, PartError, PricedPart, Warehouse
from sync_core.engine.connections import requests_limit
from sync_core.http.client import RequestRecord
from sync_core.settings import Settings
from tasks.runtime import prefect_lane_pacer
from tests.fakes import FakeTime

BASE = "https://api.ingram.test:443/sandbox"
SECRET = "cs-Very-Secret-0042"
TOKEN_PATH = "/oauth/oauth20/token"
PNA_PATH = "/resellers/v6/catalog/priceandavailability"
DETAILS_PATH = "/resellers/v6/catalog/details/"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingram"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def token_answer(token: str, expires_in: Any = "86399") -> httpx.Response:
    return httpx.Response(200, json={"access_token": token, "token_type": "Bearer", "expires_in": expires_in})


def item(part: str, **changes: Any) -> dict[str, Any]:
    """A good price-and-availability item for ``part``."""
    found: dict[str, Any] = {
        "ingramPartNumber": part,
        "vendorPartNumber": "V-1",
        "description": "A PART",
        "productStatusCode": "W",
        "productAuthorized": True,
        "availability": {
            "available": True,
            "totalAvailability": 3,
            "availabilityByWarehouse": [
                {"warehouseId": 20, "location": "Fort Worth, TX", "quantityAvailable": 3}
            ],
        },
        "pricing": {"currencyCode": "USD", "customerPrice": 101.5, "retailPrice": 129.99, "mapPrice": 0},
    }
    found.update(changes)
    return found


class ListAudit:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def record(self, rec: RequestRecord) -> None:
        self.records.append(rec)

    def dumped(self) -> str:
        return json.dumps([asdict(r) for r in self.records], default=str)


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        _env_file=None,
        ingram_base=BASE + "/",
        ingram_client_id="client-1",
        ingram_client_secret=SECRET,
        ingram_customer_number="20-222222",
        ingram_country_code="us",
        ingram_sender_id="catalog-sync",
        ingram_pna_rate_per_min=100_000,
        ingram_details_rate_per_min=100_000,
        http_retries=2,
        http_retry_backoff_ms=0,
        rate_limit_per_min=100_000,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE, assert_all_called=False)


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def tokens(router: respx.MockRouter) -> respx.Route:
    """The token endpoint: tok-1, tok-2 ... one a call."""
    issued = iter(range(1, 1000))
    return router.post(TOKEN_PATH).mock(
        side_effect=lambda request: token_answer(f"tok-{next(issued)}-abcdef")
    )


def connector(
    router: respx.MockRouter,
    audit: ListAudit,
    clock: FakeTime,
    settings: Settings | None = None,
    **wiring: Any,
) -> IngramCatalog:
    return IngramCatalog(
        settings or make_settings(),
        transport=httpx.MockTransport(router.handler),
        audit=audit,
        sleep=clock.sleep,
        clock=clock.clock,
        **wiring,
    )


@pytest.fixture
def ingram(
    router: respx.MockRouter, audit: ListAudit, clock: FakeTime, tokens: respx.Route
) -> Iterator[IngramCatalog]:
    with connector(router, audit, clock) as source:
        yield source


def bearer(route: respx.Route) -> list[str]:
    return [call.request.headers["Authorization"] for call in route.calls]


# --- settings ---


def test_settings_are_normalised() -> None:
    settings = make_settings(
        ingram_country_code=" gb ", ingram_customer_number=" 20-222222 ", ingram_sender_id=" "
    )
    assert settings.ingram_base == BASE and settings.ingram_country_code == "GB"
    assert settings.ingram_customer_number == "20-222222" and settings.ingram_sender_id is None
    assert (settings.ingram_pna_rate_per_min, Settings(_env_file=None).ingram_details_rate_per_min) == (
        100_000,
        60,
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"ingram_country_code": "USA"},
        {"ingram_country_code": "1A"},
        {"ingram_customer_number": "12345678901"},
        {"ingram_sender_id": "x" * 33},
        {"ingram_pna_rate_per_min": 0},
        {"ingram_details_rate_per_min": 0},
        {"ingram_client_secret": "changeme"},
        {"ingram_base": "ftp://ingram.test"},
    ],
)
def test_bad_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        make_settings(**bad)


def test_missing_settings_are_named_in_one_line() -> None:
    with pytest.raises(errors.ConfigError) as info:
        IngramCatalog(Settings(_env_file=None))
    assert str(info.value).startswith(
        "missing setting: INGRAM_BASE, INGRAM_CLIENT_SECRET, INGRAM_CLIENT_ID, INGRAM_CUSTOMER_NUMBER"
    )
    with pytest.raises(errors.ConfigError, match="^missing setting: INGRAM_CUSTOMER_NUMBER "):
        IngramCatalog(make_settings(ingram_customer_number=""))
    assert "\n" not in str(info.value)


# --- the token ---


def test_check_fetches_a_token_with_the_client_credentials(
    ingram: IngramCatalog, tokens: respx.Route, audit: ListAudit
) -> None:
    ingram.check()
    request = tokens.calls.last.request
    assert request.url.host == "api.ingram.test" and request.url.path == f"/sandbox{TOKEN_PATH}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form == {"grant_type": "client_credentials", "client_id": "client-1", "client_secret": SECRET}
    assert [r.context for r in audit.records] == ["token"]


def test_the_token_is_cached_and_shared(
    ingram: IngramCatalog, router: respx.MockRouter, tokens: respx.Route
) -> None:
    details = router.get(path__startswith=DETAILS_PATH).respond(200, json=fixture("details_200"))
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(ingram.details, [f"P{i}" for i in range(16)]))
    assert all(isinstance(d, PartDetails) for d in found)
    assert tokens.call_count == 1 and set(bearer(details)) == {"Bearer tok-1-abcdef"}


def test_the_token_is_renewed_shortly_before_it_expires(
    router: respx.MockRouter, audit: ListAudit, clock: FakeTime
) -> None:
    issued = iter(["tok-a-123456", "tok-b-123456"])
    tokens = router.post(TOKEN_PATH).mock(side_effect=lambda request: token_answer(next(issued), "120"))
    details = router.get(path__startswith=DETAILS_PATH).respond(200, json={})
    with connector(router, audit, clock) as ingram:
        ingram.details("A")
        clock.now = 107.0  # a 120 s token is renewed 12 s (a tenth of its life) before it expires
        ingram.details("B")
        clock.now = 108.0
        ingram.details("C")
    assert tokens.call_count == 2
    assert bearer(details) == ["Bearer tok-a-123456", "Bearer tok-a-123456", "Bearer tok-b-123456"]


def test_a_long_token_is_renewed_a_minute_before_it_expires(
    router: respx.MockRouter, audit: ListAudit, clock: FakeTime, tokens: respx.Route
) -> None:
    router.get(path__startswith=DETAILS_PATH).respond(200, json={})
    with connector(router, audit, clock) as ingram:
        ingram.details("A")
        clock.now = 86399 - 61
        ingram.details("A")
        assert tokens.call_count == 1
        clock.now = 86399 - 60
        ingram.details("A")
    assert tokens.call_count == 2


def test_a_401_gets_one_new_token_and_one_more_try(
    ingram: IngramCatalog, router: respx.MockRouter, tokens: respx.Route
) -> None:
    details = router.get(f"{DETAILS_PATH}P1").mock(
        side_effect=[
            httpx.Response(401, json={"errors": [{"message": "token expired"}]}),
            httpx.Response(200, json={}),
        ]
    )
    assert isinstance(ingram.details("P1"), PartDetails)
    assert tokens.call_count == 2
    assert bearer(details) == ["Bearer tok-1-abcdef", "Bearer tok-2-abcdef"]
    assert ingram.http.breaker.state.failures == 0  # an expired token says nothing of Ingram's health


def test_a_second_401_is_an_auth_error(
    ingram: IngramCatalog, router: respx.MockRouter, tokens: respx.Route, audit: ListAudit
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:  # the provider echoes the token it refuses
        return httpx.Response(
            401, json={"errors": [{"message": f"refused {request.headers['Authorization']}"}]}
        )

    details = router.get(f"{DETAILS_PATH}P1").mock(side_effect=refuse)
    with pytest.raises(errors.AuthError) as info:
        ingram.details("P1")
    assert tokens.call_count == 2 and details.call_count == 2
    message = str(info.value)
    assert "HTTP 401" in message and "INGRAM_CLIENT_ID" in message and "\n" not in message
    assert "REDACTED" in message
    for token in ("tok-1-abcdef", "tok-2-abcdef"):
        assert token not in message and token not in audit.dumped()


@pytest.mark.parametrize("status", [400, 401])
def test_a_refused_client_secret_names_the_settings(
    router: respx.MockRouter, audit: ListAudit, clock: FakeTime, status: int
) -> None:
    refused = router.post(TOKEN_PATH).respond(
        status, json={"error": "invalid_client", "error_description": f"no client with secret {SECRET}"}
    )
    with connector(router, audit, clock) as ingram, pytest.raises(errors.AuthError) as info:
        ingram.check()
    message = str(info.value)
    assert message == (
        f"ingram refused the client credentials: POST {TOKEN_PATH} answered HTTP {status} (invalid_client); "
        "check INGRAM_CLIENT_ID and INGRAM_CLIENT_SECRET"
    )
    assert refused.call_count == 1 and info.value.status == status
    assert SECRET not in audit.dumped()


def test_a_token_answer_without_a_token_is_transient(
    router: respx.MockRouter, audit: ListAudit, clock: FakeTime
) -> None:
    router.post(TOKEN_PATH).respond(200, json={"token_type": "Bearer"})
    with connector(router, audit, clock) as ingram, pytest.raises(errors.TransientError, match="no|without"):
        ingram.check()


# --- every catalogue call ---


def test_every_call_carries_the_account_headers(
    ingram: IngramCatalog, router: respx.MockRouter, audit: ListAudit
) -> None:
    pna = router.post(PNA_PATH).respond(200, json=[item("123512")])
    details = router.get(f"{DETAILS_PATH}123512").respond(200, json=fixture("details_200"))
    ingram.price_and_availability(["123512"])
    ingram.details("123512")
    for route in (pna, details):
        headers = route.calls.last.request.headers
        assert headers["Authorization"] == "Bearer tok-1-abcdef"
        assert headers["IM-CustomerNumber"] == "20-222222" and headers["IM-CountryCode"] == "US"
        assert headers["IM-SenderID"] == "catalog-sync"
        assert len(headers["IM-CorrelationID"]) == 32
    request = pna.calls.last.request
    assert (
        request.url.params["includeAvailability"] == "true" and request.url.params["includePricing"] == "true"
    )
    assert json.loads(request.content) == {"products": [{"ingramPartNumber": "123512"}]}
    by_context = {r.context: r.correlation_id for r in audit.records}
    assert by_context["details of 123512"] == details.calls.last.request.headers["IM-CorrelationID"]


def test_no_sender_id_header_when_unset(
    router: respx.MockRouter, audit: ListAudit, clock: FakeTime, tokens: respx.Route
) -> None:
    details = router.get(f"{DETAILS_PATH}X").respond(200, json={})
    with connector(router, audit, clock, make_settings(ingram_sender_id=None)) as ingram:
        ingram.details("X")
    assert "IM-SenderID" not in details.calls.last.request.headers


def test_each_attempt_has_its_own_correlation_id(
    ingram: IngramCatalog, router: respx.MockRouter, audit: ListAudit
) -> None:
    pna = router.post(PNA_PATH).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=[item("A1")])]
    )
    priced, failed = ingram.price_and_availability(["A1"])  # a POST, resent: it is a read
    assert [p.part for p in priced] == ["A1"] and failed == []
    sent = [call.request.headers["IM-CorrelationID"] for call in pna.calls]
    rows = [r for r in audit.records if r.context and r.context.startswith("price")]
    assert len(set(sent)) == 2 and [r.correlation_id for r in rows] == sent
    assert [(r.attempt, r.outcome, r.status) for r in rows] == [(1, "retry", 503), (2, "success", 200)]


def test_a_429_waits_until_the_rate_limit_window_resets(
    ingram: IngramCatalog, router: respx.MockRouter, clock: FakeTime
) -> None:
    reset = str(int(time.time()) + 5)
    throttled = httpx.Response(
        429,
        headers={"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        json={"errors": [{"field": None, "message": "too many requests"}]},
    )
    router.get(f"{DETAILS_PATH}P1").mock(side_effect=[throttled, httpx.Response(200, json={})])
    assert isinstance(ingram.details("P1"), PartDetails)
    (waited,) = clock.slept
    assert 3.5 <= waited <= 5.6
    assert ingram.throttled == 1 and ingram.waited_s == pytest.approx(waited)


def test_maintenance_503s_are_retried(ingram: IngramCatalog, router: respx.MockRouter) -> None:
    down = router.get(f"{DETAILS_PATH}P1").respond(503, json=fixture("error_400"))
    with pytest.raises(errors.TransientError, match="after 3 attempts"):
        ingram.details("P1")
    assert down.call_count == 3


def test_no_secret_or_token_is_stored_or_shown(
    router: respx.MockRouter, clock: FakeTime, tokens: respx.Route
) -> None:
    audit = ListAudit()
    settings = make_settings(audit_bodies=True, audit_body_max_chars=100_000)
    echo = {"errors": [{"message": f"token tok-1-abcdef and secret {SECRET} refused"}]}
    router.post(PNA_PATH).respond(400, json=echo)
    with connector(router, audit, clock, settings) as ingram, pytest.raises(errors.InvalidRequest) as info:
        ingram.price_and_availability(["A1"])
    assert "tok-1-abcdef" not in str(info.value) and SECRET not in str(info.value)
    assert "REDACTED" in str(info.value)
    dumped = audit.dumped()
    assert "tok-1-abcdef" not in dumped and SECRET not in dumped
    assert "client_id=client-1" in dumped  # the token call's body was stored, its secret redacted


# --- price and availability ---


def test_the_contract_200_answer(ingram: IngramCatalog, router: respx.MockRouter) -> None:
    router.post(PNA_PATH).respond(200, json=fixture("pna_200"))
    (part,), failed = ingram.price_and_availability(["4A0036"])
    assert failed == []
    assert part == PricedPart(
        part="4A0036",
        vendor_part_number="E2016HV",
        upc="0884116186519",
        description=fixture("pna_200")[0]["description"],
        status_code=None,
        status_message="ACOPS ARE AVAILABLE FOR THIS CUSTOMER AND SKU",
        authorized=True,
        total_availability=0,
        warehouses=(
            Warehouse("20", "Fort Worth, TX", 0, 0),  # no quantityAvailable: 0
            Warehouse("40", "Carol Stream, IL", 0, 156),
            Warehouse("80", "Jonestown, PA", 0, 70),
            Warehouse("10", "Mira Loma, CA", 0, 576),
        ),
        currency="USD",
        customer_price=Decimal("74.34"),
        retail_price=Decimal("189.99"),
        map_price=Decimal("0"),
    )


def test_the_contract_207_answer(ingram: IngramCatalog, router: respx.MockRouter) -> None:
    router.post(PNA_PATH).respond(207, json=fixture("pna_207"))
    (part,), failed = ingram.price_and_availability(["123512", "12351211"])
    assert failed == [PartError("12351211", "E", "Product not found for IngramPartNumber: 12351211")]
    assert (part.customer_price, part.retail_price, part.map_price) == (
        Decimal("5.43"),
        Decimal("10"),
        Decimal("540.25"),
    )  # pricing nested in availability
    assert part.currency == "USD" and part.total_availability == 240479
    assert [w.warehouse_id for w in part.warehouses] == ["20", "25", "30", "40", "80", "10", "81", "05"]
    assert part.warehouses[1] == Warehouse("25", None, 100000, 0)
    assert part.warehouses[-1] == Warehouse("05", None, 0, 0)


def test_prices_are_exact_decimals(ingram: IngramCatalog, router: respx.MockRouter) -> None:
    pricing = {"currencyCode": "USD", "customerPrice": 101.5, "retailPrice": 0.1, "mapPrice": 100}
    router.post(PNA_PATH).respond(200, json=[item("A1", pricing=pricing)])
    (part,), _ = ingram.price_and_availability(["A1"])
    assert part.customer_price == Decimal("101.5") and str(part.customer_price) == "101.5"
    assert str(part.retail_price) == "0.1" and part.map_price == Decimal(100)


def test_part_numbers_stay_strings_and_good_statuses_are_good(
    ingram: IngramCatalog, router: respx.MockRouter
) -> None:
    answer = [
        item("012345"),
        item("3E0042", productStatusCode=None),
        {k: v for k, v in item("00700").items() if k != "productStatusCode"},
    ]
    pna = router.post(PNA_PATH).respond(200, json=answer)
    priced, failed = ingram.price_and_availability(["012345", "3E0042", "00700", "012345"])
    assert json.loads(pna.calls.last.request.content)["products"] == [
        {"ingramPartNumber": "012345"},
        {"ingramPartNumber": "3E0042"},
        {"ingramPartNumber": "00700"},
    ]
    assert [(p.part, p.status_code) for p in priced] == [("012345", "W"), ("3E0042", None), ("00700", None)]
    assert failed == []


def test_parts_absent_from_the_answer_are_missing(ingram: IngramCatalog, router: respx.MockRouter) -> None:
    router.post(PNA_PATH).respond(200, json=[item("a1"), item("ZZ9"), "garbage"])
    priced, failed = ingram.price_and_availability(["A1", "B2"])
    assert [p.part for p in priced] == ["A1"]  # matched ignoring case, named as asked; ZZ9 was not asked for
    assert failed == [PartError("B2", "missing", "not in the answer")]


def test_an_item_that_cannot_be_read_is_a_part_error(ingram: IngramCatalog, router: respx.MockRouter) -> None:
    bad = item("A1", pricing={"customerPrice": "lots"})
    router.post(PNA_PATH).respond(200, json=[bad, item("B2")])
    priced, failed = ingram.price_and_availability(["A1", "B2"])
    assert [p.part for p in priced] == ["B2"]
    (error,) = failed
    assert (error.part, error.code) == ("A1", "unreadable") and "pricing.customerPrice" in error.message


def test_more_than_50_parts_are_refused_without_a_call(
    ingram: IngramCatalog, router: respx.MockRouter
) -> None:
    pna = router.post(PNA_PATH).respond(200, json=[])
    with pytest.raises(ValueError, match="at most 50"):
        ingram.price_and_availability([f"P{i}" for i in range(51)])
    with pytest.raises(ValueError):
        ingram.price_and_availability("123512")
    assert ingram.price_and_availability([]) == ([], [])
    assert pna.call_count == 0
    _, failed = ingram.price_and_availability([f"P{i}" for i in range(50)])
    assert pna.call_count == 1 and len(failed) == 50


def test_an_answer_that_is_not_a_list_is_transient(ingram: IngramCatalog, router: respx.MockRouter) -> None:
    router.post(PNA_PATH).respond(200, json={"products": []})
    with pytest.raises(errors.TransientError, match="not a list"):
        ingram.price_and_availability(["A1"])


# --- details ---


def test_the_contract_details_answer(ingram: IngramCatalog, router: respx.MockRouter) -> None:
    router.get(f"{DETAILS_PATH}5348387").respond(200, json=fixture("details_200"))
    found = ingram.details("5348387")
    assert isinstance(found, PartDetails)
    assert (found.part, found.category, found.subcategory, found.vendor) == (
        "5348387",
        "Computers Test Duplicate",
        "Notebooks & Tablets",
        "Lenovo",
    )
    assert found.description is not None and found.description.startswith("Lenovo ThinkBook 15 G2 ITL")
    assert len(found.technical_specifications) == len(fixture("details_200")["technicalSpecifications"])
    assert found.dimensions["productWeight"] == [{"plantId": "NL01", "weight": 2.6, "weightUnit": "KG"}]
    assert (found.dimensions["height"], found.dimensions["dimensionUnit"]) == ("8", "CM")


def test_details_fall_back_to_the_short_description(ingram: IngramCatalog, router: respx.MockRouter) -> None:
    router.get(f"{DETAILS_PATH}X").respond(
        200, json={"description": "SHORT", "productDetailDescription": None}
    )
    found = ingram.details("X")
    assert isinstance(found, PartDetails) and found.description == "SHORT"
    assert (found.technical_specifications, found.dimensions) == ([], {})


def test_details_of_an_unknown_part_are_a_part_error(ingram: IngramCatalog, router: respx.MockRouter) -> None:
    route = router.get(f"{DETAILS_PATH}NOPE").respond(404, json=fixture("details_404"))
    assert ingram.details("NOPE") == PartError("NOPE", "not-found", "No Records Found")
    assert route.call_count == 1


def test_details_quote_the_part_number(ingram: IngramCatalog, router: respx.MockRouter) -> None:
    route = router.get(url__regex=r".*/details/AB%2F12%20X$").respond(200, json={})
    assert isinstance(ingram.details("AB/12 X"), PartDetails)
    assert route.call_count == 1


# --- pacing ---


def test_each_endpoint_has_its_own_lane(
    router: respx.MockRouter, audit: ListAudit, clock: FakeTime, tokens: respx.Route
) -> None:
    asked: list[tuple[str, int]] = []
    paced: list[str] = []

    def lane_pacer(lane: str, per_min: int) -> Any:
        asked.append((lane, per_min))
        return lambda: paced.append(lane)

    router.post(PNA_PATH).respond(200, json=[])
    router.get(f"{DETAILS_PATH}X").respond(200, json={})
    settings = make_settings(ingram_pna_rate_per_min=90_001, ingram_details_rate_per_min=90_002)
    with connector(
        router, audit, clock, settings, lane_pacer=lane_pacer, pacer=lambda: paced.append("connection")
    ) as ingram:
        ingram.price_and_availability(["A"])
        ingram.details("X")
        ingram.details("X")
        lanes = ingram.http._lanes
        # Each paced for a budget counted in fixed minutes: a burst of 5 s of it, then the rest of the minute.
        assert (lanes["pna"].bucket.burst, lanes["pna"].bucket.rate_per_s) == (7500, (90_001 - 7500) / 60)
        assert lanes["details"].bucket.rate_per_s == (90_002 - 7500) / 60
    assert sorted(asked) == [("details", 90_002), ("pna", 90_001)]
    assert paced == ["connection", "pna", "details", "details"]  # the token call goes by the connection's


def test_the_run_wiring_gives_each_lane_its_prefect_limit() -> None:
    from sync_core.engine.connections import default_connection

    conn = default_connection(make_settings(), IngramCatalog)
    assert prefect_lane_pacer(conn, make_settings(use_prefect_rate_limits=False))("pna", 60) is None
    budget = prefect_lane_pacer(conn, make_settings(use_prefect_rate_limits=True))("pna", 60)
    assert budget is not None and requests_limit(budget.name) == "ingram-pna-requests"  # type: ignore[attr-defined]
