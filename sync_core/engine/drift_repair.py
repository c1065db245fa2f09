"""Repairing drift: the wanted value of every drifted item written through the target's normal write path
(sync_core.engine.batch.send: each part recorded as it lands, the failures it ends and adds), with the
journal and the run's counters after.

Unlike a batch, nothing is planned against the ledger: an edited item's ledger row already says the target
holds the wanted value, which is exactly what is no longer true. What the source moved to is news from the
source, though, so it passes the guardrail first (sync_core.engine.guard): a value it would keep back is
left to the next sync, which weighs it with the rest of the run.
"""

from __future__ import annotations

from collections.abc import Sequence

from sync_core.engine.batch import record_sent, send, stop_if_fatal
from sync_core.engine.drift import SOURCE_MOVED, Drifted
from sync_core.engine.failures import has_open_failures
from sync_core.engine.guard import Thresholds, suspicion
from sync_core.engine.job import Job, RunContext


def repair_drift(ctx: RunContext, job: Job, drifted: Sequence[Drifted]) -> dict[str, int]:
    """Write the wanted values of ``drifted``; returns {"pushed", "failed", "left_to_sync"}. Raises RunAborted
    when the target stops us (circuit open, credentials refused), after recording what landed."""
    url, target, guard = ctx.settings.database_url, job.target, ctx.pipeline.guard
    limits = Thresholds.of(ctx.settings)
    suspicious = [
        d
        for d in drifted
        if guard is not None and d.drift == SOURCE_MOVED and suspicion(guard, limits, d.write, d.held)
    ]
    writes = [d.write for d in drifted if d not in suspicious]
    outcome, refused = send(ctx, target, writes, resolving=has_open_failures(url, pipeline=ctx.key))
    record_sent(ctx, job, outcome, refused)
    stop_if_fatal(ctx, target, outcome)
    return {"pushed": len(outcome.succeeded), "failed": len(refused), "left_to_sync": len(suspicious)}
