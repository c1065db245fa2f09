"""HttpClient: error translation, tenacity retries, Retry-After, circuit integration, pacing hook, audit."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

from sync_core import errors
from sync_core.http.client import (
    HttpClient,
    MemoryBreakerStore,
    ReadBounds,
    RequestRecord,
    TokenBucket,
    error_class,
    parse_retry_after,
    redact_url,
)
from sync_core.http.pacing import shared_bucket
from sync_core.http.redaction import Secrets
from sync_core.http.responses import parse_rate_limit_reset
from sync_core.settings import Settings

BASE = "https://api.test/v1"
TOKEN = "tok-Very-Secret-123"


class ListAudit:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def record(self, rec: RequestRecord) -> None:
        self.records.append(rec)


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        anar360_base=BASE,
        anar360_token=TOKEN,
        sazito_base=BASE,
        sazito_key="key-abc-123",
        _env_file=None,
        http_retries=3,
        http_retry_backoff_ms=100,
        http_retry_max_wait_s=30.0,
        circuit_failure_threshold=100,
        rate_limit_per_min=100_000,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE, assert_all_called=False)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


def client(
    router: respx.MockRouter, sleeps: list[float], audit: ListAudit | None = None, **kw: Any
) -> HttpClient:
    settings = kw.pop("settings", None) or make_settings()
    return HttpClient(
        "anar360",
        BASE,
        settings,
        rate_limit_per_min=100_000,
        headers={"Authorization": f"Bearer {TOKEN}"},
        transport=httpx.MockTransport(router.handler),
        audit=audit,
        sleep=sleeps.append,
        bucket=TokenBucket(1_000_000),
        **kw,
    )


# --- Retry-After ---


def test_retry_after_seconds() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0


def test_retry_after_http_date() -> None:
    now = datetime(2025, 11, 20, 9, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30.0)
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0


@pytest.mark.parametrize("garbage", [None, "", "soon", "-5", "nan", "inf", "Thu, 99 Foo 2025"])
def test_retry_after_garbage_is_none(garbage: str | None) -> None:
    assert parse_retry_after(garbage) is None


# --- classification ---


PERMANENT_STATUSES = [
    (400, errors.InvalidRequest),
    (401, errors.AuthError),
    (403, errors.AuthError),
    (404, errors.NotFound),
    (409, errors.InvalidRequest),
    (422, errors.InvalidRequest),
    (418, errors.PermanentError),
]
TRANSIENT_STATUSES = [(429, errors.RateLimited), (500, errors.TransientError), (503, errors.TransientError)]


@pytest.mark.parametrize(("status", "cls"), PERMANENT_STATUSES + TRANSIENT_STATUSES)
def test_error_class(status: int, cls: type[errors.ConnectorError]) -> None:
    assert error_class(status) is cls


@pytest.mark.parametrize(("status", "cls"), PERMANENT_STATUSES)
def test_permanent_statuses_raise_once_without_retry(
    router: respx.MockRouter, sleeps: list[float], status: int, cls: type[errors.ConnectorError]
) -> None:
    route = router.get("/products").respond(status, json={"error": "nope"})
    with client(router, sleeps) as http, pytest.raises(cls) as info:
        http.request("GET", "/products", params={"page": 2})
    exc = info.value
    assert type(exc) is cls
    assert route.call_count == 1 and sleeps == []
    assert exc.provider == "anar360" and exc.status == status and exc.correlation_id
    message = str(exc)
    assert (
        "anar360" in message and "GET /products" in message and str(status) in message and "\n" not in message
    )
    assert "nope" in message


def test_2xx_is_returned(router: respx.MockRouter, sleeps: list[float]) -> None:
    router.get("/ping").respond(204)
    with client(router, sleeps) as http:
        assert http.request("GET", "/ping").status_code == 204


# --- retries ---


def test_5xx_retried_then_success(router: respx.MockRouter, sleeps: list[float]) -> None:
    route = router.get("/products").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json={"ok": True})]
    )
    with client(router, sleeps) as http:
        assert http.get_json("/products") == {"ok": True}
    assert route.call_count == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2  # full jitter under 100 ms, then 200 ms


def test_retries_are_bounded(router: respx.MockRouter, sleeps: list[float]) -> None:
    route = router.get("/products").respond(500)
    with (
        client(router, sleeps, settings=make_settings(http_retries=2)) as http,
        pytest.raises(errors.TransientError, match="after 3 attempts"),
    ):
        http.request("GET", "/products")
    assert route.call_count == 3 and len(sleeps) == 2


def test_backoff_is_capped(router: respx.MockRouter, sleeps: list[float]) -> None:
    router.get("/x").respond(500)
    settings = make_settings(http_retries=6, http_retry_backoff_ms=10_000, http_retry_max_wait_s=1.5)
    with client(router, sleeps, settings=settings) as http, pytest.raises(errors.TransientError):
        http.request("GET", "/x")
    assert len(sleeps) == 6 and max(sleeps) <= 1.5


def test_429_honours_retry_after(router: respx.MockRouter, sleeps: list[float]) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    route = router.get("/products").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=[])]
    )
    with client(router, sleeps, events=lambda kind, data: events.append((kind, data))) as http:
        http.request("GET", "/products")
    assert route.call_count == 2
    assert len(sleeps) == 1 and 7.0 <= sleeps[0] <= 7.7
    assert events == [("rate_limited", {"provider": "anar360", "retry_after": 7.0})]


def test_429_http_date_and_cap(router: respx.MockRouter, sleeps: list[float]) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    router.get("/products").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": later}), httpx.Response(200)]
    )
    with client(router, sleeps, settings=make_settings(http_retry_max_wait_s=12)) as http:
        http.request("GET", "/products")
    assert sleeps == [12.0]


def test_429_exhausted_raises_rate_limited(router: respx.MockRouter, sleeps: list[float]) -> None:
    router.get("/products").respond(429, headers={"Retry-After": "2"})
    with (
        client(router, sleeps, settings=make_settings(http_retries=1)) as http,
        pytest.raises(errors.RateLimited) as info,
    ):
        http.request("GET", "/products")
    assert info.value.retry_after == 2.0 and info.value.status == 429


def test_429_without_retry_after_uses_backoff(router: respx.MockRouter, sleeps: list[float]) -> None:
    router.get("/p").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "garbage"}), httpx.Response(200)]
    )
    with client(router, sleeps) as http:
        http.request("GET", "/p")
    assert len(sleeps) == 1 and sleeps[0] <= 0.1


def test_timeouts_retried_then_transient(
    router: respx.MockRouter, sleeps: list[float], audit: ListAudit
) -> None:
    route = router.get("/products").mock(side_effect=httpx.ReadTimeout("read timed out"))
    with (
        client(router, sleeps, audit) as http,
        pytest.raises(errors.TransientError, match="timed out") as info,
    ):
        http.request("GET", "/products")
    assert route.call_count == 4
    assert [r.outcome for r in audit.records] == ["retry", "retry", "retry", "timeout"]
    assert info.value.status is None and info.value.correlation_id == audit.records[0].correlation_id


def test_timeout_then_success(router: respx.MockRouter, sleeps: list[float]) -> None:
    route = router.get("/p").mock(side_effect=[httpx.ConnectTimeout("slow"), httpx.Response(200)])
    with client(router, sleeps) as http:
        assert http.request("GET", "/p").status_code == 200
    assert route.call_count == 2


def test_connect_error_message(router: respx.MockRouter, sleeps: list[float]) -> None:
    router.get("/products").mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    with client(router, sleeps) as http, pytest.raises(errors.TransientError) as info:
        http.request("GET", "/products")
    assert str(info.value) == "anar360: cannot reach https://api.test (connection refused) after 4 attempts"


def test_unreachable_base_url_real_socket() -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, then closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with (
        HttpClient(
            "anar360", base, make_settings(http_retries=1), rate_limit_per_min=100_000, sleep=lambda s: None
        ) as http,
        pytest.raises(errors.TransientError) as info,
    ):
        http.request("GET", "/products")
    assert str(info.value) == f"anar360: cannot reach {base} (connection refused) after 2 attempts"


def test_reset_connection_is_transient(router: respx.MockRouter, sleeps: list[float]) -> None:
    router.get("/p").mock(side_effect=[httpx.ReadError("Connection reset by peer"), httpx.Response(200)])
    with client(router, sleeps) as http:
        assert http.request("GET", "/p").status_code == 200


def test_post_not_resent_after_5xx_but_resent_after_connect_error(
    router: respx.MockRouter, sleeps: list[float]
) -> None:
    route = router.post("/orders").respond(503)
    with client(router, sleeps) as http, pytest.raises(errors.TransientError):
        http.request("POST", "/orders", json={"a": 1})
    assert route.call_count == 1
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(201)]
    with client(router, sleeps) as http:
        assert http.request("POST", "/orders", json={"a": 1}).status_code == 201


def test_non_json_body(router: respx.MockRouter, sleeps: list[float]) -> None:
    router.get("/products").respond(200, text="<html>maintenance</html>")
    with client(router, sleeps) as http, pytest.raises(errors.TransientError, match="not JSON"):
        http.get_json("/products")


# --- circuit, pacing ---


def test_circuit_opens_and_blocks_without_calling(
    router: respx.MockRouter, sleeps: list[float], audit: ListAudit
) -> None:
    events: list[str] = []
    route = router.get("/p").respond(503)
    settings = make_settings(http_retries=0, circuit_failure_threshold=2)
    with client(router, sleeps, audit, settings=settings, events=lambda k, d: events.append(k)) as http:
        for _ in range(2):
            with pytest.raises(errors.TransientError):
                http.request("GET", "/p")
        # The open circuit names the failure that opened it, not itself.
        with pytest.raises(
            errors.CircuitOpenError,
            match=r"^anar360: GET /p failed \(HTTP 503\) \(2 failures in a row; no call made: calls to "
            r"anar360 at https://api.test:443 are paused until .*\)$",
        ) as info:
            http.request("GET", "/p")
    assert route.call_count == 2
    assert events == ["circuit_opened"]
    assert audit.records[-1].outcome == "circuit_open" and audit.records[-1].status is None
    assert info.value.correlation_id == audit.records[-1].correlation_id


def test_a_circuit_belongs_to_one_address_so_a_corrected_url_is_called_at_once(
    sleeps: list[float], audit: ListAudit
) -> None:
    store, settings = MemoryBreakerStore(), make_settings(http_retries=0, circuit_failure_threshold=1)
    down, up = respx.MockRouter(), respx.MockRouter()
    down.get("https://closed.test/v1/p").mock(
        side_effect=httpx.ConnectError("[Errno 111] Connection refused")
    )
    up.get("https://api.test/v1/p").respond(200, json={})
    wrong = HttpClient(
        "anar360",
        "https://closed.test/v1",
        settings,
        rate_limit_per_min=100_000,
        transport=httpx.MockTransport(down.handler),
        breaker_store=store,
        sleep=sleeps.append,
    )
    with wrong, pytest.raises(errors.TransientError, match="cannot reach https://closed.test"):
        wrong.request("GET", "/p")
    with (
        wrong,
        pytest.raises(errors.CircuitOpenError, match=r"cannot reach https://closed.test.*connection refused"),
    ):
        wrong.request("GET", "/p")
    right = HttpClient(
        "anar360",
        BASE,
        settings,
        rate_limit_per_min=100_000,
        transport=httpx.MockTransport(up.handler),
        breaker_store=store,
        sleep=sleeps.append,
    )
    with right:
        assert right.request("GET", "/p").status_code == 200
    assert store.load("anar360", "https://closed.test:443").state == "open"


def test_circuit_open_is_not_retried_mid_call(router: respx.MockRouter, sleeps: list[float]) -> None:
    route = router.get("/p").respond(500)
    settings = make_settings(http_retries=5, circuit_failure_threshold=2)
    with client(router, sleeps, settings=settings) as http, pytest.raises(errors.CircuitOpenError):
        http.request("GET", "/p")
    assert route.call_count == 2


@pytest.mark.parametrize("status", [404, 422, 409, 429])
def test_statuses_not_counted_by_circuit(router: respx.MockRouter, sleeps: list[float], status: int) -> None:
    router.get("/p").respond(status)
    settings = make_settings(http_retries=0, circuit_failure_threshold=1)
    with client(router, sleeps, settings=settings) as http:
        for _ in range(3):
            with pytest.raises(errors.ConnectorError) as info:
                http.request("GET", "/p")
            assert not isinstance(info.value, errors.CircuitOpenError)
        assert http.breaker.state.state == "closed"


def test_auth_errors_are_counted(router: respx.MockRouter, sleeps: list[float]) -> None:
    router.get("/p").respond(401)
    store = MemoryBreakerStore()
    settings = make_settings(circuit_failure_threshold=2)
    with client(router, sleeps, settings=settings, breaker_store=store) as http:
        for _ in range(2):
            with pytest.raises(errors.AuthError):
                http.request("GET", "/p")
        with pytest.raises(errors.CircuitOpenError):
            http.request("GET", "/p")
    assert store.load("anar360", "https://api.test:443").state == "open"


def test_two_connections_of_one_provider_keep_their_own_circuit_and_budget(
    sleeps: list[float], audit: ListAudit
) -> None:
    """Two stores of one provider at different addresses: one failing opens its circuit only, and each
    paces by its own bucket, at its own rate."""
    store, settings = MemoryBreakerStore(), make_settings(http_retries=0, circuit_failure_threshold=2)
    router = respx.MockRouter()
    down = router.get("https://store-a.test/api/v1/p").respond(503)
    up = router.get("https://store-b.test/api/v1/p").respond(200, json={})
    transport = httpx.MockTransport(router.handler)
    wiring: dict[str, Any] = dict(transport=transport, breaker_store=store, audit=audit, sleep=sleeps.append)
    a = HttpClient("sazito", "https://store-a.test/api/v1", settings, rate_limit_per_min=6_000, **wiring)
    b = HttpClient("store-b", "https://store-b.test/api/v1", settings, rate_limit_per_min=7_000, **wiring)
    with a, b:
        for _ in range(2):
            with pytest.raises(errors.TransientError):
                a.request("GET", "/p")
        with pytest.raises(errors.CircuitOpenError, match="^sazito: GET /p failed"):
            a.request("GET", "/p")
        for _ in range(3):
            assert b.request("GET", "/p").status_code == 200
        assert (a.breaker.state.state, b.breaker.state.state) == ("open", "closed")
        assert a._bucket is not b._bucket
        assert (a._bucket.rate_per_s, b._bucket.rate_per_s) == (100.0, 7_000 / 60)
    assert (down.call_count, up.call_count) == (2, 3)
    assert store.load("sazito", "https://store-a.test:443").state == "open"
    assert store.load("store-b", "https://store-b.test:443").state == "closed"
    assert {r.provider for r in audit.records} == {"sazito", "store-b"}  # audit rows name the connection


def test_clients_of_one_connection_share_its_bucket(router: respx.MockRouter) -> None:
    one = HttpClient("conn-shared-test", BASE, make_settings(), rate_limit_per_min=1_234)
    two = HttpClient("conn-shared-test", "https://elsewhere.test", make_settings(), rate_limit_per_min=1_234)
    other = HttpClient("conn-other-test", BASE, make_settings(), rate_limit_per_min=1_234)
    with one, two, other:
        assert one._bucket is two._bucket and one._bucket is not other._bucket
        assert one._bucket.rate_per_s == 1_234 / 60


def test_pacer_called_before_each_attempt(router: respx.MockRouter, sleeps: list[float]) -> None:
    calls: list[int] = []
    router.get("/p").mock(side_effect=[httpx.Response(500), httpx.Response(200)])
    with client(router, sleeps, pacer=lambda: calls.append(1)) as http:
        http.request("GET", "/p")
    assert len(calls) == 2


def test_token_bucket_paces_attempts(router: respx.MockRouter, sleeps: list[float]) -> None:
    now = [0.0]
    router.get("/p").respond(200)
    bucket = TokenBucket(60, burst=1, clock=lambda: now[0])
    with HttpClient(
        "anar360",
        BASE,
        make_settings(),
        rate_limit_per_min=100_000,
        transport=httpx.MockTransport(router.handler),
        sleep=sleeps.append,
        bucket=bucket,
    ) as http:
        for _ in range(3):
            http.request("GET", "/p")
    assert sleeps == [1.0, 2.0]


def test_concurrent_use(router: respx.MockRouter, sleeps: list[float], audit: ListAudit) -> None:
    router.get("/p").respond(200, json={})
    with client(router, sleeps, audit) as http, ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: http.request("GET", "/p", params={"i": i}).status_code, range(64)))
    assert statuses == [200] * 64
    assert len(audit.records) == 64 and len({r.correlation_id for r in audit.records}) == 64


# --- audit ---


def test_audit_record_per_attempt(router: respx.MockRouter, sleeps: list[float], audit: ListAudit) -> None:
    router.get("/products").mock(side_effect=[httpx.Response(500), httpx.Response(200, json={})])
    with client(router, sleeps, audit) as http:
        http.request("GET", "/products", params={"page": 3}, context="products page 3")
    first, second = audit.records
    assert (first.attempt, first.outcome, first.status) == (1, "retry", 500)
    assert (second.attempt, second.outcome, second.status) == (2, "success", 200)
    assert first.correlation_id == second.correlation_id and len(first.correlation_id) == 32
    assert first.context == "products page 3" and first.method == "GET"
    assert first.url == f"{BASE}/products?page=3"
    assert first.started_at.tzinfo is not None and first.duration_ms >= 0
    assert first.request_body is None and first.response_body is None  # audit_bodies is off by default


def test_audit_never_holds_secrets(router: respx.MockRouter, sleeps: list[float], audit: ListAudit) -> None:
    echo = {
        "token": TOKEN,
        "items": [{"api_key": "k-123456", "password": "hunter2", "price": 5}],
        "error": f"bad token {TOKEN}",
    }
    router.post("/login").mock(side_effect=[httpx.Response(500, json=echo), httpx.Response(200, json=echo)])
    settings = make_settings(audit_bodies=True, audit_body_max_chars=10_000)
    with client(router, sleeps, audit, settings=settings) as http:
        with pytest.raises(errors.TransientError) as info:
            http.request(
                "POST",
                "/login",
                params={"token": TOKEN, "client_secret": "cs-999999", "page": 1},
                json={"password": "hunter2", "authorization": f"Bearer {TOKEN}", "name": "x"},
            )
        assert TOKEN not in str(info.value)
        http.request(
            "POST", "/login", params={"page": 1}, json={"client_secret": "cs-999999"}, idempotent=True
        )
    dumped = json.dumps([asdict(r) for r in audit.records], default=str)
    for secret in (TOKEN, "cs-999999", "hunter2", "k-123456"):
        assert secret not in dumped
    first = audit.records[0]
    assert "token=REDACTED" in first.url and "client_secret=REDACTED" in first.url and "page=1" in first.url
    assert first.request_body is not None and '"name": "x"' in first.request_body
    assert first.response_body is not None and '"price": 5' in first.response_body


def test_audit_bodies_truncated(router: respx.MockRouter, sleeps: list[float], audit: ListAudit) -> None:
    router.get("/big").respond(200, json={"data": "x" * 500})
    with client(
        router, sleeps, audit, settings=make_settings(audit_bodies=True, audit_body_max_chars=40)
    ) as http:
        http.request("GET", "/big")
    assert len(audit.records[0].response_body or "") == 40


def test_failing_audit_sink_does_not_fail_the_call(router: respx.MockRouter, sleeps: list[float]) -> None:
    class Broken:
        def record(self, rec: RequestRecord) -> None:
            raise RuntimeError("db down")

    router.get("/p").respond(200)
    with client(router, sleeps, Broken()) as http:  # type: ignore[arg-type]
        assert http.request("GET", "/p").status_code == 200


def test_redact_url_strips_userinfo_and_secret_params() -> None:
    assert redact_url("https://u:pw@h.test/a?key=1&apiKey=2&access_token=3&q=ok") == (
        "https://h.test/a?key=REDACTED&apiKey=REDACTED&access_token=REDACTED&q=ok"
    )


# --- bounds: a call ends within its deadline, an answer within its size ---


class Drip(httpx.SyncByteStream):
    """A body that arrives a few bytes at a time, forever (a provider that never finishes)."""

    def __iter__(self) -> Iterator[bytes]:
        while True:
            time.sleep(0.05)
            yield b" "


def test_a_body_that_drips_ends_at_the_deadline_and_is_not_retried(
    router: respx.MockRouter, sleeps: list[float], audit: ListAudit
) -> None:
    route = router.get("/p").mock(return_value=httpx.Response(200, stream=Drip()))
    started = time.monotonic()
    settings = make_settings(http_deadline_s=0.5)
    with (
        client(router, sleeps, audit, settings=settings) as http,
        pytest.raises(errors.LimitExceeded) as caught,
    ):
        http.request("GET", "/p")
    assert time.monotonic() - started < 3
    assert str(caught.value).startswith("anar360: GET /p did not finish within 0.5 s (")
    assert str(caught.value).endswith("received): stopped; HTTP_DEADLINE_S sets that bound")
    assert route.call_count == 1 and audit.records[-1].outcome == "timeout"


class Endless(httpx.SyncByteStream):
    """A body with no Content-Length that never ends."""

    def __iter__(self) -> Iterator[bytes]:
        while True:
            yield b"<base_plan/>" * 100


def test_an_answer_larger_than_its_bound_is_refused(router: respx.MockRouter, sleeps: list[float]) -> None:
    bounded = ReadBounds(deadline_s=10, max_bytes=100, size_setting="FEED_MAX_MB")
    router.get("/announced").respond(200, content=b"x" * 1000)  # its Content-Length says so: not even read
    router.get("/endless").mock(return_value=httpx.Response(200, stream=Endless()))
    with client(router, sleeps) as http:
        with pytest.raises(
            errors.LimitExceeded, match=r"GET /announced announced 1000 bytes, more than 100 bytes"
        ):
            http.download("/announced", io.BytesIO(), bounds=bounded)
        with pytest.raises(
            errors.LimitExceeded, match=r"GET /endless answered more than 100 bytes: stopped; FEED_MAX_MB"
        ):
            http.download("/endless", io.BytesIO(), bounds=bounded)


def test_retries_stop_at_the_deadline(router: respx.MockRouter, sleeps: list[float]) -> None:
    route = router.get("/p").mock(side_effect=httpx.ConnectTimeout("slow"))
    settings = make_settings(http_retries=10, http_retry_backoff_ms=100, http_deadline_s=0.3)
    http = HttpClient(
        "anar360",
        BASE,
        settings,
        rate_limit_per_min=100_000,
        transport=httpx.MockTransport(router.handler),
        sleep=time.sleep,
    )
    started = time.monotonic()
    with http, pytest.raises(errors.ConnectorError):
        http.request("GET", "/p")
    assert time.monotonic() - started < 1.5 and route.call_count < 11  # the waits stop at the deadline


# --- X-RateLimit-Reset ---


def test_rate_limit_reset_is_an_epoch_second_or_a_delay() -> None:
    assert parse_rate_limit_reset("1700000030", now=1_700_000_000.0) == 30.0
    assert parse_rate_limit_reset("1699999990", now=1_700_000_000.0) == 0.0  # the window already ended
    assert parse_rate_limit_reset(" 12 ") == 12.0  # small: a delay, as some providers send it
    for garbage in (None, "", "soon", "-1", "nan", "inf"):
        assert parse_rate_limit_reset(garbage) is None


def test_429_prefers_x_ratelimit_reset_to_retry_after(router: respx.MockRouter, sleeps: list[float]) -> None:
    reset = str(int(time.time()) + 6)
    router.get("/p").mock(
        side_effect=[
            httpx.Response(429, headers={"X-RateLimit-Reset": reset, "Retry-After": "1"}),
            httpx.Response(429, headers={"X-RateLimit-Reset": "garbage", "Retry-After": "2"}),
            httpx.Response(200),
        ]
    )
    with client(router, sleeps) as http:
        http.request("GET", "/p")
    assert 4.5 <= sleeps[0] <= 6.7 and 2.0 <= sleeps[1] <= 2.2


# --- lanes, and what rate limits cost ---


def test_each_lane_paces_by_its_own_bucket_and_pacer(router: respx.MockRouter, sleeps: list[float]) -> None:
    router.get("/p").respond(200)
    name = f"lanes-{uuid.uuid4().hex[:8]}"
    paced: list[str] = []

    def lane_pacer(lane: str, per_min: int) -> Callable[[], None] | None:
        return (lambda: paced.append(lane)) if lane == "a" else None

    with HttpClient(
        name,
        BASE,
        make_settings(),
        rate_limit_per_min=100_000,
        transport=httpx.MockTransport(router.handler),
        sleep=sleeps.append,
        pacer=lambda: paced.append("connection"),
        lanes={
            "a": 12,
            "b": 24,
        },  # a burst of 5 s of each, then the rest of the minute: (1, 11/min), (2, 22/min)
        lane_pacer=lane_pacer,
    ) as http:
        lanes = http._lanes
        assert lanes["a"].bucket is shared_bucket(f"{name}/a", 11.0, 1)
        assert (lanes["b"].bucket.burst, lanes["b"].bucket.rate_per_s) == (2, 22 / 60)
        assert lanes["a"].bucket is not http._bucket and lanes["b"].pacer is None
        http.request("GET", "/p", lane="a")
        http.request("GET", "/p", lane="b")
        http.request("GET", "/p", lane="b")  # lane b's burst of 2
        http.request("GET", "/p")
        assert sleeps == []
        http.request("GET", "/p", lane="a")  # lane a is spent for 60/11 s; the others are not
        assert len(sleeps) == 1 and 5.0 < sleeps[0] <= 60 / 11
        with pytest.raises(ValueError, match="no lane 'c'"):
            http.request("GET", "/p", lane="c")
    assert paced == ["a", "connection", "a"]
    assert http.waited_s == pytest.approx(sleeps[0], abs=0.01)


def test_waited_and_throttled_count_pacing_and_429s(router: respx.MockRouter, sleeps: list[float]) -> None:
    now = [0.0]
    router.get("/p").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(200),
            httpx.Response(429),  # no wait asked for: the backoff's wait counts too
            httpx.Response(503),  # not a rate limit: its wait does not count
            httpx.Response(200),
        ]
    )
    with HttpClient(
        "anar360",
        BASE,
        make_settings(),
        rate_limit_per_min=100_000,
        transport=httpx.MockTransport(router.handler),
        sleep=sleeps.append,
        bucket=TokenBucket(60, burst=1, clock=lambda: now[0]),
    ) as http:
        http.request("GET", "/p")
        http.request("GET", "/p")
    bucket_waits = [1.0, 2.0, 3.0, 4.0]  # an attempt a second at most, the clock standing still
    retry_waits = [s for s in sleeps if s not in bucket_waits]
    assert len(retry_waits) == 3 and 3.0 <= retry_waits[0] <= 3.3
    assert http.throttled == 2
    assert http.waited_s == pytest.approx(sum(bucket_waits) + retry_waits[0] + retry_waits[1])


def test_counters_are_thread_safe(router: respx.MockRouter, sleeps: list[float]) -> None:
    router.get("/p").mock(
        side_effect=lambda request: httpx.Response(429 if request.url.params["i"] == "1" else 200)
    )
    settings = make_settings(http_retries=0)
    with client(router, sleeps, settings=settings) as http, ThreadPoolExecutor(8) as pool:

        def ask(i: int) -> None:
            with contextlib.suppress(errors.RateLimited):
                http.request("GET", "/p", params={"i": i % 2})

        list(pool.map(ask, range(64)))
    assert http.throttled == 32


# --- correlation ids, per-call headers and forms, learned secrets ---


def test_a_correlation_header_gets_a_new_id_per_attempt(
    router: respx.MockRouter, sleeps: list[float], audit: ListAudit
) -> None:
    route = router.post("/p").mock(
        side_effect=[httpx.Response(503), httpx.Response(500), httpx.Response(200)]
    )
    with client(router, sleeps, audit, correlation_header="X-Correlation") as http:
        http.request("POST", "/p", json={}, idempotent=True)
    sent = [call.request.headers["X-Correlation"] for call in route.calls]
    assert len(set(sent)) == 3 and all(len(s) == 32 for s in sent)
    assert [r.correlation_id for r in audit.records] == sent


def test_the_error_carries_the_last_attempts_correlation_id(
    router: respx.MockRouter, sleeps: list[float]
) -> None:
    route = router.get("/p").respond(503)
    with (
        client(router, sleeps, correlation_header="X-Correlation") as http,
        pytest.raises(errors.TransientError) as info,
    ):
        http.request("GET", "/p")
    assert info.value.correlation_id == route.calls.last.request.headers["X-Correlation"]


def test_a_form_body_and_call_headers(
    router: respx.MockRouter, sleeps: list[float], audit: ListAudit
) -> None:
    route = router.post("/token").respond(200, json={"access_token": "at-Secret-777", "expires_in": "60"})
    settings = make_settings(audit_bodies=True, audit_body_max_chars=10_000)
    with client(router, sleeps, audit, settings=settings) as http:
        http.add_secret("cs-Odd/Secret+1")
        http.request(
            "POST",
            "/token",
            data={"grant_type": "client_credentials", "client_secret": "cs-Odd/Secret+1"},
            headers={"X-Tenant": "t1"},
        )
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["X-Tenant"] == "t1" and request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.content == b"grant_type=client_credentials&client_secret=cs-Odd%2FSecret%2B1"
    dumped = json.dumps([asdict(r) for r in audit.records], default=str)
    assert (
        "cs-Odd" not in dumped and "at-Secret-777" not in dumped and "grant_type=client_credentials" in dumped
    )


def test_a_call_header_secret_is_learned_and_scrubbed(
    router: respx.MockRouter, sleeps: list[float], audit: ListAudit
) -> None:
    router.get("/p").mock(
        side_effect=lambda request: httpx.Response(
            400, json={"error": f"bad {request.headers['Authorization']}"}
        )
    )
    settings = make_settings(audit_bodies=True, audit_body_max_chars=10_000)
    with (
        client(router, sleeps, audit, settings=settings) as http,
        pytest.raises(errors.InvalidRequest) as info,
    ):
        http.request("GET", "/p", headers={"Authorization": "Bearer fresh-Token-123"})
    assert str(info.value) == "anar360: GET /p failed (HTTP 400): bad REDACTED"
    assert "fresh-Token-123" not in json.dumps([asdict(r) for r in audit.records], default=str)
    assert http.redact("x fresh-Token-123 y") == "x REDACTED y"


def test_learned_secrets_are_bounded_but_the_fixed_ones_stay() -> None:
    secrets = Secrets(["fixed-secret"], keep_learned=2)
    for i in range(5):
        secrets.add(f"token-{i}")
    secrets.add("token-3")  # known: stays where it is
    secrets.add("a b/c")
    assert secrets.values == ["fixed-secret", "token-4", "a b/c", "a+b%2Fc"]


def test_renewable_auth_401s_do_not_count_against_the_circuit(
    router: respx.MockRouter, sleeps: list[float]
) -> None:
    router.get("/p").respond(401)
    settings = make_settings(circuit_failure_threshold=1)
    with client(router, sleeps, settings=settings, renewable_auth=True) as http:
        for _ in range(3):
            with pytest.raises(errors.AuthError):
                http.request("GET", "/p")
        assert http.breaker.state.state == "closed"
