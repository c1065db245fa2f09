"""Two connections of one provider: two Sazito stores (two sandboxes) fed from one supplier keep separate
circuits, request budgets, ledgers, cursors and runs; one failing leaves the other's run untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlmodel import select

from flows.sync_products import sync_products
from sync_core.db import session_scope
from sync_core.engine.audit import circuit_states
from sync_core.engine.runs import get_cursor, recent_runs
from sync_core.http.pacing import shared_bucket
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle, running_sandbox
from sync_core.sandbox.verify import verify_store
from sync_core.tables import LedgerEntry

CURSOR = "products.window_start_ms"
SECOND = "anar360-sazito@target=store-b"


@pytest.fixture
def store_b(sandbox_config: SandboxConfig) -> Iterator[SandboxHandle]:
    """A second store with the same catalogue (same seed), so the same supplier SKUs link in both."""
    with running_sandbox(sandbox_config) as handle:
        yield handle


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=20, variants=2, seed=5, fault_rate=0.0, burst_429_every=0)


def connect(monkeypatch: pytest.MonkeyPatch, base_url: str, key: str) -> None:
    entry = {"name": "store-b", "provider": "sazito", "base_url": base_url, "secret_env": "STORE_B_KEY"}
    monkeypatch.setenv("CONNECTIONS", json.dumps([{**entry, "rate_limit_per_min": 1200}]))
    monkeypatch.setenv("STORE_B_KEY", key)


def ledger_targets(url: str) -> dict[str, int]:
    with session_scope(url) as session:
        targets = [row.target for row in session.exec(select(LedgerEntry))]
    return {name: targets.count(name) for name in sorted(set(targets))}


def test_two_stores_of_one_provider_keep_their_own_state(
    sync_env: SandboxHandle, store_b: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, store_b.sazito_base, store_b.sazito_key)
    first = sync_products(scope="full")
    second = sync_products(scope="full", connections={"target": "store-b"})
    assert isinstance(first, dict) and isinstance(second, dict)
    assert (first["pipeline"], second["pipeline"]) == ("anar360-sazito", SECOND)
    assert first["pushed"] > 0 and second["pushed"] == first["pushed"]
    assert verify_store(sync_env.state).ok and verify_store(store_b.state).ok
    ledger = ledger_targets(db_url)
    assert set(ledger) == {"sazito", "store-b"} and ledger["sazito"] == ledger["store-b"]
    assert get_cursor(db_url, pipeline="anar360-sazito", key=CURSOR) is not None
    assert get_cursor(db_url, pipeline=SECOND, key=CURSOR) is not None
    # Each connection paces with its own budget.
    assert shared_bucket("store-b", 1200) is not shared_bucket("sazito", 60000)
    assert shared_bucket("store-b", 1200).rate_per_s == pytest.approx(20.0)


def test_one_store_failing_leaves_the_other_untouched(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIRCUIT_FAILURE_THRESHOLD", "2")
    monkeypatch.setenv("HTTP_RETRIES", "1")
    connect(monkeypatch, "http://127.0.0.1:9/sazito/api/v1", "store-b-key")  # nothing listens on port 9
    with pytest.raises(Exception, match="store-b"):
        sync_products(scope="full", connections={"target": "store-b"})
    assert any(
        name.startswith("store-b") and state == "open" for name, state in circuit_states(db_url).items()
    )

    healthy = sync_products(scope="full")
    assert isinstance(healthy, dict) and healthy["status"] == "success" and healthy["pushed"] > 0
    assert verify_store(sync_env.state).ok
    assert not any(
        name.startswith("sazito") and state != "closed" for name, state in circuit_states(db_url).items()
    )
    runs = {run.pipeline: run.status for run in recent_runs(db_url, limit=10)}
    assert runs == {SECOND: "failed", "anar360-sazito": "success"}
    assert get_cursor(db_url, pipeline=SECOND, key=CURSOR) is None
