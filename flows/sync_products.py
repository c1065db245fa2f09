"""sync-products: fetch supplier pages → map → diff against the ledger → push only what changed."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.states import State
from prefect.utilities.annotations import quote

from flows.artifacts import report_progress, start_progress
from flows.lifecycle import open_pipeline_run, skipped
from sync_core.errors import PipelineBusy
from sync_core.pipelines.anar360_sazito import PIPELINE, SyncCounts
from tasks.products import CURSOR_KEY, fetch_pages, plan_product_sync, read_catalogue, sync_pages


@flow(name="sync-products", log_prints=False)
def sync_products(
    scope: Literal["full", "incremental"] = "incremental", since_ms: int | None = None, dry_run: bool = False
) -> dict[str, Any] | State[Any]:
    """Sync prices and stock. ``since_ms`` overrides the incremental window; ``dry_run`` writes nothing."""
    if scope not in ("full", "incremental"):
        raise ValueError(f"scope must be 'full' or 'incremental', not {scope!r}")
    if since_ms is not None and scope != "incremental":
        raise ValueError("since_ms applies to incremental syncs only")
    logger = get_run_logger()
    try:
        run = open_pipeline_run(PIPELINE, scope, dry_run=dry_run)
    except PipelineBusy as busy:
        return skipped(busy)
    with run:
        start = plan_product_sync(run.id, scope, since_ms)
        run.result = total = SyncCounts()
        if start.refresh_catalogue:
            next_page: int | None = 0
            while next_page is not None:
                next_page, seen = read_catalogue(run.id, next_page)
                logger.info("store catalogue: %s variants read (next page %s)", seen, next_page)
        progress = start_progress(PIPELINE)
        pending = fetch_pages.submit(run.id, start.first)
        done = 0
        while pending is not None:
            pages = pending.result()
            last = pages[-1]
            # The next batch of pages is fetched while this one is mapped and pushed.
            pending = fetch_pages.submit(run.id, last.next) if last.next else None
            # quote(): Prefect would otherwise walk every product looking for futures (seconds per batch).
            total.add(sync_pages(run.id, quote(pages), dry_run))
            done += len(pages)
            size = last.request.size or 1
            expected = -(-last.total // size) if last.total else None
            report_progress(progress, done, expected)
            logger.info(
                "pages %s%s: pushed %s, unchanged %s, skipped %s, failed %s",
                done,
                f"/{expected}" if expected else "",
                total.pushed,
                total.unchanged,
                total.skipped,
                total.failed,
            )
        run.move_cursor_on_success(CURSOR_KEY, str(start.window_start_ms))
    return run.summary
