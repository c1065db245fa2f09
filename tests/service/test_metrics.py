"""`/metrics`: Prometheus text whose values are exactly the seeded rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from catalog_sync.service import create_app
from sync_core.settings import Settings
from tests.service import seed

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def by(samples: Samples, name: str, **labels: str) -> dict[tuple[str, ...], float]:
    """Samples of one name whose labels include ``labels``, keyed by their other label values."""
    found = {}
    for (sample_name, sample_labels), value in samples.items():
        rest = dict(sample_labels)
        if sample_name == name and all(rest.pop(k, None) == v for k, v in labels.items()):
            found[tuple(rest.values())] = value
    return found


def test_metrics_match_the_seeded_rows(settings: Settings) -> None:
    url = settings.database_url
    seed.run(url, pushed=5, unchanged=10)
    seed.run(url, status="partial", pushed=3, unchanged=2, failed=4)
    seed.run(url, scope="full", status="failed")
    seed.run(url, pipeline="retry-failures", scope="retry", status="running", pushed=1)
    seed.requests(url, provider="anar360", durations_ms=[10, 25, 26, 100, 3000])
    seed.requests(url, provider="anar360", durations_ms=[20000], outcome="retry")
    seed.requests(url, provider="sazito", durations_ms=[50, 50])
    seed.requests(url, provider="sazito", durations_ms=[499], outcome="fail")
    seed.failures(url, "v1", "v2", "v3")
    seed.failures(url, "m1", context="map")
    seed.circuit(url, "anar360", "closed")
    seed.circuit(url, "ingram", "half_open")
    seed.circuit(url, "sazito", "open")

    samples = scrape(seed.client_for(settings))

    assert by(samples, "catalog_sync_database_up") == {(): 1}
    assert by(samples, "catalog_sync_runs_total") == {
        ("sync-products", "full", "failed"): 1,
        ("sync-products", "incremental", "partial"): 1,
        ("sync-products", "incremental", "success"): 1,
    }
    assert by(samples, "catalog_sync_runs_running") == {("retry-failures", "retry"): 1}
    assert by(samples, "catalog_sync_items_pushed_total") == {("retry-failures",): 1, ("sync-products",): 8}
    assert by(samples, "catalog_sync_items_unchanged_total") == {
        ("retry-failures",): 0,
        ("sync-products",): 12,
    }
    assert by(samples, "catalog_sync_items_failed_total") == {("retry-failures",): 0, ("sync-products",): 4}
    assert by(samples, "catalog_sync_failures") == {("dead",): 0, ("pending",): 4, ("resolved",): 0}
    assert by(samples, "catalog_sync_circuit_state") == {("anar360",): 0, ("ingram",): 1, ("sazito",): 2}
    requests = "catalog_sync_external_requests_total"
    assert by(samples, requests, provider="anar360") == {("retry",): 1, ("success",): 5}
    assert by(samples, requests, provider="sazito") == {("fail",): 1, ("success",): 2}

    histogram = "catalog_sync_external_request_duration_seconds"
    bounds = ("0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf")
    anar360 = by(samples, f"{histogram}_bucket", provider="anar360")
    assert [anar360[(le,)] for le in bounds] == [2, 3, 4, 4, 4, 4, 4, 5, 5, 6]
    sazito = by(samples, f"{histogram}_bucket", provider="sazito")
    assert [sazito[(le,)] for le in bounds] == [0, 2, 2, 2, 3, 3, 3, 3, 3, 3]
    assert by(samples, f"{histogram}_count") == {("anar360",): 6, ("sazito",): 3}
    sums = by(samples, f"{histogram}_sum")
    assert sums[("anar360",)] == pytest.approx(23.161) and sums[("sazito",)] == pytest.approx(0.599)


def test_empty_store_has_families_without_series(settings: Settings) -> None:
    samples = scrape(seed.client_for(settings))
    assert by(samples, "catalog_sync_database_up") == {(): 1}
    assert by(samples, "catalog_sync_failures") == {("dead",): 0, ("pending",): 0, ("resolved",): 0}
    assert by(samples, "catalog_sync_runs_total") == {}


def test_unreachable_database_answers_200_with_database_up_0(settings: Settings) -> None:
    assert scrape(seed.client_for(seed.unreachable_settings(settings))) == {
        ("catalog_sync_database_up", ()): 0
    }


def test_invalid_settings_answer_200_with_database_up_0(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert scrape(TestClient(create_app())) == {("catalog_sync_database_up", ()): 0}


def test_a_malformed_database_url_answers_200_with_database_up_0(settings: Settings) -> None:
    bad = settings.model_copy(update={"database_url": "postgresql+psycopg://u:secretpw@host:notaport/db"})
    client = TestClient(create_app(lambda: bad), raise_server_exceptions=False)
    assert scrape(client) == {("catalog_sync_database_up", ()): 0}
