"""The health report: database reachable, last run per pipeline and its age, circuits, failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sync_core.audit import circuit_states
from sync_core.db import check_connection
from sync_core.errors import PersistenceError
from sync_core.failures import failure_counts
from sync_core.runs import aware, last_run_per_pipeline
from sync_core.settings import Settings
from sync_core.tables import utcnow


def health_report(settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """A JSON-ready report; ``healthy`` is False when the database is down, a circuit is open or the
    newest run of a pipeline failed."""
    checked_at = now or utcnow()
    report: dict[str, Any] = {"healthy": True, "checked_at": checked_at.isoformat(), "problems": []}
    try:
        check_connection(settings.database_url)
        report["database"] = "ok"
    except PersistenceError as exc:
        report.update(healthy=False, database="unreachable", problems=[str(exc)])
        return report
    runs = []
    for run in last_run_per_pipeline(settings.database_url):
        started = aware(run.started_at)
        finished = aware(run.finished_at)
        last = finished or started
        runs.append(
            {
                "pipeline": run.pipeline,
                "scope": run.scope,
                "run_id": run.id,
                "status": run.status,
                "started_at": started.isoformat() if started else None,
                "finished_at": finished.isoformat() if finished else None,
                "age_s": round((checked_at - last).total_seconds()) if last else None,
                "pushed": run.pushed,
                "failed": run.failed,
                "error": run.error,
            }
        )
        if run.status == "failed":
            report["problems"].append(
                f"last {run.pipeline} {run.scope} run failed: {run.error or 'see its log'}"
            )
    report["last_runs"] = runs
    report["circuits"] = circuit_states(settings.database_url)
    for provider, state in report["circuits"].items():
        if state != "closed":
            report["problems"].append(f"{provider} circuit is {state}")
    counts = failure_counts(settings.database_url)
    report["failures"] = {
        "pending": counts.get("pending", 0),
        "dead": counts.get("dead", 0),
        "resolved": counts.get("resolved", 0),
    }
    report["healthy"] = not report["problems"]
    return report
