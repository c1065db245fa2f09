"""What an operator sees after a run: audit rows without secrets, semantic events, artifacts, health."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from uuid import UUID

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from prefect.events import Event
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventRelatedFilter
from sqlmodel import select

from flows.maintenance import health_report_flow, sync_catalogue
from flows.sync_products import sync_products
from sync_core.db import session_scope
from sync_core.engine.runs import get_run, run_journal
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
    since = datetime.now(UTC)
    summary = sync_products(scope="full")
    kinds = {e.kind for e in run_journal(db_url, run_id=summary["run_id"])}
    assert {"variant_price_updated", "variant_stock_updated", "item_failed", "skipped"} <= kinds
    run = get_run(db_url, run_id=summary["run_id"])
    assert run is not None and run.flow_run_id
    flow_run_id = run.flow_run_id

    async def artifact_keys() -> set[str]:
        async with get_client() as client:
            return {a.key for a in await client.read_artifacts() if a.key}

    keys = asyncio.run(artifact_keys())
    assert {"anar360-sazito-full-summary", "anar360-sazito-progress", "anar360-sazito-full-report"} <= keys

    async def report_markdown() -> str:
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=["anar360-sazito-full-report"]),
                    flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)]),
                )
            )
        assert len(artifacts) == 1
        return str(artifacts[0].data)

    report = asyncio.run(report_markdown())
    assert report.startswith(f"# Run {summary['run_id']}: anar360-sazito full")
    assert re.search(r"^- p95 request duration: \d+ ms$", report, re.M)
    assert "## Slowest endpoints" in report and "`/accounting/bulk-update-" in report
    assert "## Failures by reason" in report and "| map | " in report

    events = prefect_events(
        flow_run_id, since, wanted={"catalog-sync.run-summary", "catalog-sync.items-quarantined"}
    )
    (done,) = [e for e in events if e.event == "catalog-sync.run-summary"]
    assert done.resource.id == f"catalog-sync.run.{summary['run_id']}"
    assert "catalog-sync.pipeline.anar360-sazito" in {r.id for r in done.related}
    assert {k: done.payload[k] for k in ("status", "pushed", "failed", "requests")} == {
        k: summary[k] for k in ("status", "pushed", "failed", "requests")
    }
    quarantined = [e for e in events if e.event == "catalog-sync.items-quarantined"]
    assert quarantined and all(e.resource.id == "catalog-sync.pipeline.anar360-sazito" for e in quarantined)
    assert sum(e.payload["count"] for e in quarantined) == summary["failed"]
    assert all(
        reason.startswith(("invalid:", "push:")) for e in quarantined for reason in e.payload["reasons"]
    )


def prefect_events(flow_run_id: str, since: datetime, wanted: set[str], timeout_s: float = 30) -> list[Event]:
    """The catalog-sync events a flow run emitted, once the server has stored every one of ``wanted``."""

    async def read() -> list[Event]:
        query = EventFilter(
            occurred=EventOccurredFilter(since=since),
            event=EventNameFilter(name=sorted(wanted)),
            related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
        )
        async with get_client() as client:
            page = await client.read_events(filter=query, limit=50)
            events = list(page.events)
            while page.next_page:
                page = await client.read_events_page(str(page.next_page))
                events += page.events
        return events

    deadline = time.monotonic() + timeout_s
    while True:
        events = asyncio.run(read())
        if wanted <= {e.event for e in events} or time.monotonic() > deadline:
            assert wanted <= {e.event for e in events}, f"events seen: {sorted(e.event for e in events)}"
            return events
        time.sleep(0.5)


def test_catalogue_flow_and_health_report(sync_env: SandboxHandle, db_url: str) -> None:
    catalogue = sync_catalogue()
    assert catalogue["status"] == "success" and catalogue["catalogue_variants"] > 0
    report = health_report_flow()
    assert report["database"] == "ok"
    assert {(r["pipeline"], r["scope"]) for r in report["last_runs"]} == {("anar360-sazito", "catalogue")}
    with session_scope(db_url) as session:
        assert session.exec(select(sa.func.count()).select_from(ExternalRequest)).one() > 0
