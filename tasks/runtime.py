"""Per-run resources shared by a run's tasks in one process: connectors, audit sink, Prefect pacing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prefect.concurrency.sync import rate_limit

from sync_core.audit import DbAuditSink, DbBreakerStore, DbEventSink
from sync_core.connectors.anar360 import Anar360
from sync_core.connectors.sazito import Sazito
from sync_core.settings import Settings, load_settings
from tasks.events import forward_to_prefect

_lock = threading.Lock()
_runs: dict[int, RunResources] = {}


def current_settings() -> Settings:
    """Settings as the worker's environment and .env say now (read per run, never at import)."""
    return load_settings()


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
    _source: Anar360 | None = None
    _target: Sazito | None = None

    def wiring(self, provider: str) -> dict[str, Any]:
        """Audit, shared circuit state, pacing and event forwarding for a connector of ``provider``."""
        url = self.settings.database_url
        return {
            "audit": self.audit,
            "breaker_store": DbBreakerStore(url),
            "pacer": prefect_pacer(provider, self.settings),
            "events": DbEventSink(
                url, run_id=self.run_id, pipeline=self.pipeline, forward=forward_to_prefect
            ),
        }

    @property
    def source(self) -> Anar360:
        if self._source is None:
            self._source = Anar360(self.settings, **self.wiring("anar360"))
        return self._source

    @property
    def target(self) -> Sazito:
        if self._target is None:
            self._target = Sazito(self.settings, **self.wiring("sazito"))
        return self._target

    def close(self) -> None:
        for connector in (self._source, self._target):
            if connector is not None:
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
