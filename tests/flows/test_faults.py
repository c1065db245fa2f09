"""Convergence under injected 5xx, 429 bursts and rejected variants; replay of failures."""

from __future__ import annotations

import pytest

from flows.maintenance import retry_failures
from flows.sync_products import sync_products
from sync_core.failures import list_failures
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle
from sync_core.sandbox.verify import verify_store

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(
        products=150, variants=3, seed=5, fault_rate=0.05, burst_429_every=20, burst_429_length=2
    )


def test_five_percent_5xx_and_429_bursts_still_converge(
    sync_env: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNC_PAGE_LIMIT", "10")  # more, smaller calls: more chances for faults to land
    monkeypatch.setenv("SAZITO_PAGE_SIZE", "10")
    summary = sync_products(scope="full")
    stats = sync_env.state.stats()
    assert stats["faults_injected"] > 0 and stats["throttled_429"] > 0
    assert verify_store(sync_env.state).ok, summary
    assert stats["noop_writes"] == 0
    sync_env.state.reset_stats()
    sync_products(scope="full")
    assert sync_env.state.stats()["variant_writes"] == 0


def test_rejected_variants_become_failures_and_die_after_max_attempts(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_env.state.configure(fault_rate=0.0, burst_429_every=0, rejected_fraction=0.1)
    monkeypatch.setenv("FAILURE_MAX_ATTEMPTS", "3")
    summary = sync_products(scope="full")
    rejected = [f for f in list_failures(db_url) if f.context.startswith("push:")]
    assert rejected and summary["status"] == "partial"
    assert {f.error_class for f in rejected} <= {
        "RejectedByStore",
        "InvalidRequest",
    }  # bulk list or per-variant 422
    retry_failures()
    retry = retry_failures()
    assert retry["replay"]["dead"] == len(rejected)
    assert all(f.status == "dead" for f in list_failures(db_url) if f.context.startswith("push:"))


def test_replayed_failures_resolve_when_the_store_accepts_them(sync_env: SandboxHandle, db_url: str) -> None:
    sync_env.state.configure(fault_rate=0.0, burst_429_every=0, rejected_fraction=0.1)
    sync_products(scope="full")
    sync_env.state.configure(rejected_fraction=0.0)
    summary = retry_failures()
    assert summary["replay"]["resolved"] > 0 and summary["status"] == "success"
    assert not [f for f in list_failures(db_url, status="pending") if f.context.startswith("push:")]
    assert verify_store(sync_env.state).ok
