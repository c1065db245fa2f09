"""sync-products: fetch supplier pages → map → diff against the ledger → push only what changed."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.utilities.annotations import quote

from flows.artifacts import publish_run, report_progress, start_progress
from sync_core.pipeline import PIPELINE, PageResult
from tasks.products import begin_product_sync, fetch_pages, finish_product_sync, read_catalogue, sync_pages


@flow(name="sync-products", log_prints=False)
def sync_products(
    scope: Literal["full", "incremental"] = "incremental", since_ms: int | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Sync prices and stock. ``since_ms`` overrides the incremental window; ``dry_run`` writes nothing."""
    if scope not in ("full", "incremental"):
        raise ValueError(f"scope must be 'full' or 'incremental', not {scope!r}")
    if since_ms is not None and scope != "incremental":
        raise ValueError("since_ms applies to incremental syncs only")
    logger = get_run_logger()
    start = begin_product_sync(scope, since_ms, dry_run)
    total = PageResult()
    error: str | None = None
    try:
        if start.refresh_catalogue:
            next_page: int | None = 0
            while next_page is not None:
                next_page, _ = read_catalogue(start.run_id, next_page)
        progress = start_progress(PIPELINE)
        pending = fetch_pages.submit(start.run_id, start.first)
        done = 0
        while pending is not None:
            pages = pending.result()
            last = pages[-1]
            # The next batch of pages is fetched while this one is mapped and pushed.
            pending = fetch_pages.submit(start.run_id, last.next) if last.next else None
            # quote(): Prefect would otherwise walk every product looking for futures (seconds per batch).
            total.add(sync_pages(start.run_id, quote(pages), dry_run))
            done += len(pages)
            size = last.request.size or 1
            report_progress(progress, done, -(-last.total // size) if last.total else None)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        summary = finish_product_sync(start.run_id, start.window_start_ms, scope, dry_run, total, error)
        publish_run(summary)
        logger.info(
            "run %s %s: pushed %s, unchanged %s, skipped %s, failed %s, %s requests",
            summary["run_id"],
            summary["status"],
            summary["pushed"],
            summary["unchanged"],
            summary["skipped"],
            summary["failed"],
            summary["requests"],
        )
    return summary
