"""What the Prefect server must hold for catalog-sync: work pool, rate limits, deployments, automations.

Pure descriptions built from settings and prefect.yaml; :mod:`deployments.setup` makes the server match them.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
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

from sync_core.settings import Settings, load_settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_POOL = "catalog-sync"
PROVIDERS = ("anar360", "sazito")
AUTOMATION_PREFIX = "catalog-sync: "
NOTIFICATION_BLOCK_NAME = "catalog-sync-alerts"

# Deployments the automations refer to, as <flow name>/<deployment name> of prefect.yaml.
PRODUCT_FLOW = "sync-products"
INCREMENTAL = "sync-products/anar360-sazito-incremental"
RETRY = "retry-failures/anar360-sazito-retry"
CIRCUIT_OPENED_EVENT = "catalog-sync.circuit-opened"
ENV_TEMPLATE = re.compile(r"\{\{\s*\$(\w+)\s*\}\}")


@dataclass(frozen=True)
class RateLimit:
    """A Prefect global concurrency limit used as a shared rate limit: slots decay at the allowed rate."""

    name: str
    limit: int
    slot_decay_per_second: float


def rate_limits(settings: Settings) -> list[RateLimit]:
    """One limit per provider, '<provider>-requests', at the provider's RATE_LIMIT_PER_MIN.

    Each request occupies one slot; slots free at rate/60 per second, so every worker sharing the limit
    together stays within the budget. ``limit`` is one second's worth of requests (the burst allowed).
    """
    limits = []
    for provider in PROVIDERS:
        per_second = settings.rate_limit_for(provider) / 60
        limits.append(RateLimit(f"{provider}-requests", max(1, math.ceil(per_second)), round(per_second, 4)))
    return limits


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


def automations(
    settings: Settings, deployment_ids: dict[str, UUID], notification_block_id: UUID | None
) -> list[AutomationCore]:
    """The automations: replay after a failed product sync, and (with a notification block) alerts."""
    wanted = [
        AutomationCore(
            name=AUTOMATION_PREFIX + "replay failures after a failed product sync",
            description="When a sync-products run ends Failed or Crashed, run the retry-failures deployment.",
            trigger=EventTrigger(
                expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related={"prefect.resource.role": "flow", "prefect.resource.name": PRODUCT_FLOW},
                posture=Posture.Reactive,
                threshold=1,
                within=timedelta(0),
            ),
            actions=[RunDeployment(source="selected", deployment_id=deployment_ids[RETRY], parameters={})],
        )
    ]
    if notification_block_id is None:
        return wanted
    wanted.append(
        AutomationCore(
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
                    block_document_id=notification_block_id,
                    subject="catalog-sync: {{ event.resource.id }} circuit opened",
                    body=(
                        "The circuit of {{ event.resource.id }} opened at {{ event.occurred }} after "
                        "{{ event.payload.failures }} consecutive failures. Calls resume after "
                        "{{ event.payload.cooldown_s }} s. Check `catalog-sync health` and the run's log."
                    ),
                )
            ],
        )
    )
    stale = timedelta(seconds=settings.stale_sync_alert_s)
    wanted.append(
        AutomationCore(
            name=AUTOMATION_PREFIX + "notify when no incremental sync completed",
            description=f"No {INCREMENTAL} run completed within {stale}.",
            trigger=EventTrigger(
                expect={"prefect.flow-run.Completed"},
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related={"prefect.resource.id": f"prefect.deployment.{deployment_ids[INCREMENTAL]}"},
                posture=Posture.Proactive,
                threshold=1,
                within=stale,
            ),
            actions=[
                SendNotification(
                    block_document_id=notification_block_id,
                    subject="catalog-sync: no incremental sync completed",
                    body=(
                        f"No run of {INCREMENTAL} completed in the last {stale}. Prices and stock in the "
                        "store may be stale. Check the worker, the deployment's schedule and its last runs."
                    ),
                )
            ],
        )
    )
    return wanted
