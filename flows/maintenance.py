"""sync-catalogue, retry-failures and health-report flows."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import State

from flows.lifecycle import open_pipeline_run, skipped
from flows.pipeline_run import run_pipeline
from sync_core.engine.context import current_settings
from sync_core.engine.registry import pipeline as find_pipeline
from sync_core.engine.registry import with_capability
from sync_core.engine.replay import REPLAY_BATCH
from sync_core.engine.spec import TARGET, Pipeline
from sync_core.errors import PipelineBusy
from tasks.maintenance import build_health_report, check_connections, replay_failures
from tasks.pipeline import read_catalogue


def _chosen(attribute: str, name: str | None) -> list[Pipeline]:
    """The named pipeline, or every configured pipeline that has ``attribute``; ValueError when it lacks
    it."""
    if name is None:
        settings = current_settings()
        return [spec for spec in with_capability(attribute) if spec.configured(settings)]
    spec = find_pipeline(name)
    if not getattr(spec, attribute):
        raise ValueError(f"{spec.name} has nothing for this flow ({attribute} is not declared)")
    return [spec]


@flow(name="sync-catalogue")
def sync_catalogue(pipeline: str | None = None) -> dict[str, Any] | State[Any] | list[Any]:
    """Re-read the target's catalogue (links by SKU, titles when enabled, the values it holds) of
    ``pipeline``, or of every pipeline whose target has a catalogue."""
    results = [_read_catalogue(spec) for spec in _chosen("catalogue_role", pipeline)]
    return results[0] if len(results) == 1 else results


def _read_catalogue(spec: Pipeline) -> dict[str, Any] | State[Any]:
    try:
        run = open_pipeline_run(spec, "catalogue")
    except PipelineBusy as busy:
        return skipped(busy)
    with run:
        assert spec.catalogue_role is not None
        check_connections(run.id, (spec.catalogue_role,))
        run.extra["catalogue_variants"] = 0
        next_page: int | None = 0
        while next_page is not None:
            next_page, seen = read_catalogue(run.id, next_page)
            run.extra["catalogue_variants"] += seen
    return run.summary


@flow(name="retry-failures")
def retry_failures(
    max_batches: int = 10, pipeline: str | None = None
) -> dict[str, Any] | State[Any] | list[Any]:
    """Replay due write failures with backoff, of ``pipeline`` or of every pipeline that can replay; an item
    that keeps failing is marked dead, and the log says so."""
    results = [_replay(spec, max_batches) for spec in _chosen("replayable", pipeline)]
    return results[0] if len(results) == 1 else results


def _replay(spec: Pipeline, max_batches: int) -> dict[str, Any] | State[Any]:
    if spec.replay_strategy is not None:  # it replays by asking its source again, as a run of that strategy
        return run_pipeline(spec.name, spec.replay_strategy, params={"limit": max_batches * REPLAY_BATCH})
    try:
        run = open_pipeline_run(spec, "retry")
    except PipelineBusy as busy:
        return skipped(busy)
    totals: Counter[str] = Counter()
    with run:
        check_connections(run.id, (TARGET,))
        run.extra["replay"] = totals
        for _ in range(max_batches):
            counts = replay_failures(run.id, TARGET)
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
