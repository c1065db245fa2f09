"""The bearer token: always asked by endpoints that change something (503 while API_TOKEN is unset), asked by
the read-only ones only with API_TOKEN_FOR_READS=true, compared in constant time, never repeated or logged;
`/docs` and `/openapi.json` stay open."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import SecretStr

from catalog_sync.service import create_app
from catalog_sync.service.docs import ASSETS_PATH
from sync_core.errors import ConfigError
from sync_core.settings import Settings
from tests.service.test_errors import envelope

TOKEN = "tok-9f8e7d6c5b4a39281706"
RIGHT = {"Authorization": f"Bearer {TOKEN}"}
WRONG = {"Authorization": f"Bearer {TOKEN[:-1]}X"}  # all but the last character: still refused
# An unknown pipeline: a request the guard lets through answers 404 without reaching Prefect.
WRITE = "/pipelines/no-such-pipeline/runs"
READS = ["/health", "/runs", "/failures", "/metrics", "/search", "/products/categories"]


@pytest.fixture
def store(_sqlite_url: str) -> Settings:
    """Settings on the session's migrated SQLite store, without any .env."""
    return Settings(_env_file=None, database_url=_sqlite_url)  # type: ignore[call-arg]


def with_token(settings: Settings, token: str | None = TOKEN, *, for_reads: bool = False) -> Settings:
    secret = SecretStr(token) if token is not None else None
    return settings.model_copy(update={"api_token": secret, "api_token_for_reads": for_reads})


def client(settings: Settings, token: str | None = TOKEN, *, for_reads: bool = False) -> TestClient:
    changed = with_token(settings, token, for_reads=for_reads)
    return TestClient(create_app(lambda: changed))


def refused(response: Response, message: str) -> None:
    assert envelope(response, 401, "unauthorized") == message
    assert response.headers["www-authenticate"] == "Bearer"


def passed(response: Response) -> None:
    """Through the guard: whatever the endpoint itself answers."""
    assert response.status_code not in (401, 503) or response.json().get("healthy") is False, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer   "},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
def test_a_write_without_a_bearer_token_is_refused(store: Settings, headers: dict[str, str]) -> None:
    response = client(store).post(WRITE, json={}, headers=headers)
    refused(response, "missing bearer token: send the header Authorization: Bearer <API_TOKEN>")


@pytest.mark.parametrize("token", [TOKEN[:-1] + "X", TOKEN[:-1], TOKEN + "0", "x", TOKEN.upper(), "é" * 8])
def test_a_write_with_the_wrong_token_is_refused(store: Settings, token: str) -> None:
    response = client(store).post(WRITE, json={}, headers={"Authorization": f"Bearer {token}".encode()})
    refused(response, "wrong bearer token")


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_a_write_with_the_right_token_passes(store: Settings, scheme: str) -> None:
    response = client(store).post(WRITE, json={}, headers={"Authorization": f"{scheme} {TOKEN}"})
    assert envelope(response, 404, "not_found").startswith("no pipeline named 'no-such-pipeline'")


def test_the_guard_answers_before_the_body_is_read(store: Settings) -> None:
    """A bad body or an unknown pipeline tells nothing to a client without the token."""
    c = client(store)
    refused(
        c.post(WRITE, content=b"{not json"),
        "missing bearer token: send the header Authorization: Bearer <API_TOKEN>",
    )
    refused(
        c.post("/pipelines/products/runs", json={"strategy": "nope"}, headers=WRONG), "wrong bearer token"
    )


@pytest.mark.parametrize("headers", [{}, RIGHT])
def test_writes_answer_503_while_api_token_is_unset(store: Settings, headers: dict[str, str]) -> None:
    response = client(store, None).post(WRITE, json={}, headers=headers)
    assert envelope(response, 503, "unavailable").startswith("API_TOKEN is not set: ")
    assert "www-authenticate" not in response.headers


def test_writes_read_the_token_per_request(store: Settings) -> None:
    """A changed API_TOKEN (the environment, .env) takes effect on the next write."""
    current = {"settings": with_token(store)}
    c = TestClient(create_app(lambda: current["settings"]))
    assert c.post(WRITE, json={}, headers=RIGHT).status_code == 404
    current["settings"] = with_token(store, "a-new-token-12345")
    refused(c.post(WRITE, json={}, headers=RIGHT), "wrong bearer token")
    assert c.post(WRITE, json={}, headers={"Authorization": "Bearer a-new-token-12345"}).status_code == 404


def test_writes_with_invalid_settings_answer_503(store: Settings) -> None:
    def broken() -> Settings:
        raise ConfigError("invalid setting API_TOKEN: is a placeholder; set the real secret")

    response = TestClient(create_app(broken)).post(WRITE, json={}, headers=RIGHT)
    assert envelope(response, 503, "unavailable") == "the service's settings are invalid; its log says which"


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("token", [TOKEN, None])
def test_reads_are_open_without_api_token_for_reads(store: Settings, path: str, token: str | None) -> None:
    c = client(store, token)
    passed(c.get(path))
    passed(c.get(path, headers=WRONG))  # not looked at


@pytest.mark.parametrize("path", READS)
def test_reads_need_the_token_with_api_token_for_reads(store: Settings, path: str) -> None:
    c = client(store, for_reads=True)
    refused(c.get(path), "missing bearer token: send the header Authorization: Bearer <API_TOKEN>")
    refused(c.get(path, headers=WRONG), "wrong bearer token")
    passed(c.get(path, headers=RIGHT))


@pytest.mark.parametrize("path", ["/search", "/runs", "/metrics"])
def test_reads_with_api_token_for_reads_but_no_token_answer_503(store: Settings, path: str) -> None:
    response = client(store, None, for_reads=True).get(path, headers=RIGHT)
    message = envelope(response, 503, "unavailable")
    assert message.startswith("API_TOKEN is not set, and API_TOKEN_FOR_READS=true")


def test_docs_stay_open(store: Settings) -> None:
    c = client(store, for_reads=True)
    for path in ("/docs", "/openapi.json", f"{ASSETS_PATH}/swagger-ui.css"):
        assert c.get(path).status_code == 200, path


def test_the_read_guard_reads_settings_once_per_process(store: Settings) -> None:
    calls: list[int] = []

    def loader() -> Settings:
        calls.append(1)
        return with_token(store, for_reads=True)

    c = TestClient(create_app(loader))
    for _ in range(3):
        assert c.get("/search", headers=RIGHT).status_code == 200
        assert c.get("/search").status_code == 401
    assert len(calls) == 1  # shared with /search's own read


def test_unreadable_settings_leave_reads_to_their_endpoint() -> None:
    """Without settings an endpoint serves no data, and answers as its contract says."""

    def broken() -> Settings:
        raise ConfigError("invalid setting DATABASE_URL: nope")

    c = TestClient(create_app(broken))
    assert (
        envelope(c.get("/search"), 500, "internal_error")
        == "the service's settings are invalid; its log says which"
    )
    assert (
        envelope(c.get("/runs"), 503, "unavailable")
        == "the service's settings are invalid; its log says which"
    )
    assert c.get("/metrics").text.strip().endswith("catalog_sync_database_up 0.0")


def test_tokens_are_compared_in_constant_time(store: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def spy(given: bytes, token: bytes) -> bool:
        compared.append((given, token))
        return real(given, token)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module auth calls it through
    c = client(store, for_reads=True)
    c.post(WRITE, json={}, headers=WRONG)
    c.get("/runs", headers=RIGHT)
    assert compared == [
        (WRONG["Authorization"][7:].encode(), TOKEN.encode()),
        (TOKEN.encode(), TOKEN.encode()),
    ]


def test_the_token_is_never_in_an_answer_or_the_log(
    store: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    c = client(store, for_reads=True)
    wrong_token = WRONG["Authorization"][7:]
    answers = [
        c.post(WRITE, json={}),
        c.post(WRITE, json={}, headers=WRONG),
        c.post(WRITE, json={}, headers=RIGHT),
        c.post("/pipelines/products/runs", json={"strategy": TOKEN}, headers=WRONG),
        c.get("/runs", headers=WRONG),
        c.get("/search", headers=WRONG),
        c.get("/health", headers=RIGHT),
        c.get("/openapi.json"),
    ]
    for response in answers:
        seen = response.text + str(response.headers)
        assert TOKEN not in seen and wrong_token not in seen
    assert "refused (401): wrong bearer token" in caplog.text  # refusals are logged ...
    assert TOKEN not in caplog.text and wrong_token not in caplog.text  # ... without the token


def test_openapi_documents_the_bearer_scheme(store: Settings) -> None:
    spec = client(store).get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    trigger = spec["paths"]["/pipelines/{name}/runs"]["post"]
    assert trigger["security"] == [{"bearerAuth": []}]
    assert trigger["responses"]["401"]["headers"]["WWW-Authenticate"]
    for path in ("/search", "/runs", "/health", "/metrics"):
        operation = spec["paths"][path]["get"]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert "API_TOKEN_FOR_READS" in operation["responses"]["401"]["description"], path
    description = spec["info"]["description"]
    assert "`unauthorized` (401" in description and "`not_deployed` (409" in description
