"""The operations path end to end, with real processes on loopback: `prefect server start`, `catalog-sync
deploy`, a process worker, `prefect deployment run`, and the automations reacting to a failed run."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Cancelling
from sqlmodel import select

from deployments.spec import AUTOMATION_PREFIX, WORK_POOL, project_deployments
from sync_core.db import session_scope
from sync_core.engine.runs import aware, recent_runs
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle, running_sandbox
from sync_core.sandbox.verify import verify_store
from sync_core.tables import CircuitBreakerRow, SyncCursor, SyncRun
from tests.operations.processes import (
    Process,
    WebhookReceiver,
    free_port,
    http_ok,
    start,
    wait_until,
    webhook_receiver,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Stack:
    api_url: str
    env: dict[str, str]
    tmp: Path
    sandbox: SandboxHandle
    webhook: WebhookReceiver
    server: Process
    worker: Process
    first_setup: str

    def api(self, call: Callable[[PrefectClient], Coroutine[Any, Any, Any]]) -> Any:
        async def run() -> Any:
            async with get_client() as client:
                return await call(client)

        with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
            return asyncio.run(run())

    def command(self, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s
        )

    def logs(self) -> str:
        return "\n".join(p.tail() for p in (self.server, self.worker))


def _environment(tmp: Path, port: int, sandbox: SandboxHandle, webhook: WebhookReceiver) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp / "prefect-home"),
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DATABASE_URL=f"sqlite:///{tmp / 'state.db'}",
        ANAR360_BASE=sandbox.anar360_base,
        ANAR360_TOKEN=sandbox.anar360_token,
        SAZITO_BASE=sandbox.sazito_base,
        SAZITO_KEY=sandbox.sazito_key,
        RATE_LIMIT_PER_MIN="100000",
        HTTP_RETRIES="1",
        HTTP_RETRY_BACKOFF_MS="10",
        NOTIFY_WEBHOOK_URL=webhook.url,
        CATALOG_SYNC_HOME=str(ROOT),
    )
    return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("operations")
    port = free_port()
    processes: list[Process] = []
    with (
        running_sandbox(SandboxConfig(products=60, variants=2, seed=4)) as sandbox,
        webhook_receiver() as webhook,
    ):
        env = _environment(tmp, port, sandbox, webhook)
        try:
            server = start(
                "prefect-server",
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                cwd=tmp,
                logs=tmp,
            )
            processes.append(server)
            wait_until(lambda: http_ok(f"{env['PREFECT_API_URL']}/health"), timeout_s=120, what="the server")
            setup = subprocess.run(
                [sys.executable, "-m", "catalog_sync.cli", "deploy"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert setup.returncode == 0, setup.stdout + setup.stderr + server.tail()
            # The worker starts elsewhere: the deployments' pull step moves flow runs into the checkout.
            worker = start(
                "worker",
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", WORK_POOL],
                env=env,
                cwd=tmp,
                logs=tmp,
            )
            processes.append(worker)
            yield Stack(env["PREFECT_API_URL"], env, tmp, sandbox, webhook, server, worker, setup.stdout)
        finally:
            for process in reversed(processes):
                process.stop()


def _server_state(stack: Stack) -> dict[str, Any]:
    """What the set-up command manages, with ids, so a second run can be shown to change nothing."""

    async def read(client: PrefectClient) -> dict[str, Any]:
        pool = await client.read_work_pool(WORK_POOL)
        limits = {
            name: (lim.limit, lim.slot_decay_per_second, lim.id)
            for name in (
                "anar360-requests",
                "sazito-requests",
                "ingram-pna-requests",
                "ingram-details-requests",
            )
            for lim in [await client.read_global_concurrency_limit_by_name(name)]
        }
        deployments = {
            d.name: (d.id, d.entrypoint, d.parameters, [(s.id, s.schedule.cron) for s in d.schedules])  # type: ignore[union-attr]
            for d in await client.read_deployments()
        }
        automations = sorted(
            (a.name, a.id, a.enabled)
            for a in await client.read_automations()
            if a.name.startswith(AUTOMATION_PREFIX)
        )
        return {
            "pool": (pool.id, pool.type),
            "limits": limits,
            "deployments": deployments,
            "automations": automations,
        }

    return dict(stack.api(read))


def _run_deployment(stack: Stack, name: str) -> UUID:
    done = stack.command("-m", "prefect", "deployment", "run", name)
    assert done.returncode == 0, done.stdout + done.stderr
    match = re.search(r"UUID: ([0-9a-f-]{36})", done.stdout)
    assert match, done.stdout
    return UUID(match.group(1))


def _wait_for_end(stack: Stack, flow_run_id: UUID, timeout_s: float = 240) -> str:
    async def state(client: PrefectClient) -> str | None:
        run = await client.read_flow_run(flow_run_id)
        return run.state.type.value if run.state and run.state.type.value in TERMINAL else None

    try:
        return str(
            wait_until(
                lambda: stack.api(state), timeout_s=timeout_s, what=f"flow run {flow_run_id}", poll_s=1
            )
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.logs()}") from None


def test_setup_creates_pool_limits_deployments_automations_and_a_second_run_changes_nothing(
    stack: Stack,
) -> None:
    assert "created   work pool     catalog-sync (process)" in stack.first_setup
    before = _server_state(stack)
    assert before["pool"][1] == "process"
    assert before["limits"]["anar360-requests"][:2] == (1667, pytest.approx(1666.6667))
    wanted = {d["name"]: d for d in project_deployments()}
    assert set(before["deployments"]) == set(wanted)
    for name, (_, entrypoint, parameters, schedules) in before["deployments"].items():
        assert entrypoint == wanted[name]["entrypoint"]
        assert parameters == (wanted[name].get("parameters") or {})
        assert [cron for _, cron in schedules] == [s["cron"] for s in wanted[name]["schedules"]]
    assert [name for name, _, enabled in before["automations"] if enabled] == [
        AUTOMATION_PREFIX + "notify when a provider circuit opens",
        AUTOMATION_PREFIX + "notify when no incremental sync completed (anar360-sazito)",
        AUTOMATION_PREFIX + "notify when no incremental sync completed (ploomes-products)",
        AUTOMATION_PREFIX + "replay failures after a failed ingram sync",
        AUTOMATION_PREFIX + "replay failures after a failed product sync",
    ]

    # The server's scheduler creates the cron runs (it did not with SQLAlchemy 2.1: see pyproject.toml).
    async def scheduled(client: PrefectClient) -> set[UUID]:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=["SCHEDULED"]))
            ),
            limit=200,
        )
        return {run.deployment_id for run in runs if run.deployment_id}

    deployment_ids = {d[0] for d in before["deployments"].values() if d[3]}  # those with a schedule
    wait_until(
        lambda: stack.api(scheduled) >= deployment_ids,
        timeout_s=120,
        what="scheduled runs of every scheduled deployment",
    )

    again = stack.command("-m", "catalog_sync.cli", "deploy")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 change(s)" in again.stdout
    assert not [
        line for line in again.stdout.splitlines() if line.startswith(("created", "updated", "deleted"))
    ]
    assert _server_state(stack) == before


def test_manual_full_sync_through_the_worker_completes_with_its_artifacts(stack: Stack) -> None:
    flow_run_id = _run_deployment(stack, "sync-products/anar360-sazito-full")
    assert _wait_for_end(stack, flow_run_id) == "COMPLETED", stack.logs()
    assert verify_store(stack.sandbox.state).ok

    async def artifacts(client: PrefectClient) -> set[str]:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        return {a.key for a in found if a.key}

    keys = stack.api(artifacts)
    assert {"anar360-sazito-full-summary", "anar360-sazito-full-report", "anar360-sazito-progress"} <= keys, (
        keys
    )


def test_a_failed_sync_starts_retry_failures_and_the_open_circuit_is_notified(stack: Stack) -> None:
    stack.sandbox.state.configure(fault_rate=1.0)
    try:
        flow_run_id = _run_deployment(stack, "sync-products/anar360-sazito-incremental")
        assert _wait_for_end(stack, flow_run_id) == "FAILED"
    finally:
        stack.sandbox.state.configure(fault_rate=0.0)

    async def retry_runs(client: PrefectClient) -> list[Any]:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["anar360-sazito-retry"]))
        )
        # Only the automation's: the scheduler also creates retry-failures runs (every 15 minutes).
        return [run for run in runs if run.created_by is not None and run.created_by.type == "AUTOMATION"]

    runs = wait_until(lambda: stack.api(retry_runs), timeout_s=90, what="the automation's retry-failures run")
    assert _wait_for_end(stack, runs[0].id) == "COMPLETED"

    # The supplier's circuit opened and was notified (a scheduled run of another deployment that met the
    # faults may have opened the store's too, and been notified first).
    alerts = wait_until(
        lambda: [a for a in stack.webhook.received if "circuit opened" in str(a.get("subject"))],
        timeout_s=60,
        what="the circuit-open notification",
    )
    assert any("catalog-sync.provider.anar360" in str(a["subject"]) for a in alerts), alerts


def _run_of(database: str, flow_run_id: UUID) -> SyncRun | None:
    return next((r for r in recent_runs(database, limit=100) if r.flow_run_id == str(flow_run_id)), None)


def _products_cursor(database: str) -> SyncCursor | None:
    with session_scope(database) as session:
        return session.exec(select(SyncCursor).where(SyncCursor.key == "products.window_start_ms")).first()


def test_a_run_cancelled_from_the_ui_is_recorded_cancelled_and_its_cursor_stays(stack: Stack) -> None:
    state, database = stack.sandbox.state, stack.env["DATABASE_URL"]
    with session_scope(database) as session:  # the failing test before left a circuit open; all is up again
        session.execute(sa.delete(CircuitBreakerRow))
    before = _products_cursor(database)
    state.mutate(40, seed=8)  # something to write
    # Every call slow (scheduled runs of the stack may run too, so no write count is ours alone): the run
    # lasts long enough for the worker to see the cancellation and stop it mid-way.
    state.configure(latency_ms=3000)
    try:
        flow_run_id = _run_deployment(stack, "sync-products/anar360-sazito-full")
        wait_until(lambda: _run_of(database, flow_run_id), timeout_s=240, what="the run to take its lease")
        stack.api(lambda client: client.set_flow_run_state(flow_run_id, Cancelling(), force=True))
        assert _wait_for_end(stack, flow_run_id) == "CANCELLED", stack.logs()
    finally:
        state.configure(latency_ms=0)
    run = _run_of(database, flow_run_id)
    assert run is not None and run.status == "cancelled" and "SIGTERM" in (run.error or ""), run
    after = _products_cursor(database)
    # Not moved by this run. Scheduled runs of the stack may move it before this run took the lease, or
    # (having waited for the lease) once it ended: never while it ran.
    assert run.finished_at is not None
    moved_meanwhile = after is not None and (
        aware(run.started_at) <= aware(after.moved_at) <= aware(run.finished_at)  # type: ignore[operator]
    )
    assert after == before or not moved_meanwhile, (after, run)
