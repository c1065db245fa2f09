"""Prefect tasks of the product sync: plan, read the store's catalogue, fetch pages, sync pages."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE

from sync_core.db import refresh_statistics
from sync_core.engine.ledger import count_links
from sync_core.engine.paging import fetch_numbered
from sync_core.engine.runs import get_cursor, set_cursor
from sync_core.engine.target_catalogue import record_catalogue_page
from sync_core.models import CataloguePage, PageRequest, SourcePage
from sync_core.pipelines.anar360_sazito import PIPELINE, SOURCE, TARGET, SyncCounts, sync_batch
from tasks.policy import RETRY_TRANSIENT, batch_cache_key
from tasks.prefect_events import emit_items_quarantined, quarantined_reasons
from tasks.runtime import resources

CURSOR_KEY = "products.window_start_ms"
CATALOGUE_CURSOR_KEY = "catalogue.read_at_ms"
CATALOGUE_PAGES_PER_TASK = 20


@dataclass(frozen=True)
class RunStart:
    first: PageRequest
    window_start_ms: int
    refresh_catalogue: bool


def now_ms() -> int:
    return int(time.time() * 1000)


@task(
    name="plan-product-sync",
    cache_policy=NO_CACHE,
    **RETRY_TRANSIENT,
)
def plan_product_sync(run_id: int, scope: str, since_ms: int | None) -> RunStart:
    """Check the supplier and the store (reachable, credentials accepted), work out the window to fetch,
    and whether the store's catalogue must be read first."""
    res = resources(run_id, PIPELINE)
    res.check("source", "target")
    url = res.settings.database_url
    window_start = now_ms()
    window: int | None = None
    if scope == "incremental":
        cursor = get_cursor(url, pipeline=PIPELINE, key=CURSOR_KEY)
        if since_ms is not None:
            window = abs(since_ms)
        elif cursor is not None:
            window = max(window_start - int(cursor), 0) + res.settings.sync_overlap_ms
        else:
            window = abs(res.settings.sync_since_ms)
    catalogue_read = get_cursor(url, pipeline=PIPELINE, key=CATALOGUE_CURSOR_KEY)
    refresh = scope == "full" or catalogue_read is None or count_links(url, source=SOURCE, target=TARGET) == 0
    return RunStart(res.source.first_page(since_ms=window), window_start, refresh)


@task(
    name="read-catalogue",
    tags=["sazito-requests"],
    cache_policy=NO_CACHE,
    **RETRY_TRANSIENT,
)
def read_catalogue(run_id: int, first_page: int, pipeline: str = PIPELINE) -> tuple[int | None, int]:
    """Read CATALOGUE_PAGES_PER_TASK catalogue pages from ``first_page`` (several at a time) and record them.

    Returns (the next page to read or None, variants read).
    """
    res = resources(run_id, pipeline)
    pages = fetch_numbered(
        res.target.read_catalogue_page,
        first_page,
        CATALOGUE_PAGES_PER_TASK,
        workers=res.settings.http_concurrency,
        is_last=lambda page: page.next is None,
        last_number=lambda page: page.last_number,
    )
    merged = CataloguePage(
        number=first_page, variants=[v for page in pages for v in page.variants], next=pages[-1].next
    )
    variants = record_catalogue_page(res.settings, merged, res.target, run_id=run_id).variants
    # Every chunk: the tables grow by thousands of rows per chunk, and the next chunk's lookups need the plan.
    refresh_statistics(res.settings.database_url, ("item_links", "ledger", "catalogue_titles"))
    if merged.next is None:
        set_cursor(
            res.settings.database_url, pipeline=PIPELINE, key=CATALOGUE_CURSOR_KEY, value=str(now_ms())
        )
    return merged.next, variants


@task(
    name="fetch-pages",
    tags=["anar360-requests"],
    cache_policy=NO_CACHE,
    **RETRY_TRANSIENT,
)
def fetch_pages(run_id: int, request: PageRequest) -> list[SourcePage]:
    """Fetch SYNC_PAGES_PER_BATCH supplier pages from ``request`` (numbered pages several at a time)."""
    res = resources(run_id, PIPELINE)
    count = res.settings.sync_pages_per_batch
    if request.token is not None:  # cursor-paged sources can only be followed one page at a time
        pages = [res.source.fetch_page(request)]
        while len(pages) < count and pages[-1].next is not None:
            pages.append(res.source.fetch_page(pages[-1].next))
        return pages
    return fetch_numbered(
        lambda number: res.source.fetch_page(replace(request, number=number)),
        request.number,
        count,
        workers=res.settings.http_concurrency,
        is_last=lambda page: page.next is None,
        last_number=lambda page: page.last_number,
    )


@task(
    name="sync-pages",
    tags=["sazito-requests"],
    cache_key_fn=batch_cache_key,
    cache_expiration=timedelta(days=2),
    persist_result=True,
    **RETRY_TRANSIENT,
)
def sync_pages(run_id: int, pages: list[SourcePage], dry_run: bool) -> SyncCounts:
    """Map, diff and push a batch of pages; cached per flow run and batch content, so a retried flow run
    does not resend a batch that landed."""
    res = resources(run_id, PIPELINE)
    batch = SourcePage(
        request=pages[0].request,
        products=[p for page in pages for p in page.products],
        rejects=[r for page in pages for r in page.rejects],
        next=pages[-1].next,
        total=pages[0].total,
    )
    result = sync_batch(res.settings, batch, res.target, run_id=run_id, dry_run=dry_run)
    if not dry_run:  # a dry run records no failures, so it quarantines nothing
        emit_items_quarantined(PIPELINE, run_id, result.failed, quarantined_reasons(result))
    return result
