"""Prefect task of the events feed: check, fetch and store the feed."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from sync_core.connectors.fever import FeverFeed
from sync_core.engine.runs import add_counts
from sync_core.pipelines.fever_events import EVENTS_PIPELINE, store_feed
from tasks.policy import RETRY_TRANSIENT
from tasks.prefect_events import emit_items_quarantined
from tasks.runtime import CHECK_REUSE_S, resources


@task(name="sync-events-feed", cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def sync_feed(run_id: int, url: str | None) -> dict[str, Any]:
    """Check the feed is reachable, fetch the whole of it (spooled, not held in memory), store changed events
    and quarantine bad plans."""
    res = resources(run_id, EVENTS_PIPELINE)
    settings = res.settings
    with FeverFeed(settings, url=url, **res.wiring("fever")) as feed:
        feed.check(reuse_s=CHECK_REUSE_S)
        with feed.fetch() as answer:
            result = store_feed(
                settings.database_url,
                answer,
                retry_base_s=settings.failure_retry_base_s,
                max_price=settings.plausible_price_max,
            )
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
