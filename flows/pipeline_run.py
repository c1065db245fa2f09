"""The runner: one run of any pipeline — start, read the target's catalogue when the job asks, then fetch a
batch of pages while the previous one is mapped, planned and applied — inside the one run lifecycle
(flows.lifecycle). ``sync-pipeline`` runs any registered pipeline; ``sync-products`` and ``sync-events`` are
the same runner under the names users and deployments know."""

from __future__ import annotations

from functools import partial
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.utilities.annotations import quote

from flows.artifacts import start_progress
from flows.lifecycle import open_pipeline_run, skipped
from sync_core.engine.job import SyncCounts
from sync_core.engine.registry import pipeline as find_pipeline
from sync_core.engine.spec import SOURCE, TARGET
from sync_core.errors import PipelineBusy
from tasks.pipeline import fetch_pages, finish_run, read_catalogue, settle_run, start_run, sync_pages
from tasks.runtime import job_notes, resources, tags_for


def run_pipeline(
    name: str,
    strategy: str | None = None,
    *,
    dry_run: bool = False,
    connections: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    part: str | None = None,
) -> dict[str, Any] | State[Any]:
    """Run pipeline ``name`` (or command) with ``strategy`` (its default when None); the run's summary.
    ``part`` names a share of the work (a shard, "2/4") run under a lease of its own."""
    spec = find_pipeline(name)
    strategy = strategy or spec.default_strategy
    if strategy not in spec.strategies:
        raise ValueError(f"{spec.name} runs {' or '.join(spec.strategies)}, not {strategy!r}")
    logger = get_run_logger()
    try:
        run = open_pipeline_run(
            spec, strategy, dry_run=dry_run, connections=connections, params=params, part=part
        )
    except PipelineBusy as busy:
        return skipped(busy)
    with run:
        # Network tasks carry their connection's '<connection>-requests' tag (Prefect tag concurrency limits).
        fetch = fetch_pages.with_options(tags=tags_for(run.id, SOURCE))
        apply = sync_pages.with_options(tags=tags_for(run.id, TARGET))
        start = start_run(run.id, strategy)
        run.result = total = SyncCounts()
        if start.read_catalogue:
            read = read_catalogue.with_options(tags=tags_for(run.id, TARGET))
            next_page: int | None = 0
            while next_page is not None:
                next_page, seen = read(run.id, next_page)
                logger.info("target catalogue: %s items read (next page %s)", seen, next_page)
        # The tracker moves the progress artifact, and the command line's bar when one listens.
        progress = start_progress(run.pipeline, row=(run.settings.database_url, run.id, job_notes(run.id)))
        pending = fetch.submit(run.id, start.first) if start.first is not None else None
        while pending is not None:
            pages = pending.result()
            last = pages[-1]
            # The next batch of pages is fetched while this one is mapped, planned and applied.
            pending = fetch.submit(run.id, last.next) if last.next else None
            expected = -(-last.total // (last.request.size or 1)) if last.total else None
            advance = partial(progress.advance, expected_pages=expected, expected_items=last.total)
            before = progress.snapshot().pages
            resources(run.id).on_pages = advance  # the batch's pages, as their share of its writes lands
            # quote(): Prefect would otherwise walk every record looking for futures (seconds per batch).
            total.add(apply(run.id, quote(pages), dry_run))  # type: ignore[call-overload]
            told = progress.snapshot().pages - before  # none when the batch ran where this runner is not
            items = sum(len(page.records) + len(page.rejects) for page in pages)
            done = advance(len(pages) - told, items=items).pages
            logger.info(
                "pages %s%s: pushed %s, unchanged %s, skipped %s, failed %s",
                done,
                f"/{expected}" if expected else "",
                total.pushed,
                total.unchanged,
                total.skipped,
                total.failed,
            )
        progress.finish()  # 100%; a run stopped by an exception leaves it where it got to
        # The guardrail's verdict on the writes it kept back (only a guarded pipeline keeps any back).
        settled = (
            settle_run(run.id, strategy, quote(total), dry_run)  # type: ignore[call-overload]
            if spec.guard is not None
            else None
        )
        if settled is not None:
            run.extra["guard"] = settled.entry
            run.hold(settled.held)
        run.extra.update(finish_run(run.id, total))
        if start.cursor is not None:
            run.move_cursor_on_success(*start.cursor)
    return run.summary


@flow(name="sync-pipeline")
def sync_pipeline(
    pipeline: str,
    strategy: str | None = None,
    dry_run: bool = False,
    connections: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any] | State[Any]:
    """Run any registered pipeline: ``strategy`` one of its strategies (its first when None),
    ``connections`` role → connection name (CONNECTIONS) instead of the default ones."""
    return run_pipeline(pipeline, strategy, dry_run=dry_run, connections=connections, params=params)
