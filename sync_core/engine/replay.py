"""Replaying failed writes: due failures of a pipeline's replayable contexts, sent again one at a time through
the target's per-item call, with backoff; an item that keeps failing is marked dead."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sync_core.db import session_scope
from sync_core.engine.failures import due_failures, mark_replay_failed, resolve, resolve_ids
from sync_core.engine.job import JournalNote, RunContext, TargetState
from sync_core.engine.pool import thread_pool
from sync_core.engine.ports import Replayer
from sync_core.engine.runs import add_counts, record_journal
from sync_core.errors import ConnectorError
from sync_core.models import Write
from sync_core.tables import Failure

REPLAY_BATCH = 200


def _replay(replayer: Replayer, failure: Failure) -> tuple[Failure, str | None, str]:
    try:
        replayer.apply_one(Write.from_payload(failure.payload))
        return failure, None, ""
    except ConnectorError as exc:
        return failure, type(exc).__name__, str(exc)


def replay_due(ctx: RunContext, target: TargetState, replayer: Replayer) -> dict[str, int]:
    """Replay one batch of due failures. A failure whose value the target is known to hold already is
    resolved without sending anything. Returns counts: due, already_held, resolved, pending, dead."""
    settings, url = ctx.settings, ctx.settings.database_url
    due = due_failures(url, pipeline=ctx.key, contexts=ctx.pipeline.replayable, limit=REPLAY_BATCH)
    writes = {f.id: Write.from_payload(f.payload) for f in due}
    known = target.known(list(writes.values()))
    held = [i for i, w in writes.items() if known.get((w.target_key, w.kind)) == w.fingerprint]
    with thread_pool(settings.http_concurrency) as pool:
        outcomes = list(pool.map(lambda f: _replay(replayer, f), [f for f in due if f.id not in held]))
    counts: Counter[str] = Counter(due=len(due), already_held=len(held))
    notes: list[JournalNote] = []
    with session_scope(url) as session:
        resolve_ids(session, [i for i in held if i is not None])
        for failure, error_class, message in outcomes:
            if error_class is None:
                write = writes[failure.id]
                target.record(session, succeeded=[write], unchanged=(), run_id=ctx.run_id)
                resolve(session, pipeline=ctx.key, context=failure.context, item_keys=[failure.item_key])
                counts["resolved"] += 1
                continue
            assert failure.id is not None
            status = mark_replay_failed(
                session,
                failure_id=failure.id,
                error_class=error_class,
                message=message,
                max_attempts=settings.failure_max_attempts,
                retry_base_s=settings.failure_retry_base_s,
            )
            counts[status] += 1
            if status == "dead":
                data: dict[str, Any] = {"context": failure.context, "error": message[:300]}
                notes.append(("failure_dead", failure.item_key, data))
    record_journal(url, run_id=ctx.run_id, pipeline=ctx.key, entries=notes)
    if ctx.run_id is not None:
        add_counts(
            url, run_id=ctx.run_id, pushed=counts["resolved"], failed=counts["pending"] + counts["dead"]
        )
    return dict(counts)
