"""What an operator sees after a run: audit rows without secrets, semantic events, artifacts, health."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from sqlmodel import select

from flows.maintenance import health_report_flow, sync_catalogue
from flows.sync_products import sync_products
from sync_core.db import session_scope
from sync_core.runs import run_events
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle
from sync_core.tables import ExternalRequest

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=30, variants=2, seed=4, bad_record_fraction=0.1, fault_rate=0.05)


def test_every_request_is_audited_without_secrets(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_BODIES", "true")
    summary = sync_products(scope="full")
    with session_scope(db_url) as session:
        rows = list(session.exec(select(ExternalRequest).where(ExternalRequest.run_id == summary["run_id"])))
    assert len(rows) == summary["requests"] == sync_env.state.stats()["requests_total"]
    assert {r.provider for r in rows} == {"anar360", "sazito"}
    assert {r.outcome for r in rows} <= {"success", "retry", "fail", "timeout", "circuit_open"}
    assert all(r.correlation_id and r.duration_ms >= 0 for r in rows)
    text = " ".join(f"{r.url} {r.error} {r.request_body} {r.response_body}" for r in rows)
    assert sync_env.anar360_token not in text and sync_env.sazito_key not in text
    assert any(r.request_body for r in rows if r.method == "PUT")


def test_runs_leave_events_and_artifacts(sync_env: SandboxHandle, db_url: str) -> None:
    summary = sync_products(scope="full")
    kinds = {e.kind for e in run_events(db_url, run_id=summary["run_id"])}
    assert {"variant_price_updated", "variant_stock_updated", "item_failed", "skipped"} <= kinds

    async def artifact_keys() -> set[str]:
        async with get_client() as client:
            return {a.key for a in await client.read_artifacts() if a.key}

    keys = asyncio.run(artifact_keys())
    assert {"anar360-sazito-full-summary", "anar360-sazito-progress"} <= keys


def test_catalogue_flow_and_health_report(sync_env: SandboxHandle, db_url: str) -> None:
    catalogue = sync_catalogue()
    assert catalogue["status"] == "success" and catalogue["catalogue_variants"] > 0
    report = health_report_flow()
    assert report["database"] == "ok"
    assert {(r["pipeline"], r["scope"]) for r in report["last_runs"]} == {("anar360-sazito", "catalogue")}
    with session_scope(db_url) as session:
        assert session.exec(select(sa.func.count()).select_from(ExternalRequest)).one() > 0
