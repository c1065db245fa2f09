"""Convergence under injected 5xx, 429 bursts and rejected variants; replay of failures."""

from __future__ import annotations

import pytest

from flows.maintenance import retry_failures
from flows.sync_products import sync_products
from sync_core.db import session_scope
from sync_core.engine.failures import list_failures
from sync_core.engine.ledger import record_values
from sync_core.models import Write
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle
from sync_core.sandbox.verify import verify_store
from sync_core.tables import Failure

pytestmark = pytest.mark.e2e
# The slowest cases on PostgreSQL only (production's store); tests/flows/test_fault_matrix.py drives every
# pipeline through each fault on SQLite.


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(
        products=150, variants=3, seed=5, fault_rate=0.05, burst_429_every=20, burst_429_length=2
    )


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
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


def pending_pushes(db_url: str) -> list[Failure]:
    return [f for f in list_failures(db_url, status="pending", limit=10_000) if f.context.startswith("push:")]


def sync_through_a_proxy_that_loses_every_answer(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full sync whose bulk writes all land, each answered with an HTML error page; then the proxy heals."""
    sandbox.state.configure(fault_rate=0.0, burst_429_every=0, html_answer_fraction=1.0)
    monkeypatch.setenv("HTTP_RETRIES", "0")
    assert sync_products(scope="full")["status"] == "partial"
    sandbox.state.configure(html_answer_fraction=0.0)
    sandbox.state.reset_stats()


def test_writes_that_landed_but_were_answered_with_an_html_page_are_resolved_not_resent(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = sync_env.state
    sync_through_a_proxy_that_loses_every_answer(sync_env, monkeypatch)
    assert pending_pushes(db_url) and verify_store(state).ok  # pending, though every write landed
    second = sync_products(scope="full")  # its catalogue read shows the store holds those values
    assert second["pushed"] == 0 and state.stats()["variant_writes"] == 0
    assert not pending_pushes(db_url)
    assert retry_failures()["replay"]["due"] == 0
    assert (state.stats()["variant_writes"], state.stats()["noop_writes"]) == (0, 0)


def test_retry_never_sends_a_write_the_ledger_says_the_store_holds(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failures left pending by an older version after a converged run: replayed, they would be no-ops."""
    sync_through_a_proxy_that_loses_every_answer(sync_env, monkeypatch)
    pending = pending_pushes(db_url)
    with session_scope(db_url) as session:  # what the old full run left: the ledger knows, failures pending
        record_values(
            session,
            target="sazito",
            writes=[Write.from_payload(f.payload) for f in pending],
            origin="observed",
            run_id=None,
        )
    replay = retry_failures()["replay"]
    assert replay["already_held"] == len(pending) and replay.get("resolved", 0) == 0
    stats = sync_env.state.stats()
    assert (stats["variant_writes"], stats["noop_writes"]) == (0, 0)  # no no-op write
    assert not list_failures(db_url, status="pending")
