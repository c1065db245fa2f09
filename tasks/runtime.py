"""Per-run resources shared by a run's tasks in one process: its context, its job, its connectors and audit.

A run's resources are made when the run opens (flows.lifecycle) with the settings and connections its caller
chose; a task that finds none in its process (a retried task in a fresh process) rebuilds them from the run's
row and the settings of the environment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect.context import get_run_context

from sync_core.engine.audit import DbAuditSink, DbBreakerStore, DbJournalSink
from sync_core.engine.connections import Connection, parse_run_key, pipeline_connections, requests_limit
from sync_core.engine.context import current_settings
from sync_core.engine.job import Job, RunContext
from sync_core.engine.registry import pipeline
from sync_core.engine.runs import get_run
from sync_core.engine.spec import Pipeline
from sync_core.settings import Settings
from tasks.prefect_events import forward_to_prefect
from tasks.shared_budget import shared_budget

_lock = threading.RLock()
_runs: dict[int, RunResources] = {}


def current_flow_run_id() -> str | None:
    """The Prefect flow-run id of the running task or flow (stored on the sync_runs row), if any."""
    try:
        ctx = get_run_context()
    except RuntimeError:
        return None
    run = getattr(ctx, "flow_run", None) or getattr(getattr(ctx, "task_run", None), "flow_run_id", None)
    return str(getattr(run, "id", run)) if run else None


def prefect_pacer(conn: Connection, settings: Settings) -> Callable[[], None] | None:
    """When USE_PREFECT_RATE_LIMITS is on, the connection's share of its Prefect global limit
    '<connection>-requests' (:mod:`tasks.shared_budget`: slots taken a block at a time, one per request;
    the limit is made at the connection's rate when missing). One per connection and process, so every
    client of the connection in the process shares its blocks."""
    if not settings.use_prefect_rate_limits:
        return None
    return shared_budget(conn.name, conn.rate_limit_per_min)


def prefect_lane_pacer(
    conn: Connection, settings: Settings
) -> Callable[[str, int], Callable[[], None] | None]:
    """The pacer of each lane of connection ``conn`` (a kind of call paced apart, e.g. one endpoint): when
    USE_PREFECT_RATE_LIMITS is on, the lane's share of the Prefect global limit '<connection>-<lane>-requests'
    (made at the lane's rate when missing, in the shape of a budget counted in fixed minutes), like
    :func:`prefect_pacer`; else None (its bucket alone)."""

    def lane_pacer(lane: str, per_min: int) -> Callable[[], None] | None:
        if not settings.use_prefect_rate_limits:
            return None
        return shared_budget(f"{conn.name}-{lane}", per_min, windowed=True)

    return lane_pacer


@dataclass
class RunResources:
    """One run's context, job and connectors; pacing buckets are per process and connection, so they
    outlive a run."""

    ctx: RunContext
    audit: DbAuditSink
    job: Job | None = None
    # Told as each page's worth of a batch's writes lands (the runner's progress), when the runner is here.
    on_pages: Callable[[int], object] | None = None
    _connectors: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def wiring(self, conn: Connection) -> dict[str, Any]:
        """Audit, shared circuit state, pacing and journal for a connector of connection ``conn``."""
        url = self.settings.database_url
        return {
            "audit": self.audit,
            "breaker_store": DbBreakerStore(url),
            "pacer": prefect_pacer(conn, self.settings),
            "lane_pacer": prefect_lane_pacer(conn, self.settings),
            "events": DbJournalSink(
                url, run_id=self.ctx.run_id, pipeline=self.ctx.key, forward=forward_to_prefect
            ),
        }

    def connector(self, role: str) -> Any:
        """The run's connector for ``role``, made on first use."""
        with _lock:
            if role not in self._connectors:
                cls = self.ctx.pipeline.connectors[role]
                conn = self.ctx.connections[role]
                self._connectors[role] = cls(self.settings, conn, **self.wiring(conn))
            return self._connectors[role]

    def close(self) -> None:
        if self.job is not None:
            self.job.close()
        for connector in self._connectors.values():
            connector.close()
        self.audit.flush()


def open_resources(
    settings: Settings,
    spec: Pipeline,
    *,
    run_id: int,
    key: str,
    connections: dict[str, Connection],
    params: dict[str, Any] | None = None,
) -> RunResources:
    """Make and keep the resources of a run that just opened."""
    res = RunResources(
        RunContext(settings, spec, key, run_id, connections, lambda role: None, dict(params or {})),
        DbAuditSink(settings.database_url, run_id=run_id),
    )
    res.ctx.connector = res.connector
    with _lock:
        _runs[run_id] = res
    return res


def resources(run_id: int) -> RunResources:
    """The run's resources in this process (rebuilt from its row when this process has none)."""
    with _lock:
        found = _runs.get(run_id)
    if found is not None:
        return found
    settings = current_settings()
    row = get_run(settings.database_url, run_id=run_id)
    if row is None:
        raise LookupError(f"run {run_id} is not in the state store")
    name, chosen = parse_run_key(row.pipeline)
    spec = pipeline(name)
    conns = pipeline_connections(settings, spec, chosen)
    key = row.pipeline.partition("#")[0]  # a shard's run shares the pipeline's failures and cursors
    return open_resources(settings, spec, run_id=run_id, key=key, connections=conns)


def tags_for(run_id: int, role: str) -> list[str]:
    """The tag of the tasks that call the run's ``role`` connection: ``<connection>-requests`` (none when the
    pipeline has no such role)."""
    found = resources(run_id).ctx.connections.get(role)
    return [requests_limit(found.name)] if found is not None else []


def job(run_id: int) -> Job:
    """The run's job, made on first use."""
    res = resources(run_id)
    with _lock:
        if res.job is None:
            res.job = res.ctx.pipeline.job(res.ctx)
        return res.job


def job_notes(run_id: int) -> Callable[[], dict[str, Any]]:
    """What the run's job adds to its progress (its ``progress_notes()``, when it has one), read when asked."""

    def notes() -> dict[str, Any]:
        found = getattr(job(run_id), "progress_notes", None)
        return dict(found()) if found is not None else {}

    return notes


def release(run_id: int) -> int:
    """Close a run's job and connectors, flush its audit rows; return the number of requests it sent."""
    with _lock:
        res = _runs.pop(run_id, None)
    if res is None:
        return 0
    res.close()
    return res.audit.requests
