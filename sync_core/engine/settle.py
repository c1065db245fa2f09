"""A guarded run's end, and an operator's answer to a held one (sync_core.engine.guard, .held).

``settle`` weighs the writes a run kept back once it has read everything: it sends them through the normal
write path when the run passes, or holds them (the run ends ``held``). ``release`` sends a held run's writes,
skipping those a later write of the same item has overtaken; ``discard`` drops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sync_core.db import session_scope
from sync_core.engine.batch import record_sent, send, stop_if_fatal
from sync_core.engine.failures import has_open_failures
from sync_core.engine.guard import PRICE_DROP, STOCK_ZEROED, Measures, Thresholds, verdict
from sync_core.engine.held import (
    DEFERRED,
    DISCARDED,
    HELD,
    RELEASED,
    SENT,
    SUPERSEDED,
    as_write,
    counts_by_reason,
    drop_abandoned,
    kept_back,
    mark,
    mark_run,
    target_holds,
    written_since,
)
from sync_core.engine.job import Job, RunContext, SyncCounts
from sync_core.engine.runs import get_run, last_finished_run
from sync_core.errors import ConfigError
from sync_core.tables import HeldWrite, SyncRun
from sync_core.targets.remote import RemoteTarget

# A complete read whose listing a later one is compared with: what the operator accepted counts too.
BASELINE_STATUSES = ("success", "partial", "released")


@dataclass
class Settled:
    """What the guardrail decided at a run's end: ``held`` (one line per reason) or not, and its numbers."""

    held: tuple[str, ...] = ()
    entry: dict[str, Any] = field(default_factory=dict)  # the run summary's "guard" entry


def settle(ctx: RunContext, job: Job, *, scope: str, total: SyncCounts, dry_run: bool) -> Settled | None:
    """Weigh the writes the run kept back (module docstring); None when its pipeline has no guard. A dry run
    kept nothing back: its counts say what it would have, and the entry what would trip."""
    guard, target = ctx.pipeline.guard, job.target
    if guard is None or not isinstance(target, RemoteTarget) or ctx.run_id is None:
        return None
    url = ctx.settings.database_url
    limits = Thresholds.of(ctx.settings)
    rows: list[HeldWrite] = []
    if dry_run:
        reasons = {r: total.reasons[f"guard:{r}"] for r in (STOCK_ZEROED, PRICE_DROP)}
    else:
        drop_abandoned(url, pipeline=ctx.key, run_id=ctx.run_id)
        rows = kept_back(url, run_id=ctx.run_id, status=DEFERRED)
        reasons = counts_by_reason(rows)
    # What the target holds matters only against suspects: a normal run (none) skips reading the ledger.
    suspects = reasons.get(STOCK_ZEROED, 0) + reasons.get(PRICE_DROP, 0)
    stocked, priced = target_holds(url, target=target.name, guard=guard) if suspects else (None, None)
    complete = scope in guard.complete_scopes
    measures = Measures(
        zeroed=reasons.get(STOCK_ZEROED, 0),
        stocked=stocked,
        price_drops=reasons.get(PRICE_DROP, 0),
        priced=priced,
        listed=total.fetched if complete else None,
        listed_before=_last_listing(url, ctx.key, scope) if complete else None,
    )
    found = verdict(limits, measures)
    entry: dict[str, Any] = dict(found.numbers)
    # A pipeline's first sync weighs the target as it found it, not a day the source had before: it holds
    # nothing (the store may well be stale), and says so.
    strategies = ctx.pipeline.strategies
    first = last_finished_run(url, pipeline=ctx.key, scope=strategies, statuses=BASELINE_STATUSES) is None
    if first:
        entry["first_sync"] = True
    if dry_run:
        entry["would_hold"] = [] if first else list(found.reasons)
        return Settled(entry=entry)
    if found.tripped and not first:
        entry["held_writes"] = mark_run(url, run_id=ctx.run_id, was=DEFERRED, status=HELD)
        entry["reasons"] = list(found.reasons)
        return Settled(found.reasons, entry)
    entry["sent_after_check"] = _send_rows(ctx, job, rows, done=SENT)
    return Settled(entry=entry)


def _last_listing(url: str, key: str, scope: str) -> int | None:
    """How many items the last complete read of ``key`` listed (None: no such read yet). The running run is
    not one: it has not ended."""
    run = last_finished_run(url, pipeline=key, scope=scope, statuses=BASELINE_STATUSES)
    return run.fetched if run is not None else None


def _send_rows(ctx: RunContext, job: Job, rows: Sequence[HeldWrite], *, done: str) -> int:
    """Send kept-back writes through the normal write path and mark them ``done``; those whose value the
    target is known to hold already (a retried step) are marked without a request. How many were sent."""
    if not rows:
        return 0
    url, target = ctx.settings.database_url, job.target
    writes = {row.id: as_write(row) for row in rows if row.id is not None}
    known = target.known(list(writes.values()))
    due = {i: w for i, w in writes.items() if known.get((w.target_key, w.kind)) != w.fingerprint}
    mark(url, [i for i in writes if i not in due], done)
    outcome, refused = send(
        ctx, target, list(due.values()), resolving=has_open_failures(url, pipeline=ctx.key)
    )
    landed = {(w.target_key, w.kind) for w in outcome.succeeded}
    mark(url, [i for i, w in due.items() if (w.target_key, w.kind) in landed], done)
    mark(url, [i for i, w in due.items() if (w.target_key, w.kind) not in landed], "failed")
    record_sent(ctx, job, outcome, refused)
    stop_if_fatal(ctx, target, outcome)
    return len(outcome.succeeded)


def held_run(url: str, run_id: int) -> SyncRun:
    """The run ``run_id``, which must be held; ConfigError (one line) otherwise."""
    run = get_run(url, run_id=run_id)
    if run is None:
        raise ConfigError(f"there is no run {run_id} (see `catalog-sync runs`)")
    if run.status != HELD:
        raise ConfigError(f"run {run_id} is {run.status}, not held: there is nothing to release or discard")
    return run


def release(ctx: RunContext, job: Job, held_id: int) -> dict[str, int]:
    """Send the writes run ``held_id`` holds, as run ``ctx.run_id``; a write whose item a later run wrote
    since is ``superseded``, not sent. Counts: released, superseded, failed."""
    target, url = job.target, ctx.settings.database_url
    if not isinstance(target, RemoteTarget):
        raise ConfigError(f"{ctx.pipeline.name} holds no writes")
    rows = kept_back(url, run_id=held_id, status=HELD)
    overtaken = written_since(url, target=target.name, rows=rows)
    stale = [r for r in rows if (r.target_key, r.kind) in overtaken]
    mark(url, [r.id for r in stale if r.id is not None], SUPERSEDED)
    fresh = [r for r in rows if (r.target_key, r.kind) not in overtaken]
    sent = _send_rows(ctx, job, fresh, done=RELEASED)
    failed = len(kept_back(url, run_id=held_id, status="failed"))
    finish_held(url, held_id, RELEASED, f"released by run {ctx.run_id}: {sent} write(s) sent")
    return {"released": sent, "superseded": len(stale), "failed": failed}


def discard(url: str, held_id: int) -> int:
    """Drop the writes run ``held_id`` holds; how many."""
    held_run(url, held_id)
    dropped = mark_run(url, run_id=held_id, was=HELD, status=DISCARDED)
    finish_held(url, held_id, DISCARDED, f"discarded: {dropped} held write(s) dropped")
    return dropped


def finish_held(url: str, run_id: int, status: str, note: str) -> None:
    """End a held run's wait: ``status`` (released, discarded), ``note`` added to its error line."""
    with session_scope(url) as session:
        run = session.get(SyncRun, run_id)
        if run is not None:
            run.status = status
            run.error = f"{run.error}; {note}" if run.error else note
            session.add(run)
