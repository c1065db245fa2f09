"""sync-ingram: Ingram Micro price and availability, then details, of the tracked parts into ingram_products
(`catalog-sync sync ingram`), alone or spread over the work pool's workers as sync-ingram-shard runs.

A run is skipped (and says why) when one finished less than INGRAM_MIN_INTERVAL_MIN ago, unless ``force``.
With ``shards`` > 1 (INGRAM_SHARDS), the parent starts one run of the ``sync-ingram-shard/ingram-shard``
deployment per shard, so each worker of the pool takes a share, waits for them all, sums their counts on its
own run row, and fails when a shard fails. The shards share each endpoint's request budget through Prefect's
global limits (USE_PREFECT_RATE_LIMITS, on whenever PREFECT_API_URL is set).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State

from flows.lifecycle import open_pipeline_run, skipped
from flows.pipeline_run import run_pipeline
from sync_core.engine.connections import pipeline_connections, run_key
from sync_core.engine.context import current_settings
from sync_core.engine.registry import pipeline as find_pipeline
from sync_core.engine.runs import COUNTERS, add_counts, aware, last_finished_run, runs_of_flow_runs
from sync_core.errors import PipelineBusy, SyncError
from sync_core.tables import utcnow

COMMAND = "ingram"
SHARD_DEPLOYMENT = "sync-ingram-shard/ingram-shard"
POLL_S = 2.0  # how often the parent looks at its shards


class ShardFailed(SyncError):
    """A shard's run did not complete."""


def _params(batch_size: int, max_concurrent: int, details: bool) -> dict[str, Any]:
    return {"batch_size": batch_size, "max_concurrent": max_concurrent, "details": details}


def _too_soon(key: str) -> str | None:
    """Why a run now would be too soon (the last full run finished under INGRAM_MIN_INTERVAL_MIN ago)."""
    settings = current_settings()
    interval = timedelta(minutes=settings.ingram_min_interval_min)
    last = last_finished_run(settings.database_url, pipeline=key, scope="full")
    if not interval or last is None or last.finished_at is None:
        return None
    age = utcnow() - aware(last.finished_at)
    if age >= interval:
        return None
    minutes = age.total_seconds() / 60
    return (
        f"run {last.id} finished {minutes:.1f} min ago, under INGRAM_MIN_INTERVAL_MIN="
        f"{settings.ingram_min_interval_min:g}; pass force (--force) to run anyway"
    )


@flow(name="sync-ingram")
def sync_ingram(
    batch_size: int = 50,
    max_concurrent: int = 5,
    details: bool = True,
    force: bool = False,
    shards: int | None = None,
    connections: dict[str, str] | None = None,
) -> dict[str, Any] | State[Any]:
    """Price the tracked parts in ``batch_size`` batches (≤ 50), ``max_concurrent`` calls at once, then fetch
    details of new or stale parts (unless ``details`` is off); in ``shards`` runs over the pool when > 1."""
    settings = current_settings()
    spec = find_pipeline(COMMAND)
    params = _params(batch_size, max_concurrent, details)
    shards = shards or settings.ingram_shards
    assert spec.check_params is not None
    spec.check_params(params | {"shards": shards})
    key = run_key(spec.name, pipeline_connections(settings, spec, connections))
    if not force and (why := _too_soon(key)) is not None:
        get_run_logger().info("not run: %s", why)
        return {"pipeline": key, "status": "skipped", "reason": why}
    if shards == 1:
        return run_pipeline(COMMAND, "full", connections=connections, params=params)
    return _run_shards(shards, params, connections)


@flow(name="sync-ingram-shard")
def sync_ingram_shard(
    shard: int = 1,
    shards: int = 1,
    batch_size: int = 50,
    max_concurrent: int = 5,
    details: bool = True,
    connections: dict[str, str] | None = None,
) -> dict[str, Any] | State[Any]:
    """Shard ``shard`` of ``shards`` of the tracked parts (every shards-th), as one run with a lease of its
    own; started by sync-ingram."""
    params = _params(batch_size, max_concurrent, details) | {"shard": shard, "shards": shards}
    return run_pipeline(COMMAND, "full", connections=connections, params=params, part=f"{shard}/{shards}")


def _run_shards(
    shards: int, params: dict[str, Any], connections: dict[str, str] | None
) -> dict[str, Any] | State[Any]:
    from prefect.deployments import run_deployment

    logger = get_run_logger()
    spec = find_pipeline(COMMAND)
    try:
        run = open_pipeline_run(spec, "full", connections=connections, params=params)
    except PipelineBusy as busy:
        return skipped(busy)
    # The cap holds for the whole: each shard gets its share of the calls in flight.
    share = params | {"max_concurrent": max(1, params["max_concurrent"] // shards)}
    with run:
        started = [
            run_deployment(
                SHARD_DEPLOYMENT,
                parameters=share | {"shard": n, "shards": shards, "connections": connections},
                timeout=0,
                as_subflow=True,
            )
            for n in range(1, shards + 1)
        ]
        logger.info("started %s shard runs of %s", shards, SHARD_DEPLOYMENT)
        states = _wait(
            [flow_run.id for flow_run in started]  # type: ignore[union-attr]
        )
        rows = runs_of_flow_runs(run.settings.database_url, [str(i) for i in states])
        totals = {name: sum(getattr(row, name) for row in rows) for name in COUNTERS}
        add_counts(run.settings.database_url, run_id=run.id, **totals)
        run.extra["shards"] = {f"{n}/{shards}": state for n, state in enumerate(states.values(), 1)}
        failed = [
            f"shard {n}/{shards} ended {state}"
            for n, state in enumerate(states.values(), 1)
            if state != "COMPLETED"
        ]
        if failed:
            raise ShardFailed("; ".join(failed))
    return run.summary


def _wait(ids: list[UUID]) -> dict[UUID, str]:
    """Wait for these flow runs to end; their final state types by id."""
    from prefect.client.orchestration import get_client

    ended: dict[UUID, str] = {}
    with get_client(sync_client=True) as client:
        while len(ended) < len(ids):
            for flow_run_id in ids:
                if flow_run_id in ended:
                    continue
                state = client.read_flow_run(flow_run_id).state
                if state is not None and state.is_final():
                    ended[flow_run_id] = state.type.value
            if len(ended) < len(ids):
                time.sleep(POLL_S)
    return {i: ended[i] for i in ids}
