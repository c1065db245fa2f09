"""sync-events: the events provider's XML feed into the events table that /search serves."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import publish_run
from tasks.events_feed import open_events_run, sync_feed
from tasks.maintenance import close_run


@flow(name="sync-events")
def sync_events(url: str | None = None) -> dict[str, Any]:
    """Fetch the feed (FEVER_PROVIDER_URL unless ``url``; http(s):// or file://), write the events whose
    content changed, keep the ones that left the feed, and quarantine bad plans with their reason."""
    logger = get_run_logger()
    run_id = open_events_run(url)
    error: str | None = None
    stored: dict[str, Any] = {}
    try:
        stored = sync_feed(run_id, url)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        summary = close_run(run_id, error)
        summary.update(stored)
        publish_run(summary)
        logger.info(
            "run %s %s: %s plans, %s new, %s changed, %s unchanged, %s quarantined, %s offline ignored",
            summary["run_id"],
            summary["status"],
            summary["fetched"],
            summary.get("inserted", 0),
            summary.get("updated", 0),
            summary["unchanged"],
            summary["failed"],
            summary["skipped"],
        )
    return summary
