"""The state store behaves the same on SQLite and PostgreSQL (every test runs on both)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from sync_core.db import session_scope, upgrade
from sync_core.engine.failures import (
    NewFailure,
    due_failures,
    failure_counts,
    mark_replay_failed,
    record_failures,
    resolve,
)
from sync_core.engine.ledger import load_ledger, record_values
from sync_core.engine.links import count_links, load_links, save_links
from sync_core.engine.runs import add_counts, finish_run, get_cursor, recent_runs, set_cursor, start_run
from sync_core.models import Write
from sync_core.tables import ExternalRequest, utcnow
from sync_core.upsert import insert_rows


def test_migrations_are_idempotent(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)


def test_run_lifecycle_and_counters(db_url: str) -> None:
    run_id = start_run(db_url, pipeline="p", scope="full", flow_run_id="abc")
    add_counts(db_url, run_id=run_id, fetched=10, pushed=4)
    add_counts(db_url, run_id=run_id, fetched=5, failed=1)
    run = finish_run(db_url, run_id=run_id, status="partial")
    assert (run.fetched, run.pushed, run.failed, run.status) == (15, 4, 1, "partial")
    assert run.finished_at is not None
    assert [r.id for r in recent_runs(db_url)] == [run_id]


def test_cursor_moves(db_url: str) -> None:
    assert get_cursor(db_url, pipeline="p", key="k") is None
    set_cursor(db_url, pipeline="p", key="k", value="1")
    set_cursor(db_url, pipeline="p", key="k", value="2")
    assert get_cursor(db_url, pipeline="p", key="k") == "2"


def test_links_upsert_and_lookup_of_many_keys(db_url: str) -> None:
    links = [(f"s{i}", str(i), "p", "sku") for i in range(1200)]
    save_links(db_url, source="a", target="b", links=links)
    save_links(db_url, source="a", target="b", links=[("s1", "999", "p", "operator")])
    found = load_links(db_url, source="a", target="b", source_keys=[f"s{i}" for i in range(1200)] + ["nope"])
    assert len(found) == 1200 and found["s1"].target_key == "999" and found["s1"].method == "operator"
    assert count_links(db_url, source="a", target="b") == 1200


def test_a_key_twice_in_one_upsert_keeps_its_last_row(db_url: str) -> None:
    """As a row-by-row run would (PostgreSQL's one statement may not touch a row twice: the rows are merged)."""
    save_links(db_url, source="a", target="b", links=[("s1", "1", None, "sku"), ("s1", "2", None, "sku")])
    assert load_links(db_url, source="a", target="b", source_keys=["s1"])["s1"].target_key == "2"


def test_ledger_keeps_the_last_value_per_item_and_kind(db_url: str) -> None:
    first = Write("price", "1", "s1", {"price": 1, "discount_price": None})
    second = Write("price", "1", "s1", {"price": 2, "discount_price": None})
    stock = Write("stock", "1", "s1", {"managed": True, "stock": 3})
    with session_scope(db_url) as session:
        record_values(session, target="t", writes=[first, stock], origin="observed", run_id=None)
    with session_scope(db_url) as session:
        record_values(session, target="t", writes=[second], origin="written", run_id=7)
    assert load_ledger(db_url, target="t", target_keys=["1"]) == {
        ("1", "price"): second.fingerprint,
        ("1", "stock"): stock.fingerprint,
    }


def test_failures_repeat_resolve_and_die(db_url: str) -> None:
    failure = NewFailure(
        "push:price", "456", "RejectedByStore", "RejectedByStore", "refused", {"kind": "price"}
    )
    with session_scope(db_url) as session:
        record_failures(session, pipeline="p", failures=[failure], retry_base_s=0)
    with session_scope(db_url) as session:
        record_failures(session, pipeline="p", failures=[failure], retry_base_s=0)
    due = due_failures(db_url, pipeline="p", contexts=["push:price"], now=utcnow() + timedelta(seconds=1))
    assert len(due) == 1 and due[0].attempts == 2
    with session_scope(db_url) as session:
        assert (
            mark_replay_failed(
                session, failure_id=due[0].id, error_class="X", message="m", max_attempts=3, retry_base_s=0
            )
            == "dead"
        )
    with session_scope(db_url) as session:  # a dead item stays dead when it fails again
        record_failures(session, pipeline="p", failures=[failure], retry_base_s=0)
    assert failure_counts(db_url) == {"dead": 1}
    with session_scope(db_url) as session:
        assert resolve(session, pipeline="p", context="push:price", item_keys=["456"]) == 1
    with session_scope(db_url) as session:  # after a resolution, a new failure starts counting again
        record_failures(session, pipeline="p", failures=[failure], retry_base_s=60)
    assert failure_counts(db_url) == {"pending": 1}
    assert due_failures(db_url, pipeline="p", contexts=["push:price"]) == []  # not due for 60 s


def test_a_shared_statement_binds_each_rows_own_time_from_many_threads(db_url: str) -> None:
    """The audit sink inserts from every HTTP thread at once through one cached statement: each row keeps
    its own time (threads switched as often as the interpreter allows, to meet any race)."""

    def row(n: int) -> dict[str, object]:
        return {
            "provider": "p",
            "method": "GET",
            "url": f"u{n}",
            "status": 200,
            "duration_ms": 1,
            "attempt": 1,
            "outcome": "success",
            "correlation_id": f"c{n}",
            "started_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n),
        }

    def insert(batch: int) -> None:
        with session_scope(db_url) as session:
            insert_rows(session, ExternalRequest, [row(batch * 100 + i) for i in range(100)])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(insert, range(40)))
    finally:
        sys.setswitchinterval(interval)
    with session_scope(db_url) as session:
        rows = session.exec(select(ExternalRequest.url, ExternalRequest.started_at)).all()
    assert len(rows) == 4000
    start = datetime(2026, 1, 1)
    wrong = [
        url for url, started in rows if (started.replace(tzinfo=None) - start).total_seconds() != int(url[1:])
    ]
    assert wrong == []
