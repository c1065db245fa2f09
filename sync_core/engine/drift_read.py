"""Reading a drift check's sides (sync_core.engine.drift): the target's catalogue read back without recording
it, the source read through the pipeline's own job without writing, the ledger and open push failures of the
values that differ; and the findings recorded on the run (journal entries, counters)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from sync_core.db import session_scope
from sync_core.engine.drift import (
    DriftCheck,
    DriftReport,
    Holds,
    cannot_check,
    classify,
    comparable,
    compare,
    latest,
    missing_items,
    sample_items,
)
from sync_core.engine.failures import open_failures
from sync_core.engine.job import Job, JournalNote, RunContext, TargetState
from sync_core.engine.paging import fetch_numbered
from sync_core.engine.plan import LedgerKey
from sync_core.engine.runs import add_counts, record_journal
from sync_core.errors import ConfigError
from sync_core.models import CataloguePage, Write

PAGES_AT_ONCE = 20  # catalogue pages fetched ahead, as a run's catalogue read does


def declared(ctx: RunContext) -> DriftCheck:
    """The pipeline's drift check; ConfigError (one line) when it declares none or has no catalogue."""
    check = ctx.pipeline.drift
    if check is None or ctx.pipeline.catalogue_role is None:
        raise ConfigError(cannot_check(ctx.pipeline.name))
    return check


def read_holds(ctx: RunContext, check: DriftCheck) -> dict[str, dict[str, dict[str, object]]]:
    """Every item of the target's catalogue (``Pipeline.catalogue_role``): key → kind → the value it holds.
    Nothing is recorded: the ledger must still say what it said."""
    assert ctx.pipeline.catalogue_role is not None
    reader = ctx.connector(ctx.pipeline.catalogue_role)
    holds: dict[str, dict[str, dict[str, object]]] = {}
    number: int | None = check.first_page
    while number is not None:
        pages: list[CataloguePage] = fetch_numbered(
            reader.read_catalogue_page,
            number,
            PAGES_AT_ONCE,
            workers=ctx.settings.http_concurrency,
            is_last=lambda page: page.next is None,
            last_number=lambda page: page.last_number,
        )
        holds.update({item.key: dict(item.holds) for page in pages for item in page.items})
        number = pages[-1].next
    return holds


def read_wanted(job: Job, check: DriftCheck) -> dict[LedgerKey, Write]:
    """What the source wants now: its whole listing (strategy ``check.listing``) through the job's own steps
    (links, then the mapping), as a dry run: nothing is created or written."""
    wanted: dict[LedgerKey, Write] = {}
    request = job.start(check.listing).first
    while request is not None:
        pages = job.fetch(request)
        wanted.update(latest(job.map(pages, job.prepare(pages, dry_run=True)).desired))
        request = pages[-1].next
    return wanted


def failing(ctx: RunContext, target: TargetState, writes: Sequence[Write]) -> set[LedgerKey]:
    """The (target key, kind) of these writes that have an open failure of the target's (a push that failed)."""
    of_failure: dict[tuple[str, str], LedgerKey] = {}
    for write in writes:
        for context, keys in target.settled([write]):
            of_failure.update({(context, key): (write.target_key, write.kind) for key in keys})
    contexts = sorted({context for context, _ in of_failure})
    if not contexts:
        return set()
    with session_scope(ctx.settings.database_url) as session:
        rows = open_failures(
            session,
            pipeline=ctx.key,
            contexts=contexts,
            item_keys=sorted({key for _, key in of_failure}),
        )
    return {of_failure[(context, key)] for _, context, key, _ in rows if (context, key) in of_failure}


def find_drift(
    ctx: RunContext, job: Job, *, sample: int | None = None, rng: random.Random | None = None
) -> DriftReport:
    """Read the target back and the source, compare (every item, or a random ``sample`` of items), and
    classify what differs against the ledger and open push failures; recorded on the run."""
    check = declared(ctx)
    holds: Holds = read_holds(ctx, check)
    wanted = read_wanted(job, check)
    candidates = comparable(wanted, holds)
    comparison = compare(wanted, holds, sample_items(candidates, sample, rng or random.Random()))
    writes = [d.write for d in comparison.differing]
    drifted = classify(comparison.differing, job.target.known(writes), failing(ctx, job.target, writes))
    report = DriftReport(
        ctx.key,
        comparison,
        drifted,
        missing=missing_items(wanted, holds),
        sampled_of=len(candidates) if sample is not None else None,
    )
    _record(ctx, report)
    return report


def _record(ctx: RunContext, report: DriftReport) -> None:
    """A journal entry per drifted value, and the run's counters: values compared, values in sync."""
    url = ctx.settings.database_url
    notes: list[JournalNote] = [("drift_found", d.write.target_key, d.example()) for d in report.drifted]
    record_journal(url, run_id=ctx.run_id, pipeline=ctx.key, entries=notes)
    if ctx.run_id is not None:
        c = report.comparison
        add_counts(url, run_id=ctx.run_id, fetched=c.values, unchanged=c.in_sync)
