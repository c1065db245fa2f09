"""`/health`: 200 when healthy, 503 with the same report when not; settings errors as one-line JSON."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from catalog_sync.service import create_app
from sync_core.engine.registry import pipeline
from sync_core.settings import Settings
from tests.service import seed

PIPELINE = pipeline("products").name  # the pipeline the `settings` fixture configures


def test_healthy_store_answers_200(settings: Settings) -> None:
    # PIPELINE: the one the `settings` fixture configures; a configured pipeline that never ran is a problem.
    run_id = seed.run(settings.database_url, pipeline=PIPELINE, pushed=3)
    seed.circuit(settings.database_url, "sazito", "closed")
    response = seed.client_for(settings).get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["healthy"] is True and body["database"] == "ok" and body["problems"] == []
    [last] = body["last_runs"]
    assert (last["run_id"], last["status"], last["pushed"]) == (run_id, "success", 3)
    assert body["circuits"] == {"sazito": "closed"}
    assert body["failures"] == {"pending": 0, "dead": 0, "resolved": 0}


def test_failed_last_run_answers_503(settings: Settings) -> None:
    seed.run(settings.database_url, pipeline=PIPELINE)
    seed.run(settings.database_url, pipeline=PIPELINE, status="failed")
    response = seed.client_for(settings).get("/health")
    assert response.status_code == 503
    assert response.json()["problems"] == [f"last {PIPELINE} incremental run failed: boom"]


def test_open_circuit_answers_503(settings: Settings) -> None:
    seed.run(settings.database_url, pipeline=PIPELINE)
    seed.circuit(settings.database_url, "anar360", "open")
    response = seed.client_for(settings).get("/health")
    assert response.status_code == 503
    assert response.json()["problems"] == ["anar360 circuit is open"]


def test_unreachable_database_answers_503_without_connection_details(settings: Settings) -> None:
    response = seed.client_for(seed.unreachable_settings(settings)).get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["healthy"] is False and body["database"] == "unreachable"
    assert body["problems"] == ["the state store is unavailable"]
    assert "secretpw" not in response.text and "nobody" not in response.text


@pytest.mark.parametrize("path", ["/health", "/runs", "/failures"])
def test_invalid_settings_answer_503_in_the_envelope(
    path: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    response = TestClient(create_app()).get(path)
    assert response.status_code == 503
    assert response.json() == {
        "data": None,
        "error": {"code": "unavailable", "message": "the service's settings are invalid; its log says which"},
    }


def test_settings_are_read_per_request(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    client = TestClient(create_app())
    assert client.get("/health").json()["database"] == "ok"  # healthy or not: no pipeline is configured
    monkeypatch.setenv("DATABASE_URL", seed.unreachable_settings(settings).database_url)
    assert client.get("/health").json()["database"] == "unreachable"


def test_docs_and_openapi_describe_the_service(settings: Settings) -> None:
    client = seed.client_for(settings)
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "catalog-sync operations" and "**Errors.**" in spec["info"]["description"]
    assert {"/health", "/runs", "/failures", "/metrics"} <= set(spec["paths"])
    health = spec["paths"]["/health"]["get"]["responses"]
    assert health["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/HealthReport")
