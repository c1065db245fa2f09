"""What the Prefect server must hold for catalog-sync: work pool, deployments, automations (the rate limits
are in :mod:`deployments.limits`).

Pure descriptions built from settings, prefect.yaml and the pipelines' declarations (the registry);
:mod:`deployments.setup` makes the server match them.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml
from prefect.automations import (
    AutomationCore,
    EventTrigger,
    Posture,
    RunDeployment,
    SendNotification,
)

from sync_core.engine.registry import pipelines
from sync_core.engine.spec import Pipeline
from sync_core.errors import ConfigError
from sync_core.notify import NOTIFICATION_BLOCK_NAME as NOTIFICATION_BLOCK_NAME
from sync_core.settings import Settings, load_settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_POOL = "catalog-sync"
AUTOMATION_PREFIX = "catalog-sync: "
# Purposes of a pipeline's `deployments` (<flow name>/<deployment name> of prefect.yaml) the automations use:
# the replay after a failed run, and the one whose runs must keep completing.
RETRY, INCREMENTAL = "retry", "incremental"
PURPOSES = (RETRY, INCREMENTAL)
CIRCUIT_OPENED_EVENT = "catalog-sync.circuit-opened"
ENV_TEMPLATE = re.compile(r"\{\{\s*\$(\w+)\s*\}\}")


def deploy_environment(project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    """The environment `prefect deploy` runs in, with the defaults of the variables prefect.yaml uses.

    `prefect deploy` replaces ``{{ $NAME }}`` by the variable's value when it is set, so these are fixed at
    deploy time: CATALOG_SYNC_HOME (the workers' working directory: this checkout unless set, the same
    path on every worker machine) and EVENT_SYNC_SCHEDULE (the setting of that name: the environment, else
    the checkout's .env, else hourly).
    """
    env = dict(os.environ)
    env.setdefault("CATALOG_SYNC_HOME", str(project_dir))
    env["EVENT_SYNC_SCHEDULE"] = load_settings(_env_file=project_dir / ".env").event_sync_schedule
    return env


def _resolve(value: Any, env: dict[str, str]) -> Any:
    """``{{ $NAME }}`` replaced as `prefect deploy` replaces it (unset variables stay as they are)."""
    if isinstance(value, dict):
        return {k: _resolve(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, env) for v in value]
    if isinstance(value, str):
        return ENV_TEMPLATE.sub(lambda m: env.get(m.group(1), m.group(0)), value)
    return value


def _project(project_dir: Path) -> dict[str, Any]:
    with (project_dir / "prefect.yaml").open() as f:
        document: dict[str, Any] = _resolve(yaml.safe_load(f), deploy_environment(project_dir))
    return document


def project_deployments(project_dir: Path = PROJECT_DIR) -> list[dict[str, Any]]:
    """prefect.yaml's deployments as `prefect deploy` sends them (anchors and ``{{ $NAME }}`` resolved)."""
    return list(_project(project_dir).get("deployments") or [])


def project_pull_steps(project_dir: Path = PROJECT_DIR) -> list[dict[str, Any]]:
    """prefect.yaml's pull steps, resolved likewise."""
    return list(_project(project_dir).get("pull") or [])


def wanted_view(deployment: dict[str, Any], pull_steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The fields of a prefect.yaml deployment that `prefect deploy` sends, in a comparable form."""
    pool = deployment.get("work_pool") or {}
    return {
        "entrypoint": deployment["entrypoint"],
        "parameters": deployment.get("parameters") or {},
        "description": deployment.get("description"),
        "tags": sorted(deployment.get("tags") or []),
        "work_pool": pool.get("name"),
        "work_queue": pool.get("work_queue_name") or "default",
        "job_variables": pool.get("job_variables") or {},
        "schedules": sorted(
            (s.get("cron"), s.get("timezone") or "UTC", s.get("active", True))
            for s in deployment.get("schedules") or []
        ),
        "pull_steps": pull_steps,
        "concurrency_limit": deployment.get("concurrency_limit"),
    }


def server_view(deployment: Any) -> dict[str, Any]:
    """The same fields of a deployment read from the server (a DeploymentResponse)."""
    limit = deployment.global_concurrency_limit
    return {
        "entrypoint": deployment.entrypoint,
        "parameters": deployment.parameters,
        "description": deployment.description,
        "tags": sorted(deployment.tags),
        "work_pool": deployment.work_pool_name,
        "work_queue": deployment.work_queue_name,
        "job_variables": deployment.job_variables or {},
        "schedules": sorted(
            (getattr(s.schedule, "cron", None), getattr(s.schedule, "timezone", None) or "UTC", s.active)
            for s in deployment.schedules
        ),
        "pull_steps": deployment.pull_steps or [],
        "concurrency_limit": limit.limit if limit is not None else None,
    }


def automated_deployments() -> list[str]:
    """The deployments the automations run or watch, as the pipelines declare them: they must exist."""
    return sorted(
        {
            name
            for spec in pipelines().values()
            for purpose, name in spec.deployments.items()
            if purpose in PURPOSES
        }
    )


def _deployment_id(ids: dict[str, UUID], spec: Pipeline, purpose: str) -> UUID:
    name = spec.deployments[purpose]
    if name not in ids:
        raise ConfigError(
            f"pipeline {spec.name} declares {name} as its {purpose} deployment; the server has no such deployment "
            "(is it in prefect.yaml?)"
        )
    return ids[name]


def _runs_of(spec: Pipeline) -> str:
    """A pipeline's runs as an automation names them: its command as a noun ("products" → "product sync")."""
    return f"{(spec.command or spec.name).removesuffix('s')} sync"


def _replay(spec: Pipeline, ids: dict[str, UUID]) -> AutomationCore:
    """Run the pipeline's retry deployment when a run of its flow fails or crashes."""
    retry = spec.deployments[RETRY]
    return AutomationCore(
        name=AUTOMATION_PREFIX + f"replay failures after a failed {_runs_of(spec)}",
        description=f"When a {spec.flow} run ends Failed or Crashed, run the {retry.split('/')[0]} deployment.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": spec.flow},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[
            RunDeployment(
                source="selected",
                deployment_id=_deployment_id(ids, spec, RETRY),
                parameters={},
                job_variables=None,
            )
        ],
    )


def _circuit_alert(block_id: UUID) -> AutomationCore:
    return AutomationCore(
        name=AUTOMATION_PREFIX + "notify when a provider circuit opens",
        description="A provider failed repeatedly; catalog-sync stopped calling it until the cool-down ends.",
        trigger=EventTrigger(
            expect={CIRCUIT_OPENED_EVENT},
            match={"prefect.resource.id": "catalog-sync.provider.*"},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[
            SendNotification(
                block_document_id=block_id,
                subject="catalog-sync: {{ event.resource.id }} circuit opened",
                body=(
                    "The circuit of {{ event.resource.id }} opened at {{ event.occurred }} after "
                    "{{ event.payload.failures }} consecutive failures. Calls resume after "
                    "{{ event.payload.cooldown_s }} s. Check `catalog-sync health` and the run's log."
                ),
            )
        ],
    )


def _stale_alert(
    spec: Pipeline, ids: dict[str, UUID], block_id: UUID, stale: timedelta, *, named: bool
) -> AutomationCore:
    """Notify when no run of the pipeline's incremental deployment completed within ``stale``; ``named``:
    say which pipeline (when several have one)."""
    incremental = spec.deployments[INCREMENTAL]
    which = f" ({spec.name})" if named else ""
    return AutomationCore(
        name=AUTOMATION_PREFIX + f"notify when no incremental sync completed{which}",
        description=f"No {incremental} run completed within {stale}.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Completed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={
                "prefect.resource.id": f"prefect.deployment.{_deployment_id(ids, spec, INCREMENTAL)}"
            },
            posture=Posture.Proactive,
            threshold=1,
            within=stale,
        ),
        actions=[
            SendNotification(
                block_document_id=block_id,
                subject=f"catalog-sync: no incremental sync completed{which}",
                body=(
                    f"No run of {incremental} completed in the last {stale}. What it keeps up to date may be "
                    "stale. Check the worker, the deployment's schedule and its last runs."
                ),
            )
        ],
    )


def automations(
    settings: Settings, deployment_ids: dict[str, UUID], notification_block_id: UUID | None
) -> list[AutomationCore]:
    """The automations: for each pipeline that declares a retry deployment, a replay after its flow fails;
    with a notification block, an alert when a circuit opens and one per pipeline whose incremental
    deployment stops completing. ConfigError when a declared deployment is not on the server."""
    declared = pipelines().values()
    wanted = [_replay(spec, deployment_ids) for spec in declared if RETRY in spec.deployments]
    if notification_block_id is None:
        return wanted
    watched = [spec for spec in declared if INCREMENTAL in spec.deployments]
    stale = timedelta(seconds=settings.stale_sync_alert_s)
    return [
        *wanted,
        _circuit_alert(notification_block_id),
        *(
            _stale_alert(spec, deployment_ids, notification_block_id, stale, named=len(watched) > 1)
            for spec in watched
        ),
    ]
