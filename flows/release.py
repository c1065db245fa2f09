"""release-held: send the writes of a run the guardrail held (`catalog-sync release RUN_ID`), as a run of its
own pipeline and connections, so its requests are audited and its writes land in the ledger like any other."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from flows.lifecycle import open_pipeline_run, skipped
from sync_core.engine.connections import parse_run_key
from sync_core.engine.context import current_settings
from sync_core.engine.registry import pipeline as find_pipeline
from sync_core.engine.settle import held_run
from sync_core.engine.spec import TARGET
from sync_core.errors import ConfigError, PipelineBusy
from tasks.maintenance import check_connections, release_held_writes


@flow(name="release-held")
def release_held(run_id: int | None = None) -> dict[str, Any] | State[Any]:
    """Send the writes run ``run_id`` holds (a later write of the same item wins: those are not sent); the
    held run ends ``released``. (Optional only so the deployment can leave it to whoever runs it.)"""
    if run_id is None:
        raise ConfigError("release-held needs the held run's id (run_id; see `catalog-sync runs`)")
    held = held_run(current_settings().database_url, run_id)
    name, chosen = parse_run_key(held.pipeline)
    try:
        run = open_pipeline_run(find_pipeline(name), "release", connections=chosen)
    except PipelineBusy as busy:
        return skipped(busy)
    with run:
        check_connections(run.id, (TARGET,))
        run.extra["release"] = release_held_writes(run.id, run_id)
    return run.summary
