"""Per-run resources shared by a run's tasks in one process: connectors, audit sink, Prefect pacing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect.concurrency.sync import rate_limit
from prefect.context import get_run_context

from sync_core.connectors.base import HttpConnector
from sync_core.engine.audit import DbAuditSink, DbBreakerStore, DbJournalSink
from sync_core.engine.registry import PIPELINES
from sync_core.settings import Settings, load_settings
from tasks.prefect_events import forward_to_prefect

CHECK_REUSE_S = 120.0
_lock = threading.Lock()
_runs: dict[int, RunResources] = {}


def current_settings() -> Settings:
    """Settings as the worker's environment and .env say now (read per run, never at import)."""
    return load_settings()


def current_flow_run_id() -> str | None:
    """The Prefect flow-run id of the running task or flow (stored on the sync_runs row), if any."""
    try:
        ctx = get_run_context()
    except RuntimeError:
        return None
    run = getattr(ctx, "flow_run", None) or getattr(getattr(ctx, "task_run", None), "flow_run_id", None)
    return str(getattr(run, "id", run)) if run else None


def prefect_pacer(provider: str, settings: Settings) -> Callable[[], None] | None:
    """One slot of the Prefect global limit '<provider>-requests' per request, when enabled."""
    if not settings.use_prefect_rate_limits:
        return None
    return lambda: rate_limit(f"{provider}-requests", occupy=1, strict=False)


@dataclass
class RunResources:
    """Connectors of one run; pacing buckets are per process and provider, so they outlive a run."""

    settings: Settings
    run_id: int
    pipeline: str
    audit: DbAuditSink
    _connectors: dict[str, HttpConnector] = field(default_factory=dict)

    def wiring(self, provider: str) -> dict[str, Any]:
        """Audit, shared circuit state, pacing and event forwarding for a connector of ``provider``."""
        url = self.settings.database_url
        return {
            "audit": self.audit,
            "breaker_store": DbBreakerStore(url),
            "pacer": prefect_pacer(provider, self.settings),
            "events": DbJournalSink(
                url, run_id=self.run_id, pipeline=self.pipeline, forward=forward_to_prefect
            ),
        }

    def connector(self, role: str) -> HttpConnector:
        """The pipeline's connector for ``role`` ("source", "target"), made on first use."""
        with _lock:
            if role not in self._connectors:
                cls = PIPELINES[self.pipeline].connectors[role]
                self._connectors[role] = cls(self.settings, **self.wiring(cls.name))
            return self._connectors[role]

    @property
    def source(self) -> Any:
        """The Source (sync_core.engine.ports) of the pipeline."""
        return self.connector("source")

    @property
    def target(self) -> Any:
        """The Target (sync_core.engine.ports) of the pipeline."""
        return self.connector("target")

    def check(self, *roles: str) -> None:
        """The pre-run check of each named connection ("source", "target"): reachable, credentials accepted.
        A check the CLI made in this process moments before is not repeated."""
        for role in roles:
            self.connector(role).check(reuse_s=CHECK_REUSE_S)

    def close(self) -> None:
        for connector in self._connectors.values():
            connector.close()
        self.audit.flush()


def resources(run_id: int, pipeline: str) -> RunResources:
    """The run's resources in this process, made on first use."""
    with _lock:
        if run_id not in _runs:
            settings = current_settings()
            _runs[run_id] = RunResources(
                settings, run_id, pipeline, DbAuditSink(settings.database_url, run_id=run_id)
            )
        return _runs[run_id]


def release(run_id: int) -> int:
    """Close a run's connectors, flush its audit rows; return the number of requests it sent."""
    with _lock:
        res = _runs.pop(run_id, None)
    if res is None:
        return 0
    res.close()
    return res.audit.requests
