"""Prefect tasks of the drift check (flows/check_drift.py): find drift, repair it. Its event,
``catalog-sync.drift-found``, is sent from tasks.prefect_events like every other."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from sync_core.engine.drift import Drifted, DriftReport
from sync_core.engine.drift_read import find_drift as find
from sync_core.engine.drift_repair import repair_drift as repair
from tasks.policy import RETRY_TRANSIENT
from tasks.runtime import job, resources


@task(name="find-drift", cache_policy=NO_CACHE, **RETRY_TRANSIENT)
def find_drift(run_id: int, sample: int | None) -> DriftReport:
    """Read the run's target back and its source, and classify what differs (it only reads: retried on
    transient errors)."""
    return find(resources(run_id).ctx, job(run_id), sample=sample)


# Not retried: the writes are absolute, but a retry would send again those that landed.
@task(name="repair-drift", cache_policy=NO_CACHE)
def repair_drift(run_id: int, drifted: list[Drifted]) -> dict[str, int]:
    """Write the wanted values of the drifted items through the target; {"pushed", "failed"}."""
    return repair(resources(run_id).ctx, job(run_id), drifted)
