"""The guardrail end to end against the sandbox: a supplier's bad day (every stock 0, an empty listing) holds
the run with nothing sent; `release` sends what it held, `discard` drops it; a normal day never trips it."""

from __future__ import annotations

import pytest

from flows.release import release_held
from flows.sync_products import sync_products
from sync_core.engine.held import HELD, kept_back
from sync_core.engine.runs import get_run
from sync_core.engine.settle import discard
from sync_core.errors import ConfigError
from sync_core.health import health_report
from sync_core.sandbox.server import SandboxHandle
from sync_core.sandbox.verify import verify_store
from sync_core.settings import load_settings
from tests.operations.processes import webhook_receiver

pytestmark = pytest.mark.e2e
# The operator's paths on PostgreSQL (production's store); a normal day on both, and the command line's held
# run on SQLite (tests/flows/test_cli_guardrail.py).


def zero_every_stock(sandbox: SandboxHandle) -> int:
    """The supplier's bad day: every managed stock reads 0. How many stocks it changed."""
    changed = 0
    with sandbox.state.lock:
        for product in sandbox.state.catalogue.supplier_products:
            for variant in product.get("variants") or []:
                if (
                    isinstance(variant, dict)
                    and isinstance(variant.get("stock"), int)
                    and variant["stock"] > 0
                ):
                    variant["stock"] = 0
                    changed += 1
    return changed


def test_a_normal_day_never_trips_it(sync_env: SandboxHandle) -> None:
    first = sync_products(scope="full")
    assert first["status"] == "partial" and first["guard"]["stock_zeroed_percent"] <= 20, first["guard"]
    sync_env.state.mutate(10, seed=5)
    again = sync_products(scope="full")
    assert again["status"] == "partial" and "held_writes" not in again["guard"]
    assert verify_store(sync_env.state).ok


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_every_stock_zero_holds_the_run_with_nothing_sent_then_release_sends_it(
    sync_env: SandboxHandle, db_url: str
) -> None:
    sync_products(scope="full")
    assert zero_every_stock(sync_env) > 10
    sync_env.state.reset_stats()
    held = sync_products(scope="full")
    assert held["status"] == "held", held
    assert "GUARD_MAX_STOCK_ZEROED_PERCENT" in held["error"] and f"release {held['run_id']}" in held["error"]
    assert sync_env.state.stats()["variant_writes"] == 0  # nothing of the bad day reached the store
    rows = kept_back(db_url, run_id=held["run_id"], status=HELD)
    assert rows and {r.reason for r in rows} == {"stock-zeroed"}
    assert held["guard"]["held_writes"] == len(rows)

    released = release_held(run_id=held["run_id"])
    assert released["status"] == "success" and released["release"]["released"] == len(rows)
    assert sync_env.state.stats()["variant_writes"] == len(rows)
    assert verify_store(sync_env.state).ok
    run = get_run(db_url, run_id=held["run_id"])
    assert run is not None and run.status == "released"
    again = sync_products(scope="full")  # the store now holds what the supplier says: nothing to write
    assert again["pushed"] == 0 and again["status"] == "partial"


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_held_run_alerts_and_discard_drops_its_writes(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_products(scope="full")
    zero_every_stock(sync_env)
    with webhook_receiver() as receiver:
        monkeypatch.setenv("NOTIFY_WEBHOOK_URL", receiver.url)
        held = sync_products(scope="full")
    assert held["status"] == "held"
    [alert] = receiver.received  # through the alert block: one message naming the run and the way out
    assert f"run {held['run_id']} of anar360-sazito held" in alert["subject"]
    assert "GUARD_MAX_STOCK_ZEROED_PERCENT" in alert["body"] and f"discard {held['run_id']}" in alert["body"]
    problems = health_report(load_settings())["problems"]
    assert any(f"run {held['run_id']} of anar360-sazito is held" in p for p in problems), problems
    sync_env.state.reset_stats()
    dropped = discard(db_url, held["run_id"])
    assert dropped > 0 and sync_env.state.stats()["variant_writes"] == 0
    run = get_run(db_url, run_id=held["run_id"])
    assert run is not None and run.status == "discarded"
    with pytest.raises(ConfigError, match="is discarded, not held"):
        discard(db_url, held["run_id"])


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_an_empty_listing_holds_a_full_run(sync_env: SandboxHandle) -> None:
    first = sync_products(scope="full")
    with sync_env.state.lock:
        sync_env.state.catalogue.supplier_products[:] = []
    sync_env.state.reset_stats()
    empty = sync_products(scope="full")
    assert empty["status"] == "held", empty
    assert empty["guard"]["listed"] == 0 and empty["guard"]["listed_before"] == first["fetched"]
    assert "GUARD_MAX_SOURCE_SHRINK_PERCENT" in empty["error"]
    assert sync_env.state.stats()["variant_writes"] == 0


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_dry_run_says_what_would_trip(sync_env: SandboxHandle, db_url: str) -> None:
    sync_products(scope="full")
    zero_every_stock(sync_env)
    dry = sync_products(scope="full", dry_run=True)
    assert dry["status"] == "partial"  # the sandbox's broken records; a dry run holds nothing
    assert any("GUARD_MAX_STOCK_ZEROED_PERCENT" in line for line in dry["guard"]["would_hold"])
    assert dry["reasons"]["guard:stock-zeroed"] > 0


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_drift_repair_leaves_what_the_guardrail_would_keep_back_to_a_sync(sync_env: SandboxHandle) -> None:
    from flows.check_drift import check_drift

    sync_products(scope="full")
    assert zero_every_stock(sync_env) > 0
    sync_env.state.reset_stats()
    report = check_drift(pipeline="anar360-sazito", repair=True)
    # Every value the source moved is a stocked item going to 0: none is written by the repair.
    assert report["drift_source_moved"] == report["drift_left_to_sync"] > 0
    assert report["pushed"] == 0 and sync_env.state.stats()["variant_writes"] == 0
