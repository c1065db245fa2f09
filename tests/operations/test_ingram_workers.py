"""sync-ingram spread over two process workers of a real Prefect server, end to end: `prefect server start`
(on a throw-away PostgreSQL database), `catalog-sync deploy`, `catalog-sync ingram track --file`, two
`prefect worker start --pool catalog-sync`, a run of sync-ingram/ingram-every-6h with shards=2 and force=true
(as `prefect deployment run ... --param shards=2 --param force=true` makes it), against the sandbox's Ingram
Micro simulator limited per minute on both endpoints; the workers share a PostgreSQL state store and have the
same environment, with INGRAM_PNA_RATE_PER_MIN / INGRAM_DETAILS_RATE_PER_MIN equal to the sandbox's limits.

Both workers run a shard, at the same time; the table equals the oracle; the parent's run row sums the
shards'; and the two workers together stay within the sandbox's limits, because every process takes its calls
from the same Prefect global limits (ingram-pna-requests, ingram-details-requests: USE_PREFECT_RATE_LIMITS is
on by default when PREFECT_API_URL is set) instead of each pacing alone at the whole rate.

Which worker takes which run: a process worker takes every scheduled run it finds in a poll, up to its
``--limit``. So worker A starts alone with ``--limit 2`` and picks up the parent, which leaves it room for
one shard; worker B starts once A has the parent, with ``--limit 1``: each takes exactly one shard, whichever
polls first.

Only the details endpoint gets more calls than a minute's budget (400 at 360/min: about 67 s of calls), so
only there could pacing break the limit (two workers pacing alone would send 720 a minute). Price and
availability is 10 calls (two shards of ~203 parts, 50 a call) at Ingram's published 60/min: within the
limit whatever the pacing; making it exceed a minute's budget too would add another minute (the run prices
every batch before it fetches any details).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlmodel import select

from deployments.spec import WORK_POOL
from sync_core.db import session_scope, upgrade
from sync_core.engine.connections import window_requests_limit_shape
from sync_core.engine.runs import COUNTERS
from sync_core.pipelines.ingram.tables import IngramProduct
from sync_core.sandbox.ingram_oracle import verify_ingram_table
from sync_core.sandbox.records import SandboxConfig
from sync_core.sandbox.server import SandboxHandle, running_sandbox
from sync_core.tables import Failure, SyncRun
from tests.conftest import PG_URL, _drop_pg_database, _pg_test_database
from tests.operations.processes import Process, free_port, http_ok, start, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

KNOWN, UNKNOWN = 400, 5
SHARDS = 2
PNA_CALLS = 10  # two shards of 203 and 202 parts, 50 a call
PNA_PER_MIN, DETAILS_PER_MIN = 60, 360  # Ingram's published 60/min; details at 6/s, so 400 take over a minute
MAX_429 = 2  # "no or very few": a 429 would cost a wait until the sandbox's minute ends
WORKERS = ("ingram-worker-a", "ingram-worker-b")
PARENT = "sync-ingram/ingram-every-6h"
SHARD_DEPLOYMENT = "ingram-shard"


@dataclass
class Stack:
    api_url: str
    env: dict[str, str]
    tmp: Path
    database: str
    sandbox: SandboxHandle
    processes: dict[str, Process]

    def api(self, call: Callable[[PrefectClient], Coroutine[Any, Any, Any]]) -> Any:
        async def run() -> Any:
            async with get_client() as client:
                return await call(client)

        with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
            return asyncio.run(run())

    def command(self, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s
        )
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Process:
        process = start(name, [sys.executable, *args], env=env or self.env, cwd=self.tmp, logs=self.tmp)
        self.processes[name] = process
        return process

    def logs(self) -> str:
        return "\n".join(p.tail(60) for p in self.processes.values())


@pytest.fixture(scope="module")
def databases() -> Iterator[tuple[str, str]]:
    """Two throw-away PostgreSQL databases: the state store the workers share, and the Prefect server's (on
    SQLite the server's writes wait on its file lock, up to a minute under two workers' traffic, and the
    shared limits' takes with them). Skipped without a PostgreSQL server, except in CI."""
    made: list[str] = []
    try:
        for _ in range(2):
            url = _pg_test_database()
            if url is None:
                pytest.skip(f"no PostgreSQL at {PG_URL} (set CATALOG_SYNC_TEST_PG_URL); CI runs this")
            made.append(url)
        state, server = made
        upgrade(state)
        yield state, server.replace("postgresql+psycopg://", "postgresql+asyncpg://", 1)
    finally:
        for url in made:
            _drop_pg_database(url)


def _environment(tmp: Path, port: int, sandbox: SandboxHandle, database: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "INGRAM_"))}
    env.update(
        {name.upper(): value for name, value in sandbox.settings().items() if name.startswith("ingram_")},
        PREFECT_HOME=str(tmp / "prefect-home"),
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="2",
        DATABASE_URL=database,
        ANAR360_BASE=sandbox.anar360_base,
        ANAR360_TOKEN=sandbox.anar360_token,
        SAZITO_BASE=sandbox.sazito_base,
        SAZITO_KEY=sandbox.sazito_key,
        INGRAM_PNA_RATE_PER_MIN=str(PNA_PER_MIN),
        INGRAM_DETAILS_RATE_PER_MIN=str(DETAILS_PER_MIN),
        CATALOG_SYNC_HOME=str(ROOT),
    )
    return env


def _quiet_schedules(stack: Stack) -> None:
    """Switch off every deployment's schedules (which deletes their scheduled runs): only this test's runs
    reach the workers, and no scheduled ingram-retry run takes the pipeline's lease mid-test."""

    async def switch_off(client: PrefectClient) -> None:
        for deployment in await client.read_deployments():
            for schedule in deployment.schedules:
                await client.update_deployment_schedule(deployment.id, schedule.id, active=False)

    stack.api(switch_off)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, databases: tuple[str, str]) -> Iterator[Stack]:
    state_store, server_database = databases
    tmp = tmp_path_factory.mktemp("ingram-workers")
    port = free_port()
    config = SandboxConfig(
        products=2,
        variants=1,
        seed=12,
        ingram_parts=KNOWN,
        ingram_pna_rate_per_min=PNA_PER_MIN,
        ingram_details_rate_per_min=DETAILS_PER_MIN,
    )
    with running_sandbox(config) as sandbox:
        env = _environment(tmp, port, sandbox, state_store)
        server_env = env | {"PREFECT_API_DATABASE_CONNECTION_URL": server_database}
        stack = Stack(env["PREFECT_API_URL"], env, tmp, state_store, sandbox, {})
        try:
            server = ("-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port))
            stack.start("prefect-server", *server, env=server_env)
            wait_until(lambda: http_ok(f"{stack.api_url}/health"), timeout_s=120, what="the server")
            stack.command("-m", "catalog_sync.cli", "deploy")
            _quiet_schedules(stack)
            yield stack
        finally:
            for process in reversed(list(stack.processes.values())):
                process.stop()


def _state(stack: Stack, flow_run_id: UUID) -> str | None:
    async def read(client: PrefectClient) -> str | None:
        run = await client.read_flow_run(flow_run_id)
        return run.state.type.value if run.state else None

    result: str | None = stack.api(read)
    return result


def _wait_for(stack: Stack, flow_run_id: UUID, states: set[str], timeout_s: float) -> str:
    try:
        found = wait_until(
            lambda: (state := _state(stack, flow_run_id)) in states and state,
            timeout_s=timeout_s,
            what=f"flow run {flow_run_id} to be {' or '.join(sorted(states))}",
            poll_s=1,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.logs()}") from None
    return str(found)


def _run_deployment(stack: Stack, name: str, parameters: dict[str, Any]) -> UUID:
    """Start a run of deployment ``name`` (as `prefect deployment run NAME --param ...` does)."""

    async def create(client: PrefectClient) -> UUID:
        deployment = await client.read_deployment_by_name(name)
        run = await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
        return run.id

    flow_run_id: UUID = stack.api(create)
    return flow_run_id


def _shard_runs(stack: Stack) -> list[Any]:
    async def read(client: PrefectClient) -> list[Any]:
        return list(
            await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[SHARD_DEPLOYMENT]))
            )
        )

    runs: list[Any] = stack.api(read)
    return runs


def _worker_of(stack: Stack, flow_run_id: UUID) -> str | None:
    """The worker that started a flow run, from the run's own logs on the server ("Worker '<name>'
    submitting flow run '<id>'", which the worker writes to the run's logger)."""

    async def read(client: PrefectClient) -> list[str]:
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200
        )
        return [log.message for log in logs]

    for message in stack.api(read):
        found = re.match(r"Worker '([^']+)' submitting flow run", message)
        if found:
            return found.group(1)
    return None


def _run_rows(database: str, flow_run_ids: list[UUID]) -> dict[str, SyncRun]:
    with session_scope(database) as session:
        query = select(SyncRun).where(SyncRun.flow_run_id.in_([str(i) for i in flow_run_ids]))  # type: ignore[union-attr]
        return {str(row.flow_run_id): row for row in session.exec(query)}


def test_two_workers_share_the_shards_and_one_rate_budget(stack: Stack) -> None:
    sandbox = stack.sandbox
    parts = sandbox.state.ingram_parts[:KNOWN] + sandbox.state.ingram.unknown_parts(UNKNOWN)
    parts_file = stack.tmp / "parts.txt"
    parts_file.write_text("\n".join(parts) + "\n")
    tracked = stack.command("-m", "catalog_sync.cli", "ingram", "track", "--file", str(parts_file))
    assert f"tracking {len(parts)} part number(s)" in tracked.stdout, tracked.stdout

    worker = ("-m", "prefect", "worker", "start", "--pool", WORK_POOL)
    stack.start(WORKERS[0], *worker, "--name", WORKERS[0], "--limit", "2")
    sandbox.state.reset_stats()
    began = time.monotonic()
    parent = _run_deployment(stack, PARENT, {"shards": SHARDS, "force": True})
    _wait_for(stack, parent, {"PENDING", "RUNNING"} | TERMINAL, timeout_s=120)
    stack.start(WORKERS[1], *worker, "--name", WORKERS[1], "--limit", "1")

    assert _wait_for(stack, parent, TERMINAL, timeout_s=300) == "COMPLETED", stack.logs()
    wall_s = time.monotonic() - began

    # Both workers ran a shard, at the same time; the parent ran on the first.
    shards = _shard_runs(stack)
    assert len(shards) == SHARDS, shards
    assert {run.state.type.value for run in shards} == {"COMPLETED"}
    by_worker = {run.id: _worker_of(stack, run.id) for run in shards}
    assert sorted(str(name) for name in by_worker.values()) == sorted(WORKERS), (by_worker, stack.logs())
    assert _worker_of(stack, parent) == WORKERS[0]
    assert max(r.start_time for r in shards) < min(r.end_time for r in shards), "the shards did not overlap"

    # The table holds what the oracle says; the unknown parts are failures.
    with session_scope(stack.database) as session:
        rows = [row.model_dump() for row in session.exec(select(IngramProduct))]
    report = verify_ingram_table(sandbox.state, rows, parts, details=True)
    assert report.ok, report.to_json()
    with session_scope(stack.database) as session:  # the shards share the pipeline's failures
        failures = session.exec(select(Failure).where(Failure.pipeline == "ingram-catalogue")).all()
    assert sorted((f.item_key, f.context, f.status) for f in failures) == sorted(
        (part, "pna", "pending") for part in parts[KNOWN:]
    )

    # The parent's run row sums its shards' rows.
    runs = _run_rows(stack.database, [parent, *(run.id for run in shards)])
    assert set(runs) == {str(parent), *(str(run.id) for run in shards)}, runs
    parent_row = runs.pop(str(parent))
    for counter in COUNTERS:
        assert getattr(parent_row, counter) == sum(getattr(row, counter) for row in runs.values()), counter
    assert (parent_row.status, parent_row.pushed, parent_row.failed) == ("partial", KNOWN, UNKNOWN), (
        parent_row
    )
    assert sorted(row.pipeline for row in runs.values()) == [
        f"ingram-catalogue#{n}/{SHARDS}" for n in range(1, SHARDS + 1)
    ]

    # Together the two workers kept within each endpoint's limit a minute, through the shared Prefect limits.
    stats = sandbox.state.stats()["ingram"]
    shown = ("calls", "throttled_429", "max_per_minute", "max_per_minute_served", "max_in_flight")
    print(
        f"two workers: {wall_s:.1f} s from the deployment run to the parent's end; sandbox: "
        + "; ".join(
            f"{name} " + " ".join(f"{k}={stats[name][k]}" for k in shown) for name in ("pna", "details")
        )
    )
    for name, limit, needed in (("pna", PNA_PER_MIN, PNA_CALLS), ("details", DETAILS_PER_MIN, KNOWN)):
        figures = stats[name]
        assert figures["calls"] - figures["throttled_429"] == needed, (name, figures)
        assert figures["max_per_minute_served"] <= limit, (name, figures)
        assert figures["throttled_429"] <= MAX_429, (name, figures)
    assert stats["pna"]["max_in_flight"] <= 5  # max_concurrent (5) holds for the whole, split over the shards
    assert _limits(stack) == {
        "ingram-pna-requests": window_requests_limit_shape(PNA_PER_MIN),
        "ingram-details-requests": window_requests_limit_shape(DETAILS_PER_MIN),
    }


def _limits(stack: Stack) -> dict[str, tuple[int, float]]:
    """The Prefect limits the workers shared: (slots, decay a second) by name."""

    async def read(client: PrefectClient) -> dict[str, tuple[int, float]]:
        found = {}
        for name in ("ingram-pna-requests", "ingram-details-requests"):
            limit = await client.read_global_concurrency_limit_by_name(name)
            found[name] = (limit.limit, limit.slot_decay_per_second)
        return found

    limits: dict[str, tuple[int, float]] = stack.api(read)
    return limits
