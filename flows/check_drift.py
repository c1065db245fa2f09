"""check-drift: read each pipeline's target back and compare it with what the ledger says it holds and what
the source wants now (sync_core.engine.drift); report what drifted as a markdown artifact and a
``catalog-sync.drift-found`` event, and with ``repair`` write the wanted values back through the target."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import State
from prefect.utilities.annotations import quote

from flows.artifacts import artifact_key
from flows.lifecycle import open_pipeline_run, skipped
from sync_core.engine.context import current_settings
from sync_core.engine.drift import DriftReport, cannot_check, render
from sync_core.engine.registry import pipeline as find_pipeline
from sync_core.engine.registry import pipelines
from sync_core.engine.spec import TARGET, Pipeline
from sync_core.errors import PipelineBusy
from tasks.drift import find_drift, repair_drift
from tasks.maintenance import check_connections
from tasks.prefect_events import emit_drift_found
from tasks.runtime import tags_for

SCOPE, REPAIR_SCOPE = "drift", "drift-repair"


def checkable(name: str | None) -> tuple[list[Pipeline], list[Pipeline]]:
    """(the pipelines to check, the configured ones that cannot be): the named one, or every configured
    pipeline; ValueError when the named one declares no drift check."""
    if name is not None:
        spec = find_pipeline(name)
        if spec.drift is None:
            raise ValueError(cannot_check(spec.name))
        return [spec], []
    settings = current_settings()
    configured = [spec for spec in pipelines().values() if spec.configured(settings)]
    return [s for s in configured if s.drift is not None], [s for s in configured if s.drift is None]


@flow(name="check-drift")
def check_drift(
    pipeline: str | None = None, repair: bool = False, sample: int | None = None
) -> dict[str, Any] | State[Any] | list[Any]:
    """Check ``pipeline`` (or every configured pipeline whose target can be read) for drift: every item, or
    a random ``sample`` of items; ``repair`` writes the wanted values of what drifted."""
    chosen, unable = checkable(pipeline)
    for spec in unable:
        get_run_logger().info(cannot_check(spec.name))
    results = [_check(spec, repair=repair, sample=sample) for spec in chosen]
    return results[0] if len(results) == 1 else results


def _check(spec: Pipeline, *, repair: bool, sample: int | None) -> dict[str, Any] | State[Any]:
    try:
        run = open_pipeline_run(spec, REPAIR_SCOPE if repair else SCOPE)
    except PipelineBusy as busy:
        return skipped(busy)
    with run:
        check_connections(run.id, tuple(spec.connectors))
        # It reads from every connection of the pipeline: its tasks take each one's request tag.
        tags = [tag for role in spec.connectors for tag in tags_for(run.id, role)]
        report = find_drift.with_options(tags=tags)(run.id, sample)
        repaired = None
        if repair and report.drifted:
            repair_task = repair_drift.with_options(tags=tags_for(run.id, TARGET))
            repaired = repair_task(run.id, quote(report.drifted))  # type: ignore[call-overload]
        run.extra.update(drift_summary(report, repaired))
        create_markdown_artifact(
            render(report, repaired),
            key=artifact_key(run.pipeline, "drift"),
            description=f"run {run.id}: {'drift found' if report.drifted else 'no drift'}",
        )
        emit_drift_found(run.id, report, repaired)
        get_run_logger().info(
            "%s: %s values compared, drift %s%s",
            run.pipeline,
            report.comparison.values,
            report.counts(),
            f", repaired {repaired}" if repaired is not None else "",
        )
    return run.summary


def drift_summary(report: DriftReport, repaired: dict[str, int] | None) -> dict[str, Any]:
    """What a drift check adds to its run's summary: counts by drift, the sample, what a repair wrote, and
    the first drifted values (``drift_examples``)."""
    c = report.comparison
    entries: dict[str, Any] = {
        "drift_items": c.items,
        "drift_sample_of": report.sampled_of,
        "drift_missing": report.missing,
    }
    entries.update({f"drift_{kind.replace('-', '_')}": n for kind, n in report.counts().items()})
    if repaired is not None:
        entries["drift_repaired"] = repaired.get("pushed", 0)
        entries["drift_unrepaired"] = repaired.get("failed", 0)
        entries["drift_left_to_sync"] = repaired.get("left_to_sync", 0)  # the guardrail would keep them back
    entries["drift_examples"] = report.examples()
    return entries
