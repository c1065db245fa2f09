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
from sync_core.engine.guard import Suspect, Thresholds, split
from sync_core.engine.held import park
from sync_core.engine.job import (
    DIFF_SAMPLE,
    ITEM_COUNTERS,
    Job,
    JournalNote,
    Mapped,
    RunContext,
    SyncCounts,
    TargetState,
)
from sync_core.engine.ledger import load_ledger_values
from sync_core.engine.plan import plan_writes
from sync_core.engine.progress import PagesTold
from sync_core.engine.recorder import GroupRecorder
from sync_core.engine.runs import add_counts, record_journal
from sync_core.engine.snapshots import record_snapshots
from sync_core.models import SourcePage, Write, WriteOutcome, fingerprint
from sync_core.targets.remote import RemoteTarget


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
    if not dry_run:  # what the source gave, for `catalog-sync explain`: one bulk upsert
        record_snapshots(ctx, job, pages, mapped)
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
    writes, suspects = keep_back(ctx, target, plan.writes, park_them=not dry_run)
    counts.reasons.update(f"guard:{s.reason}" for s in suspects)
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
    outcome, refused = send(ctx, target, writes, resolving=resolving, told=told)
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
    stop_if_fatal(ctx, target, outcome)
    return counts


def written_notes(
    noun: str | None, succeeded: Sequence[Write], failures: Sequence[NewFailure]
) -> list[JournalNote]:
    """Journal entries of writes: "<noun>_<kind>_updated" per kind written (when the job names a noun), and
    "item_failed" per failure."""
    notes: list[JournalNote] = []
    for kind in sorted({w.kind for w in succeeded}) if noun else ():
        keys = [w.target_key for w in succeeded if w.kind == kind]
        notes.append((f"{noun}_{kind}_updated", None, {"count": len(keys), "variants": keys[:50]}))
    notes.extend(
        ("item_failed", f.item_key, {"context": f.context, "reason": f.reason, "error": f.message[:300]})
        for f in failures
    )
    return notes


def keep_back(
    ctx: RunContext, target: TargetState, writes: list[Write], *, park_them: bool
) -> tuple[list[Write], list[Suspect]]:
    """(writes to send now, writes the guardrail keeps back) of a batch, the latter parked as the run's
    deferred writes when ``park_them`` (they wait for its verdict: sync_core.engine.settle). None is kept back
    when the pipeline declares no guard or its target keeps no ledger."""
    guard = ctx.pipeline.guard
    if guard is None or not isinstance(target, RemoteTarget) or not writes:
        return writes, []
    url = ctx.settings.database_url
    before = load_ledger_values(url, target=target.name, writes=writes, kinds=guard.kinds)
    ordinary, suspects = split(guard, Thresholds.of(ctx.settings), writes, before)
    if suspects and park_them and ctx.run_id is not None:
        park(url, run_id=ctx.run_id, pipeline=ctx.key, target=target.name, suspects=suspects)
    return ordinary, suspects


def send(
    ctx: RunContext,
    target: TargetState,
    writes: Sequence[Write],
    *,
    resolving: bool,
    told: PagesTold | None = None,
) -> tuple[WriteOutcome, list[NewFailure]]:
    """Apply ``writes``, recording each part as it lands (ledger, the failures it ends, the failures it adds);
    (the outcome, the failure rows of the writes the target refused). ``resolving``: whether open failures
    may end (with none open, the UPDATE per part is skipped)."""
    url = ctx.settings.database_url
    planned = len(writes)
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
        if told is not None:
            told.share(len(succeeded) + len(failures), planned)

    # What lands is recorded within a fraction of a second, a group of parts a transaction (engine.recorder).
    recorder = GroupRecorder(record_parts)
    try:
        outcome = target.apply(writes, on_outcome=recorder.add)
    except BaseException:
        recorder.flush()  # what landed before the error is recorded, so a rerun does not send it again
        raise
    recorder.close()
    return outcome, refused


def record_sent(ctx: RunContext, job: Job, outcome: WriteOutcome, refused: Sequence[NewFailure]) -> None:
    """The journal and counters of writes sent outside a batch (kept back, released, repaired): the failures of
    the refused ones were recorded as their parts landed (``send``)."""
    url = ctx.settings.database_url
    notes = written_notes(job.journal_noun, outcome.succeeded, refused)
    record_journal(url, run_id=ctx.run_id, pipeline=ctx.key, entries=notes)
    if ctx.run_id is not None:
        add_counts(url, run_id=ctx.run_id, pushed=len(outcome.succeeded), failed=len(refused))


def stop_if_fatal(ctx: RunContext, target: TargetState, outcome: WriteOutcome) -> None:
    """RunAborted when a write failed in a way that makes going on pointless (circuit open, bad key)."""
    fatal = [f for f in outcome.failed if issubclass(f.error, target.fatal)]
    if fatal:
        names = ", ".join(sorted({f.error.__name__ for f in fatal}))
        raise RunAborted(f"{ctx.pipeline.name} writes stopped: {names} ({fatal[0].message})")


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
    notes = written_notes(job.journal_noun, outcome.succeeded, failures + refused)
    notes.extend(mapped.notes)
    record_journal(url, run_id=ctx.run_id, pipeline=ctx.key, entries=notes)
    if ctx.run_id is not None:
        add_counts(url, run_id=ctx.run_id, **{name: getattr(counts, name) for name in ITEM_COUNTERS})
