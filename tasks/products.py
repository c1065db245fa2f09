"""Prefect tasks of the product sync: begin, fetch a page, sync a page, finish."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context

from sync_core.catalogue import record_catalogue_page
from sync_core.db import refresh_statistics, upgrade
from sync_core.ledger import count_links
from sync_core.models import CataloguePage, PageRequest, SourcePage
from sync_core.paging import fetch_numbered
from sync_core.pipeline import PIPELINE, SOURCE, TARGET, PageResult, sync_page
from sync_core.runs import add_counts, finish_run, get_cursor, set_cursor, start_run
from tasks.events import emit_items_quarantined, quarantined_reasons
from tasks.policy import RETRY_TRANSIENT, batch_cache_key
from tasks.runtime import current_settings, release, resources

CURSOR_KEY = "products.window_start_ms"
CATALOGUE_CURSOR_KEY = "catalogue.read_at_ms"
CATALOGUE_PAGES_PER_TASK = 20


@dataclass(frozen=True)
class RunStart:
    run_id: int
    first: PageRequest
    window_start_ms: int
    refresh_catalogue: bool


def current_flow_run_id() -> str | None:
    """The Prefect flow-run id of the running task or flow (stored on the sync_runs row), if any."""
    try:
        ctx = get_run_context()
    except RuntimeError:
        return None
    run = getattr(ctx, "flow_run", None) or getattr(getattr(ctx, "task_run", None), "flow_run_id", None)
    return str(getattr(run, "id", run)) if run else None


def now_ms() -> int:
    return int(time.time() * 1000)


@task(
    name="begin-product-sync",
    cache_policy=NO_CACHE,
    **RETRY_TRANSIENT,
)
def begin_product_sync(scope: str, since_ms: int | None, dry_run: bool) -> RunStart:
    """Migrate the store, open a run, validate the supplier token, and work out the window to fetch."""
    settings = current_settings()
    settings.require("anar360_base", "anar360_token", "sazito_base", "sazito_key")
    url = settings.database_url
    upgrade(url)
    run_id = start_run(
        url, pipeline=PIPELINE, scope=scope, dry_run=dry_run, flow_run_id=current_flow_run_id()
    )
    window_start = now_ms()
    try:
        resources(run_id, PIPELINE).source.check()
    except Exception as exc:
        finish_run(url, run_id=run_id, status="failed", error=str(exc))
        release(run_id)
        raise
    window: int | None = None
    if scope == "incremental":
        cursor = get_cursor(url, pipeline=PIPELINE, key=CURSOR_KEY)
        if since_ms is not None:
            window = abs(since_ms)
        elif cursor is not None:
            window = max(window_start - int(cursor), 0) + settings.sync_overlap_ms
        else:
            window = abs(settings.sync_since_ms)
    catalogue_read = get_cursor(url, pipeline=PIPELINE, key=CATALOGUE_CURSOR_KEY)
    refresh = scope == "full" or catalogue_read is None or count_links(url, source=SOURCE, target=TARGET) == 0
    first = resources(run_id, PIPELINE).source.first_page(since_ms=window)
    return RunStart(run_id, first, window_start, refresh)


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
def sync_pages(run_id: int, pages: list[SourcePage], dry_run: bool) -> PageResult:
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
    result = sync_page(res.settings, batch, res.target, run_id=run_id, dry_run=dry_run)
    if not dry_run:  # a dry run records no failures, so it quarantines nothing
        emit_items_quarantined(PIPELINE, run_id, result.failed, quarantined_reasons(result))
    return result


@task(name="finish-product-sync", cache_policy=NO_CACHE)
def finish_product_sync(
    run_id: int, window_start_ms: int, scope: str, dry_run: bool, result: PageResult | None, error: str | None
) -> dict[str, Any]:
    """Close the run; move the cursor only when the window's writes are all recorded."""
    settings = current_settings()
    url = settings.database_url
    requests = release(run_id)
    add_counts(url, run_id=run_id, requests=requests)
    if error is not None:
        status = "failed"
    elif result is not None and result.failed:
        status = "partial"
    else:
        status = "success"
    if status != "failed" and not dry_run:
        # Failed items are in `failures` (replayed by retry-failures), so the window is done either way.
        set_cursor(url, pipeline=PIPELINE, key=CURSOR_KEY, value=str(window_start_ms))
    run = finish_run(url, run_id=run_id, status=status, error=error)
    return run_summary(run, result)


def run_summary(run: Any, result: PageResult | None) -> dict[str, Any]:
    """The dict a flow returns and the CLI prints."""
    started, finished = run.started_at, run.finished_at
    summary = {
        "run_id": run.id,
        "pipeline": run.pipeline,
        "scope": run.scope,
        "status": run.status,
        "dry_run": run.dry_run,
        "duration_s": round((finished - started).total_seconds(), 2) if finished and started else None,
        "fetched": run.fetched,
        "mapped": run.mapped,
        "pushed": run.pushed,
        "unchanged": run.unchanged,
        "skipped": run.skipped,
        "failed": run.failed,
        "requests": run.requests,
        "error": run.error,
    }
    if result is not None:
        summary["reasons"] = dict(result.reasons)
        summary["created"] = result.created
        if run.dry_run:  # nothing was recorded: the counts are what the run would have done
            summary.update(
                {
                    name: getattr(result, name)
                    for name in ("fetched", "mapped", "pushed", "unchanged", "skipped", "failed")
                },
                diffs=result.diffs,
            )
    return summary
