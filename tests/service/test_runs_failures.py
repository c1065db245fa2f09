"""`/runs` and `/failures`: shapes, ordering, filters and parameter errors, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest

from sync_core.db import session_scope
from sync_core.engine.failures import list_failures, mark_replay_failed, resolve
from sync_core.settings import Settings
from tests.service import seed


def test_runs_newest_first_with_counters(settings: Settings) -> None:
    url = settings.database_url
    first = seed.run(url, scope="full", fetched=10, pushed=4, unchanged=6)
    second = seed.run(url, pipeline="retry-failures", scope="retry", status="partial", pushed=1, failed=2)
    third = seed.run(url, status="running", fetched=5)
    client = seed.client_for(settings)

    runs = client.get("/runs").json()["runs"]
    assert [r["id"] for r in runs] == [third, second, first]
    assert runs[2] | {"started_at": None, "finished_at": None} == {
        "id": first,
        "pipeline": "sync-products",
        "scope": "full",
        "status": "success",
        "dry_run": False,
        "started_at": None,
        "finished_at": None,
        "fetched": 10,
        "mapped": 0,
        "pushed": 4,
        "unchanged": 6,
        "skipped": 0,
        "failed": 0,
        "requests": 0,
        "flow_run_id": None,
        "error": None,
    }
    assert datetime.fromisoformat(runs[2]["started_at"]).utcoffset() is not None  # UTC even on SQLite
    assert runs[0]["finished_at"] is None and runs[0]["status"] == "running"

    assert [r["id"] for r in client.get("/runs", params={"limit": 2}).json()["runs"]] == [third, second]
    assert [r["id"] for r in client.get("/runs", params={"pipeline": "sync-products"}).json()["runs"]] == [
        third,
        first,
    ]
    assert client.get("/runs", params={"pipeline": "nope"}).json() == {"runs": []}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 0}, "limit must be at least 1, not '0'"),
        ({"limit": 501}, "limit must be at most 500, not '501'"),
        ({"limit": "ten"}, "limit must be an integer, not 'ten'"),
        ({"pipeline": ""}, "pipeline must not be empty"),
    ],
)
def test_runs_rejects_bad_parameters_with_400(
    settings: Settings, params: dict[str, object], message: str
) -> None:
    response = seed.client_for(settings).get("/runs", params=params)
    assert response.status_code == 400
    assert response.json() == {"data": None, "error": {"code": "invalid_parameter", "message": message}}


def test_failures_newest_first_without_payloads(settings: Settings) -> None:
    url = settings.database_url
    seed.failures(url, "v1", "v2")
    seed.failures(url, "v3")
    with session_scope(url) as session:
        resolve(session, pipeline="sync-products", context="push:price", item_keys=["v3"])
    [v1] = [f for f in list_failures(url) if f.item_key == "v1"]
    assert v1.id is not None
    with session_scope(url) as session:  # v1 fails once more and dies: it becomes the most recent
        mark_replay_failed(
            session,
            failure_id=v1.id,
            error_class="NotFound",
            message="still gone",
            max_attempts=2,
            retry_base_s=60,
        )
    client = seed.client_for(settings)

    body = client.get("/failures").json()
    assert body["counts"] == {"pending": 1, "dead": 1, "resolved": 1}
    assert [(f["item_key"], f["status"]) for f in body["failures"]] == [
        ("v1", "dead"),
        ("v3", "resolved"),
        ("v2", "pending"),
    ]
    dead = body["failures"][0]
    assert set(dead) == {
        "id", "pipeline", "context", "item_key", "status", "reason", "error_class", "last_error", "attempts",
        "first_failed_at", "last_failed_at", "next_retry_at", "resolved_at",
    }  # fmt: skip
    assert (dead["attempts"], dead["last_error"], dead["next_retry_at"]) == (2, "still gone", None)
    assert "blob" not in client.get("/failures").text

    for status, keys in {"pending": ["v2"], "dead": ["v1"], "resolved": ["v3"]}.items():
        rows = client.get("/failures", params={"status": status}).json()["failures"]
        assert [f["item_key"] for f in rows] == keys
    assert [f["item_key"] for f in client.get("/failures", params={"limit": 1}).json()["failures"]] == ["v1"]


def test_failures_rejects_an_unknown_status_with_400(settings: Settings) -> None:
    response = seed.client_for(settings).get("/failures", params={"status": "open"})
    assert response.status_code == 400
    assert response.json() == {
        "data": None,
        "error": {
            "code": "invalid_parameter",
            "message": "status must be 'pending', 'dead' or 'resolved', not 'open'",
        },
    }


def test_failures_rejects_a_bad_limit_with_400(settings: Settings) -> None:
    response = seed.client_for(settings).get("/failures", params={"limit": 0})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_parameter",
        "message": "limit must be at least 1, not '0'",
    }


@pytest.mark.parametrize("path", ["/runs", "/failures"])
def test_unreachable_database_answers_503_without_connection_details(settings: Settings, path: str) -> None:
    response = seed.client_for(seed.unreachable_settings(settings)).get(path)
    assert response.status_code == 503
    assert response.json() == {
        "data": None,
        "error": {"code": "unavailable", "message": "the state store is unavailable"},
    }
