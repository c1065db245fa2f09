"""The Prefect events catalog-sync emits, and the report artifact that must never mask a run's outcome."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import tasks.prefect_events
from flows.artifacts import publish_report
from sync_core.engine.job import SyncCounts
from sync_core.engine.runs import start_run
from tasks.prefect_events import (
    emit_items_quarantined,
    emit_run_summary,
    forward_to_prefect,
    quarantined_reasons,
)


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every event emitted, as the keyword arguments given to ``emit_event``."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.prefect_events, "emit_event", lambda **kwargs: sent.append(kwargs))
    return sent


def test_items_quarantined_carries_count_and_failure_reasons(emitted: list[dict[str, Any]]) -> None:
    reasons = Counter({"invalid:bad-price": 2, "push:NotFound": 1, "skipped:mapping-missing": 5})
    result = SyncCounts(failed=3, skipped=5, reasons=reasons)
    emit_items_quarantined("anar360-sazito", 7, result.failed, quarantined_reasons(result))
    (event,) = emitted
    assert event["event"] == "catalog-sync.items-quarantined"
    assert event["resource"]["prefect.resource.id"] == "catalog-sync.pipeline.anar360-sazito"
    assert event["payload"] == {
        "count": 3,
        "reasons": {"invalid:bad-price": 2, "push:NotFound": 1},
        "run_id": 7,
    }
    assert [r["prefect.resource.id"] for r in event["related"]] == ["catalog-sync.run.7"]


def test_nothing_quarantined_emits_nothing(emitted: list[dict[str, Any]]) -> None:
    result = SyncCounts(skipped=2, reasons=Counter({"skipped:mapping-missing": 2}))
    emit_items_quarantined("anar360-sazito", 7, result.failed, quarantined_reasons(result))
    assert emitted == []


def test_run_summary_event(emitted: list[dict[str, Any]]) -> None:
    summary = {"run_id": 9, "pipeline": "anar360-sazito", "scope": "full", "status": "partial", "failed": 1}
    emit_run_summary(summary | {"reasons": {"invalid:x": 1}, "diffs": [{"big": "list"}]})
    (event,) = emitted
    assert event["event"] == "catalog-sync.run-summary"
    assert event["resource"]["prefect.resource.id"] == "catalog-sync.run.9"
    assert event["related"] == [
        {
            "prefect.resource.id": "catalog-sync.pipeline.anar360-sazito",
            "prefect.resource.name": "anar360-sazito",
            "prefect.resource.role": "pipeline",
        }
    ]
    assert event["payload"]["status"] == "partial" and event["payload"]["reasons"] == {"invalid:x": 1}
    assert event["payload"]["pushed"] is None and "diffs" not in event["payload"]
    emit_run_summary(summary | {"scope": "retry", "replay": {"due": 3, "resolved": 1, "dead": 2}})
    assert emitted[-1]["payload"]["replay"] == {"due": 3, "resolved": 1, "dead": 2}


def test_circuit_events_are_forwarded_with_their_kind(emitted: list[dict[str, Any]]) -> None:
    forward_to_prefect("circuit_opened", {"provider": "sazito", "failures": 5, "cooldown_s": 30.0, "x": [1]})
    (event,) = emitted
    assert event["event"] == "catalog-sync.circuit-opened"
    assert event["resource"] == {"prefect.resource.id": "catalog-sync.provider.sazito"}
    assert event["payload"] == {"provider": "sazito", "failures": 5, "cooldown_s": 30.0}


def test_an_event_that_cannot_be_sent_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("events down")

    monkeypatch.setattr(tasks.prefect_events, "emit_event", broken)
    with caplog.at_level(logging.ERROR, logger="tasks.prefect_events"):
        emit_run_summary({"run_id": 1, "pipeline": "p"})
    assert "catalog-sync.run-summary" in caplog.text


def test_a_report_that_fails_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")  # no tables: the report fails
    with caplog.at_level(logging.WARNING):
        publish_report(1)
    assert "could not publish the run report" in caplog.text


def test_a_report_of_an_unknown_run_is_logged_not_raised(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    run_id = start_run(db_url, pipeline="p", scope="full")
    with caplog.at_level(logging.WARNING):
        publish_report(run_id + 1)
    assert "LookupError" in caplog.text
