"""Prefect tasks of the events feed: open the run, fetch and store the feed."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from sync_core.connectors.fever import FeverFeed
from sync_core.db import upgrade
from sync_core.events_pipeline import EVENTS_PIPELINE, store_feed
from sync_core.runs import add_counts, start_run
from tasks.events import emit_items_quarantined
from tasks.policy import RETRY_TRANSIENT
from tasks.products import current_flow_run_id
from tasks.runtime import current_settings, resources


@task(name="open-events-run", cache_policy=NO_CACHE)
def open_events_run(url: str | None) -> int:
    """Check there is a feed to read, migrate the store, open a run row."""
    settings = current_settings()
    if not url:
        settings.require("fever_provider_url")
    upgrade(settings.database_url)
    return start_run(
        settings.database_url, pipeline=EVENTS_PIPELINE, scope="feed", flow_run_id=current_flow_run_id()
    )


@task(name="sync-events-feed", cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def sync_feed(run_id: int, url: str | None) -> dict[str, Any]:
    """Fetch the whole feed (spooled, not held in memory), store changed events, quarantine bad plans."""
    res = resources(run_id, EVENTS_PIPELINE)
    settings = res.settings
    with FeverFeed(settings, url=url, **res.wiring("fever")) as feed, feed.fetch() as answer:
        result = store_feed(settings.database_url, answer, retry_base_s=settings.failure_retry_base_s)
    add_counts(
        settings.database_url,
        run_id=run_id,
        fetched=result.plans,
        mapped=result.events,
        pushed=result.stored.inserted + result.stored.updated,
        unchanged=result.stored.unchanged,
        skipped=result.offline,
        failed=result.quarantined,
    )
    reasons = {f"invalid:{reason}": n for reason, n in sorted(result.reasons.items())}
    emit_items_quarantined(EVENTS_PIPELINE, run_id, result.quarantined, reasons)
    return {
        "inserted": result.stored.inserted,
        "updated": result.stored.updated,
        "reasons": reasons,
    }
