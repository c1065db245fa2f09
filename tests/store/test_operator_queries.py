"""Every query of docs/operator-queries.sql runs, as pasted, on SQLite and PostgreSQL and gives the known answer."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sync_core.db import get_engine, session_scope
from sync_core.tables import ExternalRequest, Failure, SyncRun, utcnow
from tests.store.rows import failure_row, request_row

QUERIES = Path(__file__).parents[2] / "docs" / "operator-queries.sql"
SAZITO = "http://shop.test/api/v1"
ANAR = "http://anar.test/api/360"


def parse_queries(text: str) -> dict[str, tuple[str, str]]:
    """name → (description, SQL) for each ``-- name:`` block (the file's preamble is not a query)."""
    queries: dict[str, tuple[str, str]] = {}
    for block in re.split(r"^-- name: ", text, flags=re.M)[1:]:
        name, rest = block.split("\n", 1)
        description, sql = rest.split("\n", 1)
        assert description.startswith("-- ") and len(description) > 10, f"{name}: no description line"
        assert name.strip() not in queries, f"duplicate query name {name}"
        queries[name.strip()] = (description[3:], sql.strip().rstrip(";"))
    return queries


def run_sql(url: str, sql: str) -> list[dict[str, Any]]:
    """Run SQL through the driver, as a shell would send it: no bind parameters, no SQLAlchemy rewriting."""
    conn = get_engine(url).raw_connection()
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        names = [d[0] for d in cursor.description]
        return [{n: plain(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
    finally:
        conn.close()


def plain(value: Any) -> Any:
    if isinstance(value, Decimal | float) and value == int(value):
        return int(value)
    return value


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def request(run_id: int, provider: str, method: str, url: str, ms: int, age: timedelta) -> dict[str, Any]:
    return request_row(run_id, provider, method, url, ms, started_at=utcnow() - age)


def failure(key: str, context: str, reason: str, status: str, attempts: int = 1) -> dict[str, Any]:
    now = utcnow()
    first = now - timedelta(hours=attempts)
    return failure_row(key, context, reason, now, first_failed_at=first, status=status, attempts=attempts)


@pytest.fixture
def seeded(db_url: str) -> dict[str, int]:
    """22 runs (the newest running, two spanning a month and a year end), requests of known durations,
    pending, dead and resolved failures."""
    runs = [(at("2024-01-02 00:00:00"), at("2024-01-02 00:00:01"))] * 19
    runs += [
        (at("2023-12-31 23:59:30"), at("2024-01-01 00:00:45")),  # 75 s across a year end
        (at("2024-02-28 23:00:00"), at("2024-03-01 01:00:00")),  # 26 h across 29 February
        (utcnow() - timedelta(minutes=3), None),  # still running
    ]
    with session_scope(db_url) as session:
        rows = [
            SyncRun(
                pipeline="anar360-sazito",
                scope="full",
                status="success" if f else "running",
                started_at=s,
                finished_at=f,
            )
            for s, f in runs
        ]
        session.add_all(rows)
        session.flush()
        ids = [r.id for r in rows if r.id is not None]
    oldest, newest = ids[0], ids[-1]
    hour, day = timedelta(hours=1), timedelta(days=1)
    requests = [
        request(newest, "sazito", "PUT", f"{SAZITO}/accounting/update-price/{i}", 10 * i, hour)
        for i in range(1, 21)
    ]
    requests += [
        request(newest, "sazito", "PUT", f"{SAZITO}/accounting/bulk-update-price", 400, hour),
        request(newest, "sazito", "GET", f"{SAZITO}/products/9f1c2d3e-4b5a-6789-abcd-ef0123456789", 50, hour),
        request(newest, "anar360", "GET", f"{ANAR}/products?page=1&limit=50&token=REDACTED", 5, 2 * hour),
        request(newest, "anar360", "GET", f"{ANAR}/products?page=2&limit=50", 7, 2 * hour),
        request(
            newest, "anar360", "GET", f"{ANAR}/products?page=3&limit=50&since=2024-01-01T00:00:00Z", 100, hour
        ),
        # Older than 24 hours: counts for the run's endpoints, not for the last day's percentiles.
        request(newest, "sazito", "PUT", f"{SAZITO}/accounting/update-price/5", 9_999, day + hour),
        # A run older than the last 20, and older than a day: in neither.
        request(oldest, "sazito", "GET", f"{SAZITO}/slow", 50_000, 2 * day),
    ]
    failures = [failure(f"m{i}", "map", "bad-price", "pending", attempts=i + 1) for i in range(3)]
    failures += [
        failure("p1", "push:price", "NotFound", "pending"),
        failure("p2", "push:price", "NotFound", "dead", 5),
    ]
    failures += [failure(f"r{i}", "map", "bad-sku", "resolved") for i in range(5)]
    with session_scope(db_url) as session:
        session.execute(sa.insert(ExternalRequest), requests)
        session.execute(sa.insert(Failure), failures)
    return {"oldest": oldest, "newest": newest}


def check_recent_runs(rows: list[dict[str, Any]], ids: dict[str, int]) -> None:
    assert [r["id"] for r in rows] == list(range(ids["newest"], ids["newest"] - 20, -1))
    assert rows[0]["finished_at"] is None and rows[0]["status"] == "running"
    assert all(r["finished_at"] is not None for r in rows[1:])


def check_top_failure_reasons(rows: list[dict[str, Any]], ids: dict[str, int]) -> None:
    assert [
        (r["context"], r["reason"], r["failures"], r["pending"], r["dead"], r["max_attempts"]) for r in rows
    ] == [("map", "bad-price", 3, 3, 0, 3), ("push:price", "NotFound", 2, 1, 1, 5)]


def check_p95_per_provider(rows: list[dict[str, Any]], ids: dict[str, int]) -> None:
    # sazito, newest run: 10, 20, ... 200, 400, 50, 9999 → 23 values; nearest ranks 12 (p50) and 22 (p95).
    # The 50,000 ms request belongs to a run older than the last 20.
    assert rows == [
        {"provider": "anar360", "requests": 3, "p50_ms": 7, "p95_ms": 100, "max_ms": 100},
        {"provider": "sazito", "requests": 23, "p50_ms": 110, "p95_ms": 400, "max_ms": 9_999},
    ]


CHECKS: dict[str, Callable[[list[dict[str, Any]], dict[str, int]], None]] = {
    "recent-runs": check_recent_runs,
    "top-failure-reasons": check_top_failure_reasons,
    "p95-request-duration": check_p95_per_provider,
}


def test_every_query_is_named_described_and_checked() -> None:
    assert set(parse_queries(QUERIES.read_text())) == set(CHECKS)


def test_the_readme_shows_the_queries_as_they_are_in_the_file() -> None:
    text = QUERIES.read_text()
    queries = text[text.index("\n-- name: ") :].strip()
    assert queries in (QUERIES.parents[1] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_operator_query(db_url: str, seeded: dict[str, int], name: str) -> None:
    _, sql = parse_queries(QUERIES.read_text())[name]
    CHECKS[name](run_sql(db_url, sql), seeded)
