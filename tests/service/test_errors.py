"""One error envelope on every endpoint: 400, 404, 405, 500 and 503, and the OpenAPI schema that says so."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from catalog_sync.service import create_app
from catalog_sync.service.errors import UNEXPECTED, parameter_message
from sync_core.errors import ConfigError
from sync_core.settings import Settings
from tests.service import seed


def envelope(response: Response, status: int, code: str) -> str:
    """The message of an error answer, after checking its status, shape and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"data", "error"} and body["data"] is None
    assert set(body["error"]) == {"code", "message"} and body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message and "\n" not in message and len(message) < 200
    return message


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/runs", {"limit": "abc"}, "limit must be an integer, not 'abc'"),
        ("/runs", {"limit": 0}, "limit must be at least 1, not '0'"),
        ("/runs", {"limit": 501}, "limit must be at most 500, not '501'"),
        ("/runs", {"pipeline": ""}, "pipeline must not be empty"),
        ("/runs", {"pipeline": "p" * 65}, "pipeline must be at most 64 characters long"),
        ("/failures", {"status": "bogus"}, "status must be 'pending', 'dead' or 'resolved', not 'bogus'"),
        ("/failures", {"limit": "1.5"}, "limit must be an integer, not '1.5'"),
        ("/failures", {"limit": 1001}, "limit must be at most 1000, not '1001'"),
    ],
)
def test_bad_parameters_answer_400_naming_the_parameter(
    settings: Settings, path: str, params: dict[str, object], message: str
) -> None:
    response = seed.client_for(settings).get(path, params=params)
    assert envelope(response, 400, "invalid_parameter").startswith(message)
    assert "detail" not in response.text


def test_several_bad_parameters_name_the_first_and_count_the_rest() -> None:
    errors = [
        {"type": "int_parsing", "loc": ("query", "limit"), "msg": "x", "input": "a"},
        {"type": "missing", "loc": ("query", "other"), "msg": "x", "input": None},
    ]
    assert parameter_message(errors) == "limit must be an integer, not 'a' (1 more problem(s))"
    odd = [{"type": "url_parsing", "loc": ("query", "u"), "msg": "Input should be a valid URL", "input": ""}]
    assert parameter_message(odd) == "u is invalid: input should be a valid url"


@pytest.mark.parametrize("path", ["/nope", "/runs/1", "/healthz", "/docs/nothing", "/" + "x" * 300])
def test_unknown_paths_answer_404(settings: Settings, path: str) -> None:
    message = envelope(seed.client_for(settings).get(path), 404, "not_found")
    assert message.startswith("no endpoint at /")


@pytest.mark.parametrize(("method", "path"), [("POST", "/runs"), ("DELETE", "/search"), ("PUT", "/metrics")])
def test_wrong_methods_answer_405_with_allow(settings: Settings, method: str, path: str) -> None:
    response = seed.client_for(settings).request(method, path)
    assert envelope(response, 405, "method_not_allowed") == f"{method} is not allowed on {path}; use GET"
    assert response.headers["allow"] == "GET"


def test_an_unexpected_error_answers_500_without_its_text() -> None:
    def broken() -> Settings:
        raise RuntimeError("secret internals")

    client = TestClient(create_app(broken), raise_server_exceptions=False)
    for path in ("/health", "/runs", "/failures", "/search"):
        response = client.get(path)
        assert envelope(response, 500, "internal_error") == UNEXPECTED
        assert "secret internals" not in response.text


@pytest.mark.parametrize("path", ["/health", "/runs", "/failures"])
def test_invalid_settings_answer_503_unavailable(path: str, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Settings:
        raise ConfigError("invalid DATABASE_URL 'postgresql+psycopg://nobody:secretpw@db.internal:5433/gone'")

    response = TestClient(create_app(broken)).get(path)
    assert envelope(response, 503, "unavailable") == "the service's settings are invalid; its log says which"
    assert "secretpw" not in response.text and "db.internal" not in response.text
    assert "invalid DATABASE_URL" in caplog.text  # the operator finds it in the log


def test_store_errors_answer_503_unavailable(settings: Settings) -> None:
    down = seed.client_for(seed.unreachable_settings(settings))
    for path in ("/runs", "/failures"):
        assert envelope(down.get(path), 503, "unavailable") == "the state store is unavailable"


def responses_of(spec: dict[str, Any], path: str) -> dict[str, Any]:
    responses: dict[str, Any] = spec["paths"][path]["get"]["responses"]
    return responses


def test_openapi_documents_the_error_answers(settings: Settings) -> None:
    spec = seed.client_for(settings).get("/openapi.json").json()
    envelope_ref = "#/components/schemas/ErrorResponse"

    def schema(path: str, status: str) -> Any:
        return responses_of(spec, path)[status]["content"]["application/json"]["schema"]

    for path in ("/runs", "/failures"):
        assert set(responses_of(spec, path)) == {"200", "400", "401", "503", "default"}
        assert schema(path, "400")["$ref"] == schema(path, "503")["$ref"] == envelope_ref
    assert set(responses_of(spec, "/health")) == {"200", "401", "503", "default"}
    assert envelope_ref in [s["$ref"] for s in schema("/health", "503")["anyOf"]]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            assert responses["default"]["content"]["application/json"]["schema"]["$ref"] == envelope_ref
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["ErrorOut"]["properties"]["code"]["enum"]) == {
        "invalid_parameter",
        "invalid_range",
        "not_found",
        "method_not_allowed",
        "unavailable",
        "internal_error",
        "invalid_request",
        "unauthorized",
        "not_deployed",
        "conflict",
    }
    assert schemas["ErrorResponse"]["required"] == ["error"]
    assert spec["paths"]["/failures"]["get"]["parameters"][0]["schema"]["anyOf"][0]["enum"] == [
        "pending",
        "dead",
        "resolved",
    ]
