from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from sync_core.sandbox import SandboxHandle
from sync_core.sandbox.catalogue import product_key


def _anar(sb: SandboxHandle) -> httpx.Client:
    return httpx.Client(base_url=sb.anar360_base, headers={"Authorization": f"Bearer {sb.anar360_token}"})


def test_rate_limit_answers_429_with_retry_after_seconds(make_sandbox) -> None:
    sb = make_sandbox(rate_limit=0.5)  # a one-token bucket refilled every 2 s: timing-proof
    with _anar(sb) as anar, httpx.Client(base_url=sb.sazito_base) as sazito:
        assert anar.get("/auth/validate").status_code == 200
        assert sazito.get("/products").status_code == 200  # each API has a budget of its own
        throttled = sazito.get("/products")
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 2
        assert throttled.json()["status"] == 429 and throttled.json()["error_code"] == 429
        assert anar.get("/auth/validate").json()["statusCode"] == 429
        assert sb.state.stats()["throttled_429"] == 2
        sb.state.configure(rate_limit=1000)
        assert anar.get("/auth/validate").status_code == 200


def test_429_bursts_alternate_seconds_and_http_date(make_sandbox) -> None:
    sb = make_sandbox(burst_429_every=3, burst_429_length=2)
    with _anar(sb) as anar:
        answers = [anar.get("/auth/validate") for _ in range(10)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429] * 2
    retry_afters = [r.headers["Retry-After"] for r in answers if r.status_code == 429]
    assert retry_afters[0] == "1" and retry_afters[2] == "1"
    for value in retry_afters[1::2]:
        delay = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        assert 0 < delay <= 2.1
    assert answers[3].json() == {"statusCode": 429, "success": False, "error": "Too Many Requests"}
    assert sb.state.stats()["throttled_429"] == 4


def _fault_run(sb: SandboxHandle) -> list[int]:
    with _anar(sb) as anar:
        return [anar.get("/products", params={"limit": 1}).status_code for _ in range(40)]


def test_faults_are_seeded_and_reproducible(make_sandbox) -> None:
    first = _fault_run(make_sandbox(fault_rate=0.3, seed=11))
    again = _fault_run(make_sandbox(fault_rate=0.3, seed=11))
    other = _fault_run(make_sandbox(fault_rate=0.3, seed=12))
    assert first == again != other
    assert set(first) <= {200, 500, 502, 503} and 200 in first and len(set(first)) > 2


def test_fault_counts_and_admin_is_never_shaped(make_sandbox) -> None:
    sb = make_sandbox(fault_rate=1.0, rate_limit=1)
    with _anar(sb) as anar:
        assert anar.get("/auth/validate").status_code in (500, 502, 503)
    with httpx.Client(base_url=sb.url + "/_sandbox") as admin:
        for _ in range(5):
            assert admin.get("/stats").status_code == 200
        stats = admin.get("/stats").json()
    assert stats["faults_injected"] == 1 and stats["requests_total"] == 1


def test_latency_is_added(make_sandbox) -> None:
    sb = make_sandbox(latency_ms=150)
    with _anar(sb) as anar:
        anar.get("/auth/validate")
        started = time.perf_counter()
        anar.get("/auth/validate")
        assert time.perf_counter() - started >= 0.15


def test_knobs_change_at_run_time(sandbox: SandboxHandle, admin: httpx.Client, anar: httpx.Client) -> None:
    assert admin.post("/faults", json={"fault_rate": 1.0}).json()["fault_rate"] == 1.0
    assert anar.get("/auth/validate").status_code >= 500
    admin.post("/faults", json={"fault_rate": 0, "burst_429_every": 1, "burst_429_length": 1})
    assert [anar.get("/auth/validate").status_code for _ in range(4)] == [200, 429, 200, 429]
    admin.post("/faults", json={"burst_429_every": 0, "latency_ms": 0, "envelope": "bare"})
    assert admin.get("/knobs").json()["envelope"] == "bare"
    for bad in ({"nope": 1}, {"fault_rate": 2}, {"envelope": "odd"}, {"burst_429_every": "3"}, [1]):
        assert admin.post("/faults", json=bad).status_code == 400, bad


def test_requests_are_counted_by_route_template(
    sandbox: SandboxHandle, anar: httpx.Client, sazito: httpx.Client
) -> None:
    anar.get("/products")
    anar.get("/products", headers={"Authorization": "Bearer nope"})
    product_id = product_key(sandbox.state.catalogue.supplier_products[0])
    anar.get(f"/products/{product_id}")
    sazito.put("/accounting/update-price/1", json={"price": 1, "discount_price": None})
    sazito.put("/accounting/update-price/2", json={"price": 1, "discount_price": None})
    stats = sandbox.state.stats()
    assert stats["requests"] == {
        "anar360 GET /products": 2,
        "anar360 GET /products/{product_id}": 1,
        "sazito PUT /accounting/update-price/{variant_id}": 2,
    }
    assert stats["requests_total"] == 5
    assert stats["statuses"] == {"200": 2, "403": 1, "404": 2}
