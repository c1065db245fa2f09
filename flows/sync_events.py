"""sync-events: the events provider's XML feed into the events table that /search serves."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from flows.lifecycle import open_pipeline_run, skipped
from sync_core.errors import PipelineBusy
from sync_core.pipelines.fever_events import EVENTS_PIPELINE
from tasks.events_feed import sync_feed


@flow(name="sync-events")
def sync_events(url: str | None = None) -> dict[str, Any] | State[Any]:
    """Fetch the feed (FEVER_PROVIDER_URL unless ``url``; http(s):// or file://), write the events whose
    content changed, keep the ones that left the feed, and quarantine bad plans with their reason."""
    try:
        run = open_pipeline_run(EVENTS_PIPELINE, "feed")
    except PipelineBusy as busy:
        return skipped(busy)
    with run:
        run.extra.update(sync_feed(run.id, url))
    summary = run.summary
    get_run_logger().info(
        "run %s: %s plans, %s new, %s changed, %s unchanged, %s quarantined, %s offline ignored",
        summary["run_id"],
        summary["fetched"],
        summary.get("inserted", 0),
        summary.get("updated", 0),
        summary["unchanged"],
        summary["failed"],
        summary["skipped"],
    )
    return summary
