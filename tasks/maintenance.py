"""Prefect tasks of the maintenance flows: connection checks, failure replay, releasing held writes, the health
report."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from sync_core.engine.context import current_settings
from sync_core.engine.job import CHECK_REUSE_S
from sync_core.engine.replay import replay_due
from sync_core.engine.settle import release
from sync_core.health import health_report
from tasks.policy import RETRY_TRANSIENT
from tasks.runtime import job, resources


@task(name="check-connections", cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def check_connections(run_id: int, roles: tuple[str, ...]) -> None:
    """The pre-run check of the run's connections for ``roles``: reachable, credentials accepted."""
    res = resources(run_id)
    for role in roles:
        res.connector(role).check(reuse_s=CHECK_REUSE_S)


@task(name="release-held-writes", cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def release_held_writes(run_id: int, held_id: int) -> dict[str, int]:
    """Send the writes run ``held_id`` holds, as run ``run_id`` (sync_core.engine.settle.release)."""
    return release(resources(run_id).ctx, job(run_id), held_id)


@task(name="replay-failures", cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def replay_failures(run_id: int, role: str) -> dict[str, int]:
    """Replay one batch of due write failures through the per-item call of the ``role`` connector."""
    res = resources(run_id)
    return replay_due(res.ctx, job(run_id).target, res.connector(role))


@task(name="health-report", cache_policy=NO_CACHE)
def build_health_report() -> dict[str, Any]:
    """The health report of sync_core.health."""
    return health_report(current_settings())
