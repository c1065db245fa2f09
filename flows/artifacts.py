"""Prefect artifacts every run leaves: a summary table, a report, a diff preview for dry runs, and progress."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, cast
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.exceptions import MissingContextError

from sync_core.engine.context import current_settings
from sync_core.engine.progress import (
    INTERVAL_S,
    Clock,
    Listener,
    Progress,
    Snapshot,
    Throttle,
    progress_view,
)
from sync_core.engine.runs import COUNTERS, save_progress
from sync_core.reports import connection_bases, render_run_report, run_report
from tasks.prefect_events import emit_run_summary

ROW_INTERVAL_S = 1.0  # the run row's progress moves at most once a second (monitors poll it)


def artifact_key(*parts: str) -> str:
    """An artifact key from a run's names: Prefect takes lowercase letters, digits and dashes only, so a run
    on other connections (``pipeline@target=store-b``) leaves ``pipeline-target-store-b-...``."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower())


def start_progress(
    pipeline: str,
    *,
    interval_s: float = INTERVAL_S,
    clock: Clock = time.monotonic,
    row: tuple[str, int, Callable[[], dict[str, Any]]] | None = None,
) -> Progress:
    """The run's progress tracker, shown as the progress artifact ``<pipeline>-progress``: moved at most once
    every ``interval_s`` (so every batch of pages or every 2 s, whichever is less often) and always at its
    end (100% when the run's pages all went through). With ``row`` (database URL, run id, the job's notes),
    also kept on the run's row for `catalog-sync monitor` (sync_core.engine.runs.save_progress)."""
    key = artifact_key(pipeline, "progress")
    # Called from a flow's own (synchronous) code: the id itself, not a coroutine.
    artifact_id = cast(UUID, create_progress_artifact(0.0, key=key, description=f"{pipeline}: pages done"))
    listeners = [progress_artifact(artifact_id, interval_s, clock)]
    if row is not None:
        listeners.append(progress_row(*row, clock=clock))
    return Progress(pipeline, listeners=listeners, clock=clock)


def progress_row(
    url: str,
    run_id: int,
    notes: Callable[[], dict[str, Any]],
    interval_s: float = ROW_INTERVAL_S,
    clock: Clock = time.monotonic,
) -> Listener:
    """A progress listener keeping the run row's ``progress`` (pages, items, rate, ETA and the job's
    notes), throttled; a database that refuses is logged once, never raised."""
    throttle = Throttle(interval_s, clock)

    def show(snapshot: Snapshot) -> None:
        if throttle.due(final=snapshot.finished):
            save_progress(url, run_id=run_id, progress=progress_view(snapshot) | notes())

    return show


def progress_artifact(
    artifact_id: UUID, interval_s: float = INTERVAL_S, clock: Clock = time.monotonic
) -> Listener:
    """A progress listener moving the artifact ``artifact_id``, throttled, once its percentage is known."""
    throttle = Throttle(interval_s, clock)

    def show(snapshot: Snapshot) -> None:
        fraction = snapshot.fraction
        if fraction is not None and throttle.due(final=snapshot.finished):
            update_progress_artifact(artifact_id, round(100.0 * fraction, 1))

    return show


def publish_summary(summary: dict[str, Any]) -> None:
    """A table of the run's counters, its failures by reason, and (dry run) the first diffs."""
    key = artifact_key(summary["pipeline"], summary["scope"], "summary")
    rows = [{"metric": name, "value": summary.get(name)} for name in ("status", "duration_s", *COUNTERS)]
    rows += [
        {"metric": f"reason {reason}", "value": n} for reason, n in sorted(summary.get("reasons", {}).items())
    ]
    create_table_artifact(rows, key=key, description=f"run {summary['run_id']}: {summary['status']}")
    diffs = summary.get("diffs")
    if summary.get("dry_run") and diffs:
        lines = ["| kind | target | source | new value |", "|---|---|---|---|"]
        lines += [f"| {d['kind']} | {d['target']} | {d['source']} | `{d['value']}` |" for d in diffs]
        create_markdown_artifact(
            "**Dry run: first changes that would be written**\n\n" + "\n".join(lines), key=f"{key}-dry-run"
        )


def _logger() -> logging.Logger | logging.LoggerAdapter[Any]:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def publish_report(run_id: int) -> None:
    """The run's report (slowest endpoints, request p95, outcomes, failures) as the markdown artifact
    ``<pipeline>-<scope>-report``. Never raises: a report that fails is logged, so it cannot mask the
    run's own outcome or error."""
    try:
        settings = current_settings()
        report = run_report(settings.database_url, run_id=run_id, bases=connection_bases(settings))
        key = artifact_key(report["pipeline"], report["scope"], "report")
        create_markdown_artifact(
            render_run_report(report),
            key=key,
            description=f"run {run_id}: {report['status']}, p95 {report['p95_ms']} ms",
        )
    except Exception:
        _logger().warning("run %s: could not publish the run report", run_id, exc_info=True)


def publish_run(summary: dict[str, Any]) -> None:
    """What every flow leaves when a run ends: summary table, report artifact, run-summary event.
    Never raises: a run interrupted or failing for its own reason must still end with that reason."""
    try:
        publish_summary(summary)
    except Exception:
        _logger().warning("run %s: could not publish the summary", summary["run_id"], exc_info=True)
    publish_report(summary["run_id"])
    emit_run_summary(summary)
