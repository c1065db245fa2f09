"""sync-events: the events pipeline (`catalog-sync sync events`) on the runner: the feed into the events table
that /search serves."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State

from flows.pipeline_run import run_pipeline

COMMAND = "events"


@flow(name="sync-events")
def sync_events(
    url: str | None = None, connections: dict[str, str] | None = None
) -> dict[str, Any] | State[Any]:
    """Fetch the feed (its connection's URL unless ``url``; http(s):// or file://), write the events whose
    content changed, keep the ones that left the feed, and quarantine bad plans with their reason."""
    summary = run_pipeline(COMMAND, connections=connections, params={"url": url} if url else {})
    if isinstance(summary, dict):
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
