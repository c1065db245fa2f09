"""sync-catalogue, retry-failures and health-report flows."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import State

from flows.lifecycle import open_pipeline_run, skipped
from sync_core.errors import PipelineBusy
from sync_core.pipelines.anar360_sazito import PIPELINE
from tasks.maintenance import REPLAY_BATCH, build_health_report, check_connections, replay_failures
from tasks.products import read_catalogue


@flow(name="sync-catalogue")
def sync_catalogue() -> dict[str, Any] | State[Any]:
    """Re-read the Sazito catalogue: links by SKU (and titles when enabled) and the values the store holds."""
    try:
        run = open_pipeline_run(PIPELINE, "catalogue")
    except PipelineBusy as busy:
        return skipped(busy)
    with run:
        check_connections(run.id, ("target",))
        run.extra["catalogue_variants"] = 0
        next_page: int | None = 0
        while next_page is not None:
            next_page, seen = read_catalogue(run.id, next_page)
            run.extra["catalogue_variants"] += seen
    return run.summary


@flow(name="retry-failures")
def retry_failures(max_batches: int = 10) -> dict[str, Any] | State[Any]:
    """Replay due write failures with backoff; an item that keeps failing is marked dead, and the log says so."""
    try:
        run = open_pipeline_run(PIPELINE, "retry")
    except PipelineBusy as busy:
        return skipped(busy)
    totals: Counter[str] = Counter()
    with run:
        check_connections(run.id, ("target",))
        run.extra["replay"] = totals
        for _ in range(max_batches):
            counts = replay_failures(run.id)
            totals.update(counts)
            if counts.get("due", 0) < REPLAY_BATCH:
                break
    if totals.get("dead"):
        get_run_logger().warning(
            "%s item(s) marked dead after the last allowed attempt: see `catalog-sync health`", totals["dead"]
        )
    return run.summary


@flow(name="health-report")
def health_report_flow() -> dict[str, Any]:
    """Publish the health report as a markdown artifact and return it."""
    report = build_health_report()
    lines = [f"**{'healthy' if report['healthy'] else 'UNHEALTHY'}** — database {report['database']}", ""]
    lines += [f"- problem: {p}" for p in report["problems"]]
    for run in report.get("last_runs", []):
        lines.append(
            f"- {run['pipeline']} {run['scope']}: {run['status']} {run['age_s']} s ago "
            f"(pushed {run['pushed']}, failed {run['failed']})"
        )
    lines.append(f"- circuits: {report.get('circuits') or 'all closed'}; failures: {report.get('failures')}")
    create_markdown_artifact("\n".join(lines), key="catalog-sync-health")
    return report
