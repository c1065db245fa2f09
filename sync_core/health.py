"""The health report: what is configured, database reachable, last run per pipeline and its age, circuits,
failures. Runs whose process died are closed as crashed on the way (sync_core.engine.lease)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sync_core.db import check_connection
from sync_core.engine.audit import circuit_states
from sync_core.engine.failures import failure_counts
from sync_core.engine.lease import close_orphaned_runs
from sync_core.engine.registry import pipelines
from sync_core.engine.run_view import run_view
from sync_core.engine.runs import last_run_per_pipeline, runs_in_status
from sync_core.errors import PersistenceError
from sync_core.settings import Settings
from sync_core.tables import utcnow


def health_report(settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """A JSON-ready report; ``healthy`` is False when no pipeline is configured, the database is down, a
    configured pipeline never ran, a circuit is open, the newest run of a pipeline failed or crashed, or a run
    is held by the guardrail."""
    checked_at = now or utcnow()
    report: dict[str, Any] = {"healthy": True, "checked_at": checked_at.isoformat(), "problems": []}
    try:
        check_connection(settings.database_url)
        report["database"] = "ok"
    except PersistenceError as exc:
        report.update(healthy=False, database="unreachable", problems=[str(exc)])
        return report
    declared = pipelines().values()
    configured = [spec.name for spec in declared if spec.configured(settings)]
    report["configured"] = configured
    if not configured:
        needs = "; ".join(f"{spec.name}: {', '.join(n.upper() for n in spec.needs())}" for spec in declared)
        report["problems"].append(f"no pipeline is configured (settings needed: {needs})")
    close_orphaned_runs(settings.database_url)
    runs = [run_view(run, now=checked_at) for run in last_run_per_pipeline(settings.database_url)]
    report["problems"] += [
        f"last {run['pipeline']} {run['scope']} run {run['status']}: {run['error'] or 'see its log'}"
        for run in runs
        if run["status"] in ("failed", "crashed")
    ]
    report["last_runs"] = runs
    report["problems"] += [
        f"run {run.id} of {run.pipeline} is held, waiting for `catalog-sync release {run.id}` or `discard {run.id}`"
        for run in runs_in_status(settings.database_url, "held")
    ]
    ran = {run["pipeline"] for run in runs}
    report["problems"] += [f"{name} has never run" for name in configured if name not in ran]
    report["circuits"] = circuit_states(settings.database_url)
    for name, state in report["circuits"].items():
        if state != "closed":
            report["problems"].append(f"{name} circuit is {state}")
    counts = failure_counts(settings.database_url)
    report["failures"] = {
        "pending": counts.get("pending", 0),
        "dead": counts.get("dead", 0),
        "resolved": counts.get("resolved", 0),
    }
    report["healthy"] = not report["problems"]
    return report
