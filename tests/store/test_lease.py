"""One run at a time per pipeline: the lease in the state store, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from sync_core.db import session_scope
from sync_core.engine.lease import (
    CRASHED,
    LeasedRun,
    LeaseKeeper,
    close_leased_run,
    close_orphaned_runs,
    open_leased_run,
    renew,
)
from sync_core.engine.runs import get_cursor, get_run, start_run
from sync_core.errors import PipelineBusy
from sync_core.health import health_report
from sync_core.settings import Settings
from sync_core.tables import RunLease, utcnow


def open_run(db_url: str, *, wait_s: float = 0, ttl_s: float = 60, lease: str = "p") -> LeasedRun:
    return open_leased_run(
        db_url, lease=lease, scope="full", ttl_s=ttl_s, wait_s=wait_s, sleep=lambda s: None
    )


def lapse(db_url: str, lease: str = "p") -> None:
    """What the clock does to the lease of a process that died: its expiry passes."""
    with session_scope(db_url) as session:
        session.execute(
            sa.update(RunLease)
            .where(RunLease.name == lease)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


def test_a_second_run_of_the_pipeline_is_refused_naming_the_first(db_url: str) -> None:
    first = open_run(db_url)
    with pytest.raises(PipelineBusy) as refused:
        open_run(db_url)
    message = str(refused.value)
    assert message.startswith(f"another p run is going: run {first.run_id} (full, started ")
    assert "pid " in message and "lease held until" in message and "\n" not in message
    other = open_run(db_url, lease="q")  # another pipeline is not held up
    assert other.run_id != first.run_id


def test_a_waiting_run_starts_when_the_first_ends(db_url: str) -> None:
    first = open_run(db_url)
    told: list[str] = []
    ended = threading.Timer(0.3, lambda: close_leased_run(db_url, first, status="success", error=None))
    ended.start()
    second = open_leased_run(db_url, lease="p", scope="full", ttl_s=60, wait_s=30, on_wait=told.append)
    ended.join()
    assert get_run(db_url, run_id=second.run_id).status == "running"  # type: ignore[union-attr]
    assert len(told) == 1 and "waiting up to 30 s" in told[0]


def test_waiting_gives_up_after_its_time(db_url: str) -> None:
    open_run(db_url)
    started = time.monotonic()
    with pytest.raises(PipelineBusy, match="waited 0.2 s for it to end"):
        open_leased_run(db_url, lease="p", scope="full", ttl_s=60, wait_s=0.2)
    assert time.monotonic() - started < 5


def test_a_lapsed_lease_is_taken_over_and_the_dead_run_closed_as_crashed(db_url: str) -> None:
    dead = open_run(db_url)
    lapse(db_url)
    second = open_run(db_url)
    row = get_run(db_url, run_id=dead.run_id)
    assert row is not None and (row.status, row.error) == ("crashed", CRASHED) and row.finished_at is not None
    assert not renew(db_url, dead)  # the dead run lost its lease for good
    assert renew(db_url, second)


def test_health_closes_running_rows_no_live_lease_holds(db_url: str) -> None:
    live = open_run(db_url)
    legacy = start_run(db_url, pipeline="p", scope="full")  # a row from before leases: nobody holds it
    dead = open_run(db_url, lease="q")
    lapse(db_url, "q")
    assert close_orphaned_runs(db_url) == 2
    assert get_run(db_url, run_id=live.run_id).status == "running"  # type: ignore[union-attr]
    assert get_run(db_url, run_id=legacy).status == "crashed"  # type: ignore[union-attr]
    assert get_run(db_url, run_id=dead.run_id).status == "crashed"  # type: ignore[union-attr]


def test_closing_records_status_requests_cursor_and_frees_the_lease(db_url: str) -> None:
    run = open_run(db_url)
    row = close_leased_run(db_url, run, status="partial", error=None, requests=7, cursor=("k", "42"))
    assert (row.status, row.requests) == ("partial", 7)
    assert get_cursor(db_url, pipeline="p", key="k") == "42"
    open_run(db_url)  # free again


def test_the_keeper_renews_while_the_run_lives(db_url: str) -> None:
    run = open_leased_run(db_url, lease="p", scope="full", ttl_s=0.3, wait_s=0)
    with LeaseKeeper(db_url, run):
        time.sleep(0.8)  # past the ttl: only renewals keep it
        with pytest.raises(PipelineBusy):
            open_run(db_url)
    time.sleep(0.4)
    open_run(db_url)  # not renewed any more: lapsed, taken over


def test_the_health_report_closes_a_dead_run_and_says_so(db_url: str) -> None:
    dead = open_run(db_url, lease="anar360-sazito")
    lapse(db_url, "anar360-sazito")
    report = health_report(Settings(_env_file=None, database_url=db_url))  # type: ignore[call-arg]
    [last] = report["last_runs"]
    assert (last["run_id"], last["status"]) == (dead.run_id, "crashed")
    assert f"last anar360-sazito full run crashed: {CRASHED}" in report["problems"]
