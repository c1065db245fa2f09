from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sync_core.sandbox import (
    SandboxConfig,
    SandboxState,
    compare_ingram_rows,
    ingram_oracle,
    running_sandbox,
    verify_ingram_table,
)
from sync_core.sandbox.ingram_catalogue import part_numbers, unknown_part_numbers
from sync_core.sandbox.ingram_oracle import ROW_FIELDS
from sync_core.sandbox.ingram_traffic import max_in_window
from sync_core.sandbox.server import banner, sandbox_settings
from tests.sandbox.helpers import INGRAM_DETAILS, INGRAM_PNA, INGRAM_TOKEN, IngramCaller

TOO_MANY = {"errors": [{"field": None, "message": "too many requests"}]}
PNA_PATH = INGRAM_PNA.split("?")[0]


def _error_fields(answer: httpx.Response) -> list[str]:
    (error,) = answer.json()["errors"]
    assert {"id", "type", "message"} <= set(error)
    return [f["field"] for f in error.get("fields", [])]


def _all_items(ingram: IngramCaller) -> list[dict[str, Any]]:
    parts = ingram.state.ingram_parts
    items: list[dict[str, Any]] = []
    for start in range(0, len(parts), 50):
        items += ingram.pna(parts[start : start + 50]).json()
    return items


# ----- token ---------------------------------------------------------------------------------------------
def test_token_by_form_post_or_query_get_expires_in_is_a_string(ingram: IngramCaller) -> None:
    posted = ingram.http.post(INGRAM_TOKEN, data=ingram.credentials())
    got = ingram.http.get(INGRAM_TOKEN, params=ingram.credentials())
    for answer in (posted, got):
        body = answer.json()
        assert answer.status_code == 200 and set(body) == {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "Bearer" and body["expires_in"] == "86399"
    assert posted.json()["access_token"] != got.json()["access_token"]
    assert ingram.state.ingram.tokens_issued == [posted.json()["access_token"], got.json()["access_token"]]


@pytest.mark.parametrize(
    ("form", "status", "field"),
    [
        ({"client_secret": "wrong"}, 401, None),
        ({"client_id": "someone-else"}, 401, None),
        ({"grant_type": "password"}, 400, "grant_type"),
    ],
)
def test_refused_token_calls_answer_the_error_body(
    ingram: IngramCaller, form: dict[str, str], status: int, field: str | None
) -> None:
    answer = ingram.http.post(INGRAM_TOKEN, data=ingram.credentials(**form))
    assert answer.status_code == status
    assert _error_fields(answer) == ([field] if field else [])
    assert ingram.state.ingram.tokens_issued == []


def test_an_expired_token_is_401_and_a_new_one_works(make_ingram) -> None:
    ingram = make_ingram(ingram_token_ttl_s=0.2)
    assert ingram.http.post(INGRAM_TOKEN, data=ingram.credentials()).json()["expires_in"] == "1"
    part = ingram.state.ingram_parts[0]
    assert ingram.pna([part]).status_code == 200
    time.sleep(0.25)
    assert ingram.pna([part]).status_code == 401
    ingram.token()
    assert ingram.details(part).status_code == 200


def test_tokens_can_claim_a_longer_life_or_be_expired_at_once(make_ingram) -> None:
    ingram = make_ingram(ingram_token_ttl_s=30, ingram_token_expires_in=86399)
    assert ingram.http.post(INGRAM_TOKEN, data=ingram.credentials()).json()["expires_in"] == "86399"
    part = ingram.state.ingram_parts[0]
    assert ingram.details(part).status_code == 200
    assert ingram.http.post("/_sandbox/ingram/expire-tokens").json() == {"expired": 2}
    denied = ingram.details(part)
    assert denied.status_code == 401 and _error_fields(denied) == []


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_catalog_calls_need_a_live_bearer_token(ingram: IngramCaller, authorization: str | None) -> None:
    part = ingram.state.ingram_parts[0]
    assert ingram.pna([part], Authorization=authorization).status_code == 401
    assert ingram.details(part, Authorization=authorization).status_code == 401


# ----- headers and query -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"IM-CustomerNumber": None}, "IM-CustomerNumber"),
        ({"IM-CustomerNumber": "12345678901"}, "IM-CustomerNumber"),
        ({"IM-CustomerNumber": "20-999999"}, "IM-CustomerNumber"),
        ({"IM-CountryCode": None}, "IM-CountryCode"),
        ({"IM-CountryCode": "USA"}, "IM-CountryCode"),
        ({"IM-CountryCode": "1A"}, "IM-CountryCode"),
        ({"IM-CorrelationID": None}, "IM-CorrelationID"),
        ({"IM-CorrelationID": " "}, "IM-CorrelationID"),
        ({"IM-CorrelationID": "c" * 33}, "IM-CorrelationID"),
        ({"IM-SenderID": "s" * 33}, "IM-SenderID"),
    ],
)
def test_a_wrong_header_is_400_naming_it(ingram: IngramCaller, headers: dict, field: str) -> None:
    part = ingram.state.ingram_parts[0]
    for answer in (ingram.pna([part], **headers), ingram.details(part, **headers)):
        assert answer.status_code == 400 and _error_fields(answer) == [field]


def test_country_code_in_either_case_sender_id_optional(ingram: IngramCaller) -> None:
    part = ingram.state.ingram_parts[0]
    assert ingram.pna([part], **{"IM-CountryCode": "us"}).status_code == 200
    assert ingram.pna([part], **{"IM-SenderID": "s" * 32, "IM-CorrelationID": "c" * 32}).status_code == 200
    assert ingram.state.stats()["ingram"]["country_codes"] == {"us": 1, "US": 1}


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("", ["includeAvailability", "includePricing"]),
        ("?includeAvailability=true", ["includePricing"]),
        ("?includePricing=true", ["includeAvailability"]),
        ("?includeAvailability=yes&includePricing=true", ["includeAvailability"]),
    ],
)
def test_both_query_parameters_are_required(ingram: IngramCaller, query: str, fields: list[str]) -> None:
    answer = ingram.pna([ingram.state.ingram_parts[0]], path=PNA_PATH + query)
    assert answer.status_code == 400 and _error_fields(answer) == fields


def test_false_flags_leave_out_pricing_or_availability(ingram: IngramCaller) -> None:
    part = ingram.state.ingram_parts[0]
    (no_price,) = ingram.pna([part], path=PNA_PATH + "?includeAvailability=true&includePricing=false").json()
    assert "pricing" not in no_price and "pricing" not in no_price["availability"]
    (no_stock,) = ingram.pna([part], path=PNA_PATH + "?includeAvailability=false&includePricing=true").json()
    assert "availability" not in no_stock and "pricing" in no_stock


@pytest.mark.parametrize(
    "body",
    [
        {"products": []},
        {"products": [{"ingramPartNumber": 12345}]},  # a part number turned into a number
        {"products": [{"vendorPartNumber": "E2016HV"}]},
        {"items": []},
        [],
    ],
)
def test_a_bad_body_is_400(ingram: IngramCaller, body: Any) -> None:
    answer = ingram.http.post(INGRAM_PNA, json=body, headers=ingram.headers())
    assert answer.status_code == 400 and len(_error_fields(answer)) == 1


def test_at_most_50_products_a_call(ingram: IngramCaller) -> None:
    parts = ingram.state.ingram_parts
    assert len(ingram.pna(parts[:50]).json()) == 50
    too_many = ingram.pna(parts[:51])
    assert too_many.status_code == 400 and _error_fields(too_many) == ["products"]


# ----- price and availability ----------------------------------------------------------------------------
def test_answer_is_a_bare_array_in_request_order_part_numbers_stay_strings(ingram: IngramCaller) -> None:
    parts = ingram.state.ingram_parts
    assert parts[:2] == ["012345", "3E0042"]
    asked = [parts[7], "012345", parts[3], "3E0042"]
    answer = ingram.pna(asked)
    assert answer.status_code == 200 and isinstance(answer.json(), list)
    assert [item["ingramPartNumber"] for item in answer.json()] == asked
    assert '"ingramPartNumber": "012345"' in answer.text or '"ingramPartNumber":"012345"' in answer.text
    for item in answer.json():
        assert item["availability"]["totalAvailability"] == sum(
            row.get("quantityAvailable", 0) for row in item["availability"]["availabilityByWarehouse"]
        )
        assert set(item["pricing"]) == {"currencyCode", "retailPrice", "mapPrice", "customerPrice"}


def test_unknown_parts_make_a_207_with_e_items_and_nested_pricing(ingram: IngramCaller) -> None:
    known = ingram.state.ingram_parts[:2]
    unknown = unknown_part_numbers(2)
    answer = ingram.pna([known[0], unknown[0], known[1], unknown[1], "3e0042"])
    assert answer.status_code == 207
    items = answer.json()
    assert [item["ingramPartNumber"] for item in items] == [
        known[0],
        unknown[0],
        known[1],
        unknown[1],
        "3e0042",
    ]
    for item in (items[1], items[3], items[4]):
        assert item == {
            "productStatusCode": "E",
            "productStatusMessage": f"Product not found for IngramPartNumber:  {item['ingramPartNumber']}",
            "ingramPartNumber": item["ingramPartNumber"],
        }
    for item in (items[0], items[2]):
        assert "pricing" not in item and "customerPrice" in item["availability"]["pricing"]
        assert item.get("productStatusCode") != "E"
    stats = ingram.state.stats()["ingram"]
    assert (stats["parts_asked"], stats["unknown_items"], stats["answers_207"]) == (5, 3, 1)


@pytest.mark.parametrize(("share", "nested"), [(0.0, {False}), (1.0, {True}), (0.5, {True, False})])
def test_nested_pricing_knob(make_ingram, share: float, nested: set[bool]) -> None:
    ingram = make_ingram(ingram_nested_pricing=share)
    part = ingram.state.ingram_parts[0]
    seen = {"pricing" in ingram.pna([part]).json()[0]["availability"] for _ in range(20)}
    assert seen == nested


def test_the_catalogue_carries_every_liberty_of_the_contract(make_ingram) -> None:
    items = _all_items(make_ingram(ingram_parts=300))
    assert {item.get("productStatusCode", "absent") for item in items} == {"W", None, "absent"}
    rows = [row for item in items for row in item["availability"]["availabilityByWarehouse"]]
    ids = {row["warehouseId"] for row in rows}
    assert 20 in ids and "20" in ids and "05" in ids and 5 not in ids
    assert any("quantityAvailable" not in row for row in rows)
    assert any("location" not in row for row in rows) and any(
        "quantityBackordered" not in row for row in rows
    )
    prices = [value for item in items for value in item["pricing"].values() if not isinstance(value, str)]
    assert any(isinstance(p, int) and p > 0 for p in prices) and any(isinstance(p, float) for p in prices)
    assert any(item["productAuthorized"] is False for item in items)
    assert any("productStatusMessage" not in item for item in items)


# ----- details -------------------------------------------------------------------------------------------
def test_details_of_known_and_unknown_parts(make_ingram) -> None:
    ingram = make_ingram(ingram_parts=60)
    bodies = [ingram.details(part).json() for part in ingram.state.ingram_parts]
    first = bodies[0]
    assert first["ingramPartNumber"] == "012345" and first["productAuthorized"] in ("True", "False")
    for key in (
        "productCategory",
        "productSubcategory",
        "vendorName",
        "technicalSpecifications",
        "indicators",
    ):
        assert key in first
    info = first["additionalInformation"]
    assert {"productWeight", "height", "width", "length"} <= set(info)
    kinds = {
        "absent" if "productDetailDescription" not in b else b["productDetailDescription"] is None
        for b in bodies
    }
    assert kinds == {"absent", True, False}
    assert ingram.details("012345").json() == first  # the same answer on every call
    missing = ingram.details("ZZ0000")
    assert missing.status_code == 404 and missing.json()["errors"][0]["message"] == "No Records Found"


# ----- shaping knobs ---------------------------------------------------------------------------------------
def test_per_endpoint_rate_limit_answers_429_with_reset_and_retry_after(make_ingram) -> None:
    ingram = make_ingram(ingram_pna_rate_per_min=2, ingram_details_rate_per_min=1)
    part = ingram.state.ingram_parts[0]
    answers = [ingram.pna([part]) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    throttled = answers[2]
    assert throttled.json() == TOO_MANY and throttled.headers["X-RateLimit-Limit"] == "2"
    reset = int(throttled.headers["X-RateLimit-Reset"])
    assert time.time() + 55 < reset <= time.time() + 61  # the window's end, in epoch seconds
    assert 55 <= int(throttled.headers["Retry-After"]) <= 60
    assert int(answers[0].headers["X-RateLimit-Reset"]) == reset
    assert [ingram.details(part).status_code for _ in range(2)] == [200, 429]  # a budget of its own
    assert ingram.http.post(INGRAM_TOKEN, data=ingram.credentials()).status_code == 200  # unlimited
    stats = ingram.state.stats()
    assert stats["ingram"]["pna"]["throttled_429"] == 1 and stats["ingram"]["details"]["throttled_429"] == 1
    assert stats["throttled_429"] == 2
    ingram.http.post("/_sandbox/faults", json={"ingram_pna_rate_per_min": 0})
    assert ingram.pna([part]).status_code == 200


def test_token_calls_have_their_own_limit(make_ingram) -> None:
    ingram = make_ingram(ingram_token_rate_per_min=1)
    assert ingram.http.post(INGRAM_TOKEN, data=ingram.credentials()).status_code == 200
    throttled = ingram.http.post(INGRAM_TOKEN, data=ingram.credentials())
    assert throttled.status_code == 429 and throttled.json() == TOO_MANY
    assert ingram.state.stats()["ingram"]["token"]["throttled_429"] == 1


def test_429_bursts_carry_the_rate_limit_headers(make_ingram) -> None:
    ingram = make_ingram(burst_429_every=2, burst_429_length=1)
    ingram.token()  # the token call is the burst cycle's first served request
    part = ingram.state.ingram_parts[0]
    answers = [ingram.pna([part]) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 429, 200, 200, 429]
    for throttled in (answers[1], answers[4]):
        assert throttled.json() == TOO_MANY and throttled.headers["X-RateLimit-Remaining"] == "0"
        assert throttled.headers["X-RateLimit-Limit"] == "60"
        assert 0 < int(throttled.headers["X-RateLimit-Reset"]) - time.time() <= 2.5
        assert "Retry-After" in throttled.headers


def test_faults_answer_the_error_body_and_503_says_maintenance(make_ingram) -> None:
    ingram = make_ingram()
    ingram.token()
    ingram.state.configure(fault_rate=1.0)
    part = ingram.state.ingram_parts[0]
    answers = [ingram.pna([part]) for _ in range(30)]
    assert {a.status_code for a in answers} == {500, 502, 503}
    for answer in answers:
        message = answer.json()["errors"][0]["message"]
        assert ("maintenance" in message) == (answer.status_code == 503)
    assert ingram.state.stats()["faults_injected"] == 30


def test_maintenance_window_answers_503_until_it_ends(make_ingram) -> None:
    ingram = make_ingram()
    ingram.token()
    part = ingram.state.ingram_parts[0]
    ingram.http.post("/_sandbox/faults", json={"ingram_maintenance_s": 30})
    for answer in (
        ingram.pna([part]),
        ingram.details(part),
        ingram.http.post(INGRAM_TOKEN, data=ingram.credentials()),
    ):
        assert answer.status_code == 503 and "maintenance" in answer.json()["errors"][0]["message"]
    ingram.http.post("/_sandbox/faults", json={"ingram_maintenance_s": 0})
    assert ingram.pna([part]).status_code == 200
    assert make_ingram(ingram_maintenance_s=30).http.get(INGRAM_TOKEN).status_code == 503


def test_latency_applies_to_ingram_calls(make_ingram) -> None:
    ingram = make_ingram(latency_ms=120)
    started = time.perf_counter()
    ingram.token()
    assert time.perf_counter() - started >= 0.12


def test_max_in_flight_counts_concurrent_pna_calls(make_ingram) -> None:
    ingram = make_ingram(latency_ms=300)
    ingram.token()
    part = ingram.state.ingram_parts[0]
    statuses: list[int] = []
    workers = [
        threading.Thread(target=lambda: statuses.append(ingram.pna([part]).status_code)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert statuses == [200] * 4
    pna = ingram.state.stats()["ingram"]["pna"]
    assert (pna["max_in_flight"], pna["in_flight"], pna["calls"]) == (4, 0, 4)
    ingram.state.reset_stats()
    ingram.state.configure(latency_ms=0)
    ingram.pna([part])
    ingram.pna([part])
    assert ingram.state.stats()["ingram"]["pna"]["max_in_flight"] == 1


def test_calls_a_minute_count_every_arrival_and_served_ones_apart() -> None:
    assert max_in_window([0, 10, 59.9, 60, 61, 130]) == 4  # 0..59.9 is 3; 10..61 is 4
    assert max_in_window([]) == 0 and max_in_window([5, 5, 5]) == 3


def test_per_minute_stats_over_http(make_ingram) -> None:
    ingram = make_ingram(ingram_details_rate_per_min=3)
    part = ingram.state.ingram_parts[0]
    assert [ingram.details(part).status_code for _ in range(5)] == [200, 200, 200, 429, 429]
    details = ingram.http.get("/_sandbox/stats").json()["ingram"]["details"]
    assert (details["calls"], details["max_per_minute"], details["max_per_minute_served"]) == (5, 5, 3)
    assert details["statuses"] == {"200": 3, "429": 2}
    stats = ingram.state.stats()
    assert stats["requests"]["ingram GET /resellers/v6/catalog/details/{part}"] == 5
    assert stats["requests"]["ingram POST /oauth/oauth20/token"] == 1


def test_correlation_ids_are_recorded_per_attempt(ingram: IngramCaller) -> None:
    part = ingram.state.ingram_parts[0]
    ingram.token()  # token calls carry no correlation id
    ingram.state.configure(fault_rate=1.0)
    assert ingram.pna([part], **{"IM-CorrelationID": "same"}).status_code >= 500
    ingram.state.configure(fault_rate=0)
    assert ingram.pna([part], **{"IM-CorrelationID": "same"}).status_code == 200  # a retry reusing its id
    ingram.details(part, **{"IM-CorrelationID": "other"})
    stats = ingram.state.stats()["ingram"]
    assert (stats["correlation_ids"], stats["correlation_ids_distinct"]) == (3, 2)
    ids = ingram.http.get("/_sandbox/ingram/correlation-ids").json()["correlation_ids"]
    assert ids == ingram.state.ingram.traffic.correlation_ids == ["same", "same", "other"]
    ingram.state.reset_stats()
    assert ingram.state.stats()["ingram"]["correlation_ids"] == 0


def test_runtime_knobs_are_checked(ingram: IngramCaller) -> None:
    knobs = ingram.http.post(
        "/_sandbox/faults", json={"ingram_nested_pricing": 1, "ingram_token_ttl_s": 5}
    ).json()
    assert knobs["ingram_nested_pricing"] == 1 and knobs["ingram_token_ttl_s"] == 5
    for bad in (
        {"ingram_nested_pricing": 2},
        {"ingram_token_ttl_s": 0},
        {"ingram_pna_rate_per_min": 1.5},
        {"ingram_token_expires_in": -1},
        {"ingram_parts": 5},
    ):
        assert ingram.http.post("/_sandbox/faults", json=bad).status_code == 400, bad
    for bad_config in (
        {"ingram_customer_number": "12345678901"},
        {"ingram_parts": -1},
        {"ingram_client_secret": ""},
    ):
        with pytest.raises(ValueError):
            SandboxConfig(**bad_config)


# ----- parts, changes, generation ----------------------------------------------------------------------------
def test_part_numbers_are_distinct_six_character_strings_of_every_shape() -> None:
    parts = part_numbers(5000, seed=3)
    assert parts == part_numbers(5000, seed=3) != part_numbers(5000, seed=4)
    assert len(set(parts)) == 5000
    assert all(len(p) == 6 and p.isalnum() and (p.isupper() or p.isdigit()) for p in parts)
    assert any(p.startswith("0") and p.isdigit() for p in parts)
    assert any(p[0].isdigit() and p[1].isalpha() for p in parts) and any(p[:2].isalpha() for p in parts)
    assert not set(unknown_part_numbers(50)) & set(parts)


def test_a_large_catalogue_is_generated_quickly() -> None:
    started = time.perf_counter()
    state = SandboxState(SandboxConfig(products=1, variants=1, ingram_parts=100_000))
    assert time.perf_counter() - started < 2.0 and len(state.ingram_parts) == 100_000


def test_parts_listing_in_process_and_over_http(ingram: IngramCaller) -> None:
    listing = ingram.http.get("/_sandbox/ingram/parts", params={"unknown": 3}).json()
    assert listing["parts"] == ingram.state.ingram_parts and len(listing["parts"]) == 120
    assert len(listing["unknown"]) == 3 and not set(listing["unknown"]) & set(listing["parts"])
    assert ingram.pna(listing["unknown"]).status_code == 207


def test_changes_are_seeded_and_visible_in_the_answers_and_the_oracle(make_ingram) -> None:
    a, b = make_ingram(), make_ingram()
    parts = a.state.ingram_parts
    before = ingram_oracle(a.state, parts, details=False)
    answers_before = a.pna(parts[:50]).json()
    changed = a.http.post("/_sandbox/ingram/change", json={"parts": 10, "seed": 4}).json()
    assert changed["count"] == 10 == len(set(changed["changed"]))
    assert b.state.change_ingram(10, seed=4) == changed["changed"]
    after = ingram_oracle(a.state, parts, details=False)
    assert {p for p in parts if before[p] != after[p]} == set(changed["changed"])
    assert after == ingram_oracle(b.state, parts, details=False)
    touched = [i for i, p in enumerate(parts[:50]) if p in changed["changed"]]
    answers_after = a.pna(parts[:50]).json()
    assert all((answers_before[i] != answers_after[i]) == (i in touched) for i in range(50))
    assert a.state.stats()["ingram"]["changes"] == 10
    assert len(a.state.change_ingram(10**6)) == 120


# ----- the oracle ------------------------------------------------------------------------------------------
def _consumed_row(item: dict[str, Any], details: dict[str, Any] | None) -> dict[str, Any]:
    """A minimal consumer written from the contract alone, to hold the oracle against what is served."""
    stock = item.get("availability") or {}
    pricing = item.get("pricing") or stock.get("pricing") or {}
    row = {
        "ingram_part_number": item["ingramPartNumber"],
        "vendor_part_number": item.get("vendorPartNumber"),
        "upc": item.get("upc"),
        "description": item.get("description"),
        "status_code": item.get("productStatusCode"),
        "status_message": item.get("productStatusMessage"),
        "authorized": item.get("productAuthorized"),
        "currency": pricing.get("currencyCode"),
        "customer_price": pricing.get("customerPrice"),
        "retail_price": pricing.get("retailPrice"),
        "map_price": pricing.get("mapPrice"),
        "total_availability": stock.get("totalAvailability"),
        "availability_by_warehouse": [
            {
                "warehouse_id": str(w["warehouseId"]),
                "location": w.get("location"),
                "quantity_available": w.get("quantityAvailable", 0),
                "quantity_backordered": w.get("quantityBackordered", 0),
            }
            for w in stock.get("availabilityByWarehouse", [])
        ],
        "details": None,
    }
    if details is not None:
        row["details"] = {
            "category": details.get("productCategory"),
            "subcategory": details.get("productSubcategory"),
            "vendor": details.get("vendorName"),
            "description": details.get("productDetailDescription") or details.get("description"),
            "technical_specifications": details.get("technicalSpecifications", []),
            "dimensions": details.get("additionalInformation", {}),
        }
    return row


def test_oracle_rows_match_what_the_simulator_serves(make_ingram) -> None:
    ingram = make_ingram(ingram_parts=150, ingram_nested_pricing=0.5)
    parts = ingram.state.ingram_parts
    asked = [*parts, *unknown_part_numbers(4)]
    rows = []
    for start in range(0, len(asked), 50):
        items = json.loads(ingram.pna(asked[start : start + 50]).content, parse_float=Decimal)
        for item in items:
            if item.get("productStatusCode") != "E":
                details = json.loads(ingram.details(item["ingramPartNumber"]).content, parse_float=Decimal)
                rows.append(_consumed_row(item, details))
    report = verify_ingram_table(ingram.state, rows, asked, details=True)
    assert report.ok and report.correct == 150, report.to_json()


def test_oracle_shape(ingram: IngramCaller) -> None:
    parts = ingram.state.ingram_parts[:30]
    oracle = ingram_oracle(ingram.state, [*parts, "ZZ0000"], details=False)
    assert list(oracle) == parts  # unknown parts have no row
    for part, row in oracle.items():
        assert tuple(row) == ROW_FIELDS and row["ingram_part_number"] == part and row["details"] is None
        assert all(isinstance(row[k], Decimal) for k in ("customer_price", "retail_price", "map_price"))
        assert row["status_code"] in ("W", None) and isinstance(row["total_availability"], int)
        for w in row["availability_by_warehouse"]:
            assert isinstance(w["warehouse_id"], str) and isinstance(w["quantity_available"], int)
    assert any(w["warehouse_id"] == "05" for r in oracle.values() for w in r["availability_by_warehouse"])
    with_details = ingram_oracle(ingram.state, parts, details=True)
    assert set(with_details[parts[0]]["details"]) == {
        "category",
        "subcategory",
        "vendor",
        "description",
        "technical_specifications",
        "dimensions",
    }
    served = ingram.http.post("/_sandbox/ingram/oracle", json={"parts": parts[:2], "details": False}).json()
    assert served["rows"][parts[0]]["customer_price"] == str(oracle[parts[0]]["customer_price"])


def test_compare_reports_wrong_missing_and_unexpected_rows(ingram: IngramCaller) -> None:
    parts = ingram.state.ingram_parts[:4]
    expected = ingram_oracle(ingram.state, parts, details=False)
    rows = [dict(expected[p]) for p in parts[:3]]
    rows[0]["customer_price"] = rows[0]["customer_price"].quantize(Decimal("0.0001"))  # Numeric(…, 4): equal
    rows[0]["prices_fetched_at"] = "ignored"
    rows[1]["total_availability"] += 1
    rows.append({**expected[parts[0]], "ingram_part_number": "ZZ0000"})
    report = compare_ingram_rows(expected, rows)
    assert not report.ok and report.correct == 2
    assert [(part, column) for part, column, _, _ in report.wrong] == [(parts[1], "total_availability")]
    assert report.missing == [parts[3]] and report.unexpected == ["ZZ0000"]
    assert report.to_json()["wrong_count"] == 1


# ----- mounting ---------------------------------------------------------------------------------------------
def test_settings_banner_and_a_served_sandbox() -> None:
    config = SandboxConfig(products=2, variants=1, ingram_parts=10)
    settings = sandbox_settings("http://h:1", config)
    assert settings["ingram_base"] == "http://h:1/ingram" and settings["ingram_country_code"] == "US"
    assert (settings["ingram_client_id"], settings["ingram_customer_number"]) == (
        "sandbox-client",
        "20-222222",
    )
    assert "INGRAM_BASE=http://h:1/ingram" in banner("http://h:1", config)
    with running_sandbox(config) as sb:
        assert sb.ingram_base == sb.settings()["ingram_base"]
        token = httpx.post(
            sb.ingram_base + "/oauth/oauth20/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "sandbox-client",
                "client_secret": "sandbox-client-secret",
            },
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "IM-CustomerNumber": "20-222222",
            "IM-CountryCode": "US",
            "IM-CorrelationID": "served-1",
        }
        answer = httpx.post(
            sb.ingram_base + INGRAM_PNA.removeprefix("/ingram"),
            headers=headers,
            json={"products": [{"ingramPartNumber": "3E0042"}]},
        )
        assert answer.status_code == 200 and answer.json()[0]["ingramPartNumber"] == "3E0042"
        assert (
            httpx.get(
                sb.ingram_base + INGRAM_DETAILS.removeprefix("/ingram") + "012345", headers=headers
            ).status_code
            == 200
        )
