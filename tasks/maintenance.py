"""Prefect tasks of the catalogue refresh, the failure replay and the health report."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from sync_core.db import session_scope, upgrade
from sync_core.errors import ConnectorError
from sync_core.failures import due_failures, mark_replay_failed, resolve
from sync_core.health import health_report
from sync_core.ledger import record_values
from sync_core.pipeline import PIPELINE, TARGET, write_from_payload
from sync_core.runs import add_counts, finish_run, get_run, record_events, start_run
from sync_core.tables import Failure
from tasks.policy import RETRY_TRANSIENT
from tasks.products import current_flow_run_id, run_summary
from tasks.runtime import current_settings, release, resources

REPLAY_BATCH = 200


@task(name="open-run", cache_policy=NO_CACHE)
def open_run(scope: str) -> int:
    """Migrate the store, check the target settings, and open a run row."""
    settings = current_settings()
    settings.require("sazito_base", "sazito_key")
    upgrade(settings.database_url)
    return start_run(settings.database_url, pipeline=PIPELINE, scope=scope, flow_run_id=current_flow_run_id())


@task(name="close-run", cache_policy=NO_CACHE)
def close_run(run_id: int, error: str | None) -> dict[str, Any]:
    """Close a run: failed on error, partial when items failed, else success."""
    url = current_settings().database_url
    add_counts(url, run_id=run_id, requests=release(run_id))
    run = get_run(url, run_id=run_id)
    status = "failed" if error else ("partial" if run and run.failed else "success")
    return run_summary(finish_run(url, run_id=run_id, status=status, error=error), None)


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
    """Replay one batch of due write failures through the per-variant endpoints; mark dead after N attempts."""
    res = resources(run_id, PIPELINE)
    settings = res.settings
    due = due_failures(
        settings.database_url, pipeline=PIPELINE, contexts=["push:price", "push:stock"], limit=REPLAY_BATCH
    )
    with ThreadPoolExecutor(max_workers=settings.http_concurrency) as pool:
        outcomes = list(pool.map(lambda f: _replay(f, res), due))
    counts: Counter[str] = Counter(due=len(due))
    events: list[tuple[str, str | None, dict[str, Any]]] = []
    with session_scope(settings.database_url) as session:
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
    record_events(settings.database_url, run_id=run_id, pipeline=PIPELINE, events=events)
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
