"""run_report reads the same figures from SQLite and PostgreSQL (every test runs on both)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from sync_core.db import session_scope
from sync_core.engine.run_view import run_view
from sync_core.engine.runs import COUNTERS, get_run
from sync_core.health import health_report
from sync_core.reports import render_run_report, run_report
from sync_core.settings import Settings
from sync_core.tables import ExternalRequest, Failure, SyncRun, utcnow
from tests.store.rows import PIPELINE
from tests.store.rows import failure_row as failure
from tests.store.rows import request_row as request

SAZITO = "http://shop.test/api/v1"


def add_run(url: str, *, started: datetime, finished: datetime | None, **fields: Any) -> int:
    with session_scope(url) as session:
        run = SyncRun(
            pipeline=fields.pop("pipeline", PIPELINE),
            scope=fields.pop("scope", "full"),
            status=fields.pop("status", "partial"),
            started_at=started,
            finished_at=finished,
            **fields,
        )
        session.add(run)
        session.flush()
        assert run.id is not None
        return run.id


@pytest.fixture
def seeded(db_url: str) -> int:
    """A finished run with 24 requests of known durations and failures in and around its time."""
    start = utcnow() - timedelta(hours=1)
    end = start + timedelta(minutes=10)
    run_id = add_run(db_url, started=start, finished=end, fetched=30, failed=4)
    other = add_run(db_url, started=end, finished=None, status="running")
    inside = start + timedelta(minutes=5)
    requests = [
        request(run_id, "sazito", "PUT", f"{SAZITO}/accounting/update-price/{i}", 10 * i)
        for i in range(1, 21)
    ]
    requests += [
        request(run_id, "sazito", "PUT", f"{SAZITO}/accounting/bulk-update-price", 400, outcome="retry"),
        request(run_id, "anar360", "GET", "http://anar.test/api/360/products?page=1&token=REDACTED", 5),
        request(run_id, "anar360", "GET", "http://anar.test/api/360/products?page=2", 7, outcome="timeout"),
        request(run_id, "anar360", "GET", "http://anar.test/api/360/products?page=3", 100),
        request(other, "sazito", "PUT", f"{SAZITO}/accounting/update-price/1", 99_999),  # another run's
    ]
    failures = [
        failure("a", "map", "bad-price", inside),
        failure("b", "map", "bad-price", inside),
        failure("c", "push:price", "NotFound", inside),
        failure("d", "push:price", "NotFound", inside, status="dead"),
        failure("e", "map", "bad-price", start - timedelta(minutes=1)),  # before the run
        failure("f", "map", "bad-price", end + timedelta(minutes=1)),  # after it
        failure("g", "map", "bad-price", inside, pipeline="other-pipeline"),
    ]
    with session_scope(db_url) as session:
        session.execute(sa.insert(ExternalRequest), requests)
        session.execute(sa.insert(Failure), failures)
    return run_id


def test_run_report_figures(db_url: str, seeded: int) -> None:
    report = run_report(
        db_url, run_id=seeded, bases={"sazito": SAZITO, "anar360": "http://anar.test/api/360"}
    )
    assert (report["run_id"], report["pipeline"], report["scope"], report["status"]) == (
        seeded,
        PIPELINE,
        "full",
        "partial",
    )
    assert report["duration_s"] == 600.0
    assert (report["requests"], report["errors"], report["retries"]) == (24, 2, 1)
    assert (report["p50_ms"], report["p95_ms"], report["max_ms"]) == (100, 200, 400)
    assert report["endpoints"] == [
        {"provider": "sazito", "method": "PUT", "path": "/accounting/bulk-update-price", "count": 1}
        | {"p50_ms": 400, "p95_ms": 400, "max_ms": 400},
        {"provider": "sazito", "method": "PUT", "path": "/accounting/update-price/{id}", "count": 20}
        | {"p50_ms": 100, "p95_ms": 190, "max_ms": 200},
        {"provider": "anar360", "method": "GET", "path": "/products", "count": 3}
        | {"p50_ms": 7, "p95_ms": 100, "max_ms": 100},
    ]
    assert report["outcomes"] == [
        {"provider": "anar360", "outcome": "success", "count": 2},
        {"provider": "anar360", "outcome": "timeout", "count": 1},
        {"provider": "sazito", "outcome": "retry", "count": 1},
        {"provider": "sazito", "outcome": "success", "count": 20},
    ]
    assert report["failures"] == [
        {"context": "map", "reason": "bad-price", "status": "pending", "count": 2},
        {"context": "push:price", "reason": "NotFound", "status": "dead", "count": 1},
        {"context": "push:price", "reason": "NotFound", "status": "pending", "count": 1},
    ]
    assert report["failures_total"] == 4
    assert "- p95 request duration: 200 ms" in render_run_report(report).splitlines()


def test_report_of_a_run_still_going_counts_failures_until_now(db_url: str) -> None:
    run_id = add_run(db_url, started=utcnow() - timedelta(minutes=5), finished=None, status="running")
    with session_scope(db_url) as session:
        session.execute(sa.insert(Failure), [failure("a", "map", "bad-sku", utcnow() - timedelta(seconds=1))])
    report = run_report(db_url, run_id=run_id)
    assert report["duration_s"] is None and report["finished_at"] is None
    assert report["failures"] == [{"context": "map", "reason": "bad-sku", "status": "pending", "count": 1}]
    assert (report["requests"], report["p95_ms"], report["endpoints"]) == (0, None, [])


def test_unknown_run(db_url: str) -> None:
    with pytest.raises(LookupError):
        run_report(db_url, run_id=424242)


def test_a_run_reads_the_same_in_its_report_and_in_health(db_url: str) -> None:
    start = utcnow() - timedelta(minutes=30)
    run_id = add_run(db_url, started=start, finished=start + timedelta(seconds=90), fetched=7, pushed=2)
    row = get_run(db_url, run_id=run_id)
    assert row is not None
    view = run_view(row, now=start + timedelta(minutes=2))
    assert (view["run_id"], view["duration_s"], view["age_s"], view["fetched"], view["pushed"]) == (
        run_id,
        90.0,
        30,
        7,
        2,
    )
    assert set(COUNTERS) <= set(view) and datetime.fromisoformat(view["started_at"]).utcoffset() is not None
    report = run_report(db_url, run_id=run_id)
    assert {k: report[k] for k in ("pipeline", "scope", "status", "started_at", "duration_s")} == {
        k: view[k] for k in ("pipeline", "scope", "status", "started_at", "duration_s")
    }
    [last] = health_report(Settings(_env_file=None, database_url=db_url))["last_runs"]  # type: ignore[call-arg]
    assert {k: v for k, v in last.items() if k != "age_s"} == {k: v for k, v in view.items() if k != "age_s"}
