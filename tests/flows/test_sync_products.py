"""sync-products end to end against the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from flows.sync_products import sync_products
from sync_core.engine.failures import list_failures
from sync_core.engine.runs import get_cursor, recent_runs
from sync_core.sandbox.server import SandboxHandle
from sync_core.sandbox.verify import expected_writes, verify_store

pytestmark = pytest.mark.e2e


def catalogue_reads(sandbox: SandboxHandle) -> int:
    return sum(
        n for route, n in sandbox.state.stats()["requests"].items() if "sazito" in route and "GET" in route
    )


def test_full_sync_makes_the_store_correct_with_only_the_needed_writes(
    sync_env: SandboxHandle, db_url: str
) -> None:
    needed = expected_writes(sync_env.state)
    assert needed > 0
    summary = sync_products(scope="full")
    stats = sync_env.state.stats()
    assert verify_store(sync_env.state).ok
    assert stats["variant_writes"] == needed  # every differing aspect written once
    assert stats["noop_writes"] == 0 and stats["relative_writes"] == 0 and stats["merchant_writes"] == 0
    assert summary["status"] == "partial"  # the sandbox's broken records are quarantined
    assert summary["pushed"] == needed and summary["unchanged"] > 0 and summary["skipped"] > 0
    assert summary["requests"] > 0
    run = recent_runs(db_url)[0]
    assert (run.status, run.pushed, run.scope) == ("partial", needed, "full")
    assert get_cursor(db_url, pipeline="anar360-sazito", key="products.window_start_ms") is not None


def test_bad_records_are_quarantined_with_their_reason(sync_env: SandboxHandle, db_url: str) -> None:
    summary = sync_products(scope="full")
    quarantined = [f for f in list_failures(db_url) if f.context == "map"]
    assert quarantined and summary["failed"] == len(quarantined)
    assert all(f.reason and f.last_error and f.status == "pending" for f in quarantined)
    assert {k for k in summary["reasons"] if k.startswith("invalid:")}


def test_a_second_sync_sends_zero_writes(sync_env: SandboxHandle) -> None:
    sync_products(scope="full")
    sync_env.state.reset_stats()
    again = sync_products(scope="full")
    incremental = sync_products(scope="incremental")
    assert sync_env.state.stats()["variant_writes"] == 0
    assert again["pushed"] == 0 and incremental["pushed"] == 0


def test_incremental_picks_up_changes_without_reading_the_catalogue(sync_env: SandboxHandle) -> None:
    sync_products(scope="full")
    sync_env.state.reset_stats()
    changed = sync_env.state.mutate(6, seed=11)
    assert changed
    summary = sync_products(scope="incremental")
    stats = sync_env.state.stats()
    assert verify_store(sync_env.state).ok
    assert 0 < stats["variant_writes"] <= 2 * len(changed) and stats["noop_writes"] == 0
    assert catalogue_reads(sync_env) == 0
    assert summary["fetched"] < 40  # only the window, not the whole catalogue


def test_dry_run_writes_nothing_and_shows_the_diffs(sync_env: SandboxHandle, db_url: str) -> None:
    summary = sync_products(scope="full", dry_run=True)
    stats = sync_env.state.stats()
    # One write call: the pre-run key check, an empty bulk update (Sazito has no authenticated read).
    assert stats["variant_writes"] == 0 and stats["write_calls"] == 1
    assert summary["pushed"] == expected_writes(sync_env.state) > 0
    assert summary["diffs"] and {"kind", "target", "source", "value"} <= set(summary["diffs"][0])
    assert list_failures(db_url) == []
    assert get_cursor(db_url, pipeline="anar360-sazito", key="products.window_start_ms") is None
