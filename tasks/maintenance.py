"""Prefect tasks of the maintenance flows: connection checks, failure replay, the health report."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from sync_core.db import session_scope
from sync_core.engine.failures import due_failures, mark_replay_failed, resolve, resolve_ids
from sync_core.engine.ledger import load_ledger, record_values
from sync_core.engine.pool import thread_pool
from sync_core.engine.runs import add_counts, record_journal
from sync_core.errors import ConnectorError
from sync_core.health import health_report
from sync_core.pipelines.anar360_sazito import PIPELINE, PUSH_CONTEXTS, TARGET, write_from_payload
from sync_core.tables import Failure
from tasks.policy import RETRY_TRANSIENT
from tasks.runtime import current_settings, resources

REPLAY_BATCH = 200


@task(name="check-connections", cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def check_connections(run_id: int, roles: tuple[str, ...]) -> None:
    """The pre-run check of the run's connections ("source", "target"): reachable, credentials accepted."""
    resources(run_id, PIPELINE).check(*roles)


def _replay(failure: Failure, res: Any) -> tuple[Failure, str | None, str]:
    try:
        res.target.apply_one(write_from_payload(failure.payload))
        return failure, None, ""
    except ConnectorError as exc:
        return failure, type(exc).__name__, str(exc)


@task(
    name="replay-failures",
    cache_policy=NO_CACHE,
    **RETRY_TRANSIENT,
)
def replay_failures(run_id: int) -> dict[str, int]:
    """Replay one batch of due write failures through the per-variant endpoints; mark dead after N attempts.
    A failure whose value the ledger says the store holds already is resolved without sending anything."""
    res = resources(run_id, PIPELINE)
    settings = res.settings
    due = due_failures(settings.database_url, pipeline=PIPELINE, contexts=PUSH_CONTEXTS, limit=REPLAY_BATCH)
    known = load_ledger(settings.database_url, target=TARGET, target_keys=[f.item_key for f in due])
    held = {
        f.id
        for f in due
        if known.get((f.item_key, (w := write_from_payload(f.payload)).kind)) == w.fingerprint
    }
    with thread_pool(settings.http_concurrency) as pool:
        outcomes = list(pool.map(lambda f: _replay(f, res), [f for f in due if f.id not in held]))
    counts: Counter[str] = Counter(due=len(due), already_held=len(held))
    events: list[tuple[str, str | None, dict[str, Any]]] = []
    with session_scope(settings.database_url) as session:
        resolve_ids(session, [i for i in held if i is not None])
        for failure, error_class, message in outcomes:
            if error_class is None:
                write = write_from_payload(failure.payload)
                record_values(session, target=TARGET, writes=[write], origin="written", run_id=run_id)
                resolve(session, pipeline=PIPELINE, context=failure.context, item_keys=[failure.item_key])
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
                events.append(
                    ("failure_dead", failure.item_key, {"context": failure.context, "error": message[:300]})
                )
    record_journal(settings.database_url, run_id=run_id, pipeline=PIPELINE, events=events)
    add_counts(
        settings.database_url,
        run_id=run_id,
        pushed=counts["resolved"],
        failed=counts["pending"] + counts["dead"],
    )
    return dict(counts)


@task(name="health-report", cache_policy=NO_CACHE)
def build_health_report() -> dict[str, Any]:
    """The health report of sync_core.health."""
    return health_report(current_settings())
