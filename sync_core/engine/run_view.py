"""A run as everything that shows one sees it: the one place a ``sync_runs`` row becomes a dict.

The run's summary, its report, the health report and the service's ``/runs`` all start from
:func:`run_view` and keep the entries they show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sync_core.engine.runs import COUNTERS, aware
from sync_core.tables import SyncRun


def run_view(run: SyncRun, *, now: datetime | None = None) -> dict[str, Any]:
    """The row's ids, status, times (ISO 8601, UTC), duration in seconds (None while it runs), every counter
    of ``COUNTERS`` and its error; with ``now``, also ``age_s``: seconds since it finished (else started)."""
    started, finished = aware(run.started_at), aware(run.finished_at)
    view: dict[str, Any] = {
        "run_id": run.id,
        "pipeline": run.pipeline,
        "scope": run.scope,
        "status": run.status,
        "dry_run": run.dry_run,
        "started_at": started.isoformat() if started else None,
        "finished_at": finished.isoformat() if finished else None,
        "duration_s": round((finished - started).total_seconds(), 2) if finished and started else None,
        **{name: getattr(run, name) for name in COUNTERS},
        "flow_run_id": run.flow_run_id,
        "error": run.error,
    }
    if now is not None:
        last = finished or started
        view["age_s"] = round((now - last).total_seconds()) if last else None
    return view
