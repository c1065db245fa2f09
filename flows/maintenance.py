"""sync-catalogue, retry-failures and health-report flows."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.artifacts import publish_run
from tasks.maintenance import REPLAY_BATCH, build_health_report, close_run, open_run, replay_failures
from tasks.products import read_catalogue


@flow(name="sync-catalogue")
def sync_catalogue() -> dict[str, Any]:
    """Re-read the Sazito catalogue: links by SKU (and titles when enabled) and the values the store holds."""
    run_id = open_run("catalogue")
    error: str | None = None
    variants = 0
    try:
        next_page: int | None = 0
        while next_page is not None:
            next_page, seen = read_catalogue(run_id, next_page)
            variants += seen
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        summary = close_run(run_id, error)
        summary["catalogue_variants"] = variants
        publish_run(summary)
    return summary


@flow(name="retry-failures")
def retry_failures(max_batches: int = 10) -> dict[str, Any]:
    """Replay due write failures with backoff; an item that keeps failing is marked dead, and the log says so."""
    logger = get_run_logger()
    run_id = open_run("retry")
    error: str | None = None
    totals: dict[str, int] = {}
    try:
        for _ in range(max_batches):
            counts = replay_failures(run_id)
            for name, n in counts.items():
                totals[name] = totals.get(name, 0) + n
            if counts.get("due", 0) < REPLAY_BATCH:
                break
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        summary = close_run(run_id, error)
        summary["replay"] = totals
        publish_run(summary)
    if totals.get("dead"):
        logger.warning(
            "%s item(s) marked dead after the last allowed attempt: see `catalog-sync health`", totals["dead"]
        )
    return summary


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
