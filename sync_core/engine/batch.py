"""One batch of any pipeline: prepare → map (pure) → plan against what the target holds (pure) → apply →
record. Plain Python over the job and its target; the Prefect tasks in ``tasks/`` wrap it.

Each part of the writes is recorded as it lands (its ledger rows, the failures it ends, the failures it adds),
in groups a fraction of a second apart (engine.recorder), so a crash later in the batch cannot make a rerun
send it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sync_core.db import session_scope
from sync_core.engine.failures import NewFailure, has_open_failures, record_failures, resolve
from sync_core.engine.job import DIFF_SAMPLE, ITEM_COUNTERS, Job, JournalNote, Mapped, RunContext, SyncCounts
from sync_core.engine.plan import plan_writes
from sync_core.engine.progress import PagesTold
from sync_core.engine.recorder import GroupRecorder
from sync_core.engine.runs import add_counts, record_journal
from sync_core.models import SourcePage, Write, WriteOutcome, fingerprint


class RunAborted(Exception):
    """A batch's writes hit an error that makes the rest of the run pointless (circuit open, bad key)."""


def reject_failures(context: str, pages: Sequence[SourcePage]) -> list[NewFailure]:
    """Failure rows of the records the source could not read."""
    return [
        NewFailure(
            context,
            r.key or f"unknown:{fingerprint('reject', r.payload)}",
            r.error_class,
            r.reason,
            r.message,
            r.payload,
        )
        for page in pages
        for r in page.rejects
    ]


def sync_batch(
    ctx: RunContext,
    job: Job,
    pages: Sequence[SourcePage],
    *,
    dry_run: bool = False,
    on_pages: Callable[[int], object] | None = None,
) -> SyncCounts:
    """Prepare, map, plan and apply one batch of pages; record ledger, failures, journal and counters.
    ``on_pages(n)``: n more of the batch's pages are done, told as their share of the writes lands (so
    progress moves within a long batch) and at the end."""
    told = PagesTold(len(pages), on_pages)
    url, target = ctx.settings.database_url, job.target
    rejects = reject_failures(job.map_context, pages)
    prepared = job.prepare(pages, dry_run=dry_run)
    mapped = job.map(pages, prepared)
    counts = SyncCounts(
        fetched=sum(len(p.records) + len(p.rejects) for p in pages) + mapped.skipped_unread,
        mapped=mapped.mapped,
        skipped=mapped.skipped + mapped.skipped_unread,
        failed=len(rejects) + len(mapped.failures),
        created=mapped.created,
    )
    counts.reasons.update(f"invalid:{f.reason}" for f in rejects)
    counts.reasons.update(mapped.reasons)
    known = target.known(mapped.desired)
    plan = plan_writes(mapped.desired, known)
    counts.unchanged = len(plan.unchanged)
    if dry_run:  # what would be pushed, with a sample of it (a real run keeps no values: they can be large)
        counts.pushed = len(plan.writes)
        counts.diffs = [
            {"kind": w.kind, "target": w.target_key, "source": w.source_key, "value": w.value}
            for w in plan.writes[:DIFF_SAMPLE]
        ]
        told.all()
        return counts

    # Resolving is an UPDATE per part; with no open failure at all (the usual case) it is skipped.
    resolving = has_open_failures(url, pipeline=ctx.key)

    planned = len(plan.writes)
    refused: list[NewFailure] = []  # the failure rows of the writes the target refused, made as they land

    def record_parts(parts: Sequence[WriteOutcome]) -> None:
        succeeded = [w for part in parts for w in part.succeeded]
        failures = [target.failure(f) for part in parts for f in part.failed]
        with session_scope(url) as session:
            target.record(session, succeeded=succeeded, unchanged=(), run_id=ctx.run_id)
            for context, keys in target.settled(succeeded) if resolving else ():
                resolve(session, pipeline=ctx.key, context=context, item_keys=keys)
            record_failures(
                session,
                pipeline=ctx.key,
                failures=failures,
                retry_base_s=ctx.settings.failure_retry_base_s,
            )
        refused.extend(failures)
        told.share(len(succeeded) + len(failures), planned)

    # What lands is recorded within a fraction of a second, a group of parts a transaction (engine.recorder).
    recorder = GroupRecorder(record_parts)
    try:
        outcome = target.apply(plan.writes, on_outcome=recorder.add)
    except BaseException:
        recorder.flush()  # what landed before the error is recorded, so a rerun does not send it again
        raise
    recorder.close()
    counts.pushed = len(outcome.succeeded)
    counts.inserted = sum((w.target_key, w.kind) not in known for w in outcome.succeeded)
    counts.failed += len(refused)
    counts.reasons.update(
        f"{'push' if row.context.startswith('push:') else 'invalid'}:{row.reason}" for row in refused
    )
    refused_keys = {row.item_key for row in refused}
    mapped.clean = [key for key in mapped.clean if key not in refused_keys]  # a refused row stays quarantined
    _record_batch(
        ctx, job, mapped, rejects + mapped.failures, refused, plan.unchanged, resolving, outcome, counts
    )
    told.all()
    fatal = [f for f in outcome.failed if issubclass(f.error, target.fatal)]
    if fatal:
        names = ", ".join(sorted({f.error.__name__ for f in fatal}))
        raise RunAborted(f"{ctx.pipeline.name} writes stopped: {names} ({fatal[0].message})")
    return counts


def _record_batch(
    ctx: RunContext,
    job: Job,
    mapped: Mapped,
    failures: list[NewFailure],
    refused: list[NewFailure],
    held: list[Write],
    resolving: bool,
    outcome: WriteOutcome,
    counts: SyncCounts,
) -> None:
    """The batch's mapping failures and resolutions, the values it found held, its journal (``refused``: the
    failures of its writes, recorded as their parts landed) and counters.

    Resolved: the quarantine of every item read right (``mapped.clean``), and the failures of every value the
    target already holds as the source wants it now (``held``): a replay would send a value no longer wanted.
    """
    url, target = ctx.settings.database_url, job.target
    with session_scope(url) as session:
        target.record(session, succeeded=(), unchanged=held, run_id=ctx.run_id)
        if resolving:
            resolve(session, pipeline=ctx.key, context=job.map_context, item_keys=mapped.clean)
            for context, keys in target.settled(held):
                resolve(session, pipeline=ctx.key, context=context, item_keys=keys)
        record_failures(
            session, pipeline=ctx.key, failures=failures, retry_base_s=ctx.settings.failure_retry_base_s
        )
    notes: list[JournalNote] = []
    if job.journal_noun:
        for kind in sorted({w.kind for w in outcome.succeeded}):
            keys = [w.target_key for w in outcome.succeeded if w.kind == kind]
            notes.append(
                (f"{job.journal_noun}_{kind}_updated", None, {"count": len(keys), "variants": keys[:50]})
            )
    notes.extend(
        ("item_failed", f.item_key, {"context": f.context, "reason": f.reason, "error": f.message[:300]})
        for f in failures + refused
    )
    notes.extend(mapped.notes)
    record_journal(url, run_id=ctx.run_id, pipeline=ctx.key, entries=notes)
    if ctx.run_id is not None:
        add_counts(url, run_id=ctx.run_id, **{name: getattr(counts, name) for name in ITEM_COUNTERS})
