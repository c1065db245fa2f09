"""The runner's Prefect tasks, the same for every pipeline: start a run, read the target's catalogue, fetch a
batch of pages, sync a batch. Each calls the run's job (sync_core.engine.job) in this process."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from prefect import task
from prefect.cache_policies import NO_CACHE

from sync_core.engine.batch import sync_batch
from sync_core.engine.job import CatalogueJob, Start, SyncCounts
from sync_core.engine.settle import Settled, settle
from sync_core.models import PageRequest, SourcePage
from tasks.policy import RETRY_TRANSIENT, batch_cache_key
from tasks.prefect_events import emit_items_quarantined, quarantined_reasons
from tasks.runtime import job, resources


@task(name="start-run", cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def start_run(run_id: int, strategy: str) -> Start:
    """Check the run's connections (reachable, credentials accepted) and work out where it starts."""
    return job(run_id).start(strategy)


@task(name="read-catalogue", cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def read_catalogue(run_id: int, first_page: int) -> tuple[int | None, int]:
    """Read a chunk of the target's catalogue from ``first_page`` and record it; (next page or None, items)."""
    return cast(CatalogueJob, job(run_id)).read_catalogue(first_page)


@task(name="fetch-pages", cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def fetch_pages(run_id: int, request: PageRequest) -> list[SourcePage]:
    """Fetch a batch of source pages from ``request``."""
    return job(run_id).fetch(request)


@task(
    name="sync-pages",
    cache_key_fn=batch_cache_key,
    cache_expiration=timedelta(days=2),
    persist_result=True,
    **RETRY_TRANSIENT,
)
def sync_pages(run_id: int, pages: list[SourcePage], dry_run: bool) -> SyncCounts:
    """Map, plan and apply a batch of pages; cached per flow run and batch content, so a retried flow run
    does not resend a batch that landed."""
    res = resources(run_id)
    counts = sync_batch(res.ctx, job(run_id), pages, dry_run=dry_run, on_pages=res.on_pages)
    if not dry_run:  # a dry run records no failures, so it quarantines nothing
        emit_items_quarantined(res.ctx.key, run_id, counts.failed, quarantined_reasons(counts))
    return counts


@task(name="settle-run", cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def settle_run(run_id: int, scope: str, total: SyncCounts, dry_run: bool) -> Settled | None:
    """The guardrail's verdict on the writes the run kept back: sent now, or held (sync_core.engine.settle)."""
    return settle(resources(run_id).ctx, job(run_id), scope=scope, total=total, dry_run=dry_run)


@task(name="finish-run", cache_policy=NO_CACHE)
def finish_run(run_id: int, total: SyncCounts) -> dict[str, Any]:
    """What the pipeline adds to the run's summary."""
    return job(run_id).summary(total)
