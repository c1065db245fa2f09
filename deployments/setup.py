"""`catalog-sync deploy`: make the Prefect server in PREFECT_API_URL hold what catalog-sync needs.

Idempotent: each object is created when missing, updated when it differs from the wanted one, and left
alone otherwise, so a second run reports everything as unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.automations import AutomationCore
from prefect.blocks.core import Block
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    WorkPoolCreate,
)
from prefect.exceptions import ObjectNotFound
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.settings import PREFECT_API_URL

from deployments.limits import rate_limits
from deployments.spec import (
    AUTOMATION_PREFIX,
    NOTIFICATION_BLOCK_NAME,
    PROJECT_DIR,
    WORK_POOL,
    automated_deployments,
    automations,
    deploy_environment,
    project_deployments,
    project_pull_steps,
    server_view,
    wanted_view,
)
from sync_core.errors import ConfigError
from sync_core.notify import webhook_block
from sync_core.settings import Settings


@dataclass(frozen=True)
class Change:
    action: str  # created | updated | unchanged | deleted
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.action:<9} {self.kind:<13} {self.name}"


def api_url() -> str:
    """PREFECT_API_URL, required: without it Prefect would start a throw-away server and set that up."""
    url = PREFECT_API_URL.value()
    if not url:
        raise ConfigError(
            "PREFECT_API_URL is not set: point it at your Prefect server, e.g. "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return str(url)


async def _check_server(client: PrefectClient, url: str) -> None:
    error = await client.api_healthcheck()
    if error is not None:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"cannot reach the Prefect API at {url}: {reason}")


async def ensure_work_pool(client: PrefectClient) -> Change:
    try:
        pool = await client.read_work_pool(WORK_POOL)
    except ObjectNotFound:
        await client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
        return Change("created", "work pool", f"{WORK_POOL} (process)")
    if pool.type != "process":
        raise ConfigError(
            f"work pool {WORK_POOL!r} exists with type {pool.type!r}; catalog-sync needs 'process'"
        )
    return Change("unchanged", "work pool", f"{WORK_POOL} (process)")


async def ensure_rate_limits(client: PrefectClient, settings: Settings) -> list[Change]:
    changes = []
    for wanted in rate_limits(settings):
        label = f"{wanted.name} (limit {wanted.limit}, decay {wanted.slot_decay_per_second}/s)"
        try:
            current = await client.read_global_concurrency_limit_by_name(wanted.name)
        except ObjectNotFound:
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(
                    name=wanted.name, limit=wanted.limit, slot_decay_per_second=wanted.slot_decay_per_second
                )
            )
            changes.append(Change("created", "global limit", label))
            continue
        same = (
            current.limit == wanted.limit
            and abs((current.slot_decay_per_second or 0) - wanted.slot_decay_per_second) < 1e-9
            and current.active
        )
        if not same:
            await client.update_global_concurrency_limit(
                wanted.name,
                GlobalConcurrencyLimitUpdate(
                    limit=wanted.limit, slot_decay_per_second=wanted.slot_decay_per_second, active=True
                ),
            )
        changes.append(Change("unchanged" if same else "updated", "global limit", label))
    return changes


async def ensure_notification_block(settings: Settings) -> tuple[UUID | None, list[Change]]:
    """The block alerts go to: NOTIFY_BLOCK as is, or a Custom Webhook block for NOTIFY_WEBHOOK_URL."""
    if settings.notify_block:
        slug, name = settings.notify_block.split("/", 1)
        try:
            block: Block = await Block.aload(f"{slug}/{name}")
        except ValueError:
            raise ConfigError(
                f"NOTIFY_BLOCK {settings.notify_block!r} does not exist on the Prefect server "
                "(create it in the UI under Blocks, or set NOTIFY_WEBHOOK_URL instead)"
            ) from None
        assert block._block_document_id is not None
        return block._block_document_id, [Change("unchanged", "block", settings.notify_block)]
    if not settings.notify_webhook_url:
        return None, []
    wanted = webhook_block(settings.notify_webhook_url)
    label = f"custom-webhook/{NOTIFICATION_BLOCK_NAME}"
    try:
        current = await CustomWebhookNotificationBlock.aload(NOTIFICATION_BLOCK_NAME)
    except ValueError:
        current = None
    if current is not None and _block_fields(current) == _block_fields(wanted):
        assert current._block_document_id is not None
        return current._block_document_id, [Change("unchanged", "block", label)]
    block_id = await wanted.asave(NOTIFICATION_BLOCK_NAME, overwrite=True)
    return block_id, [Change("created" if current is None else "updated", "block", label)]


def _block_fields(block: Block) -> dict[str, Any]:
    return {
        name: getattr(block, name) for name in ("name", "url", "method", "json_data", "params", "headers")
    }


async def deployment_ids(client: PrefectClient, names: list[str]) -> dict[str, UUID]:
    """Ids of these deployments ('<flow name>/<deployment name>') that exist on the server."""
    ids = {}
    for name in names:
        with contextlib.suppress(ObjectNotFound):
            ids[name] = (await client.read_deployment_by_name(name)).id
    return ids


def deployment_names(project_dir: Path) -> list[str]:
    names = []
    for deployment in project_deployments(project_dir):
        flow: Flow[..., Any] = load_flow_from_entrypoint(str(project_dir / deployment["entrypoint"]))
        names.append(f"{flow.name}/{deployment['name']}")
    return names


async def deployment_drift(
    client: PrefectClient, project_dir: Path, names: list[str]
) -> dict[str, list[str]]:
    """Per prefect.yaml deployment (``names`` in file order), what differs on the server (['missing'] when
    absent; [] when equal)."""
    pull = project_pull_steps(project_dir)
    drift = {}
    for name, wanted in zip(names, project_deployments(project_dir), strict=True):
        try:
            current = await client.read_deployment_by_name(name)
        except ObjectNotFound:
            drift[name] = ["missing"]
            continue
        want, have = wanted_view(wanted, pull), server_view(current)
        drift[name] = [field for field in want if want[field] != have.get(field)]
    return drift


def run_prefect_deploy(project_dir: Path, log: Callable[[str], None]) -> None:
    """`prefect deploy --all` from the project directory."""
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        cwd=project_dir,
        env=deploy_environment(project_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise ConfigError("prefect deploy --all failed: " + " | ".join(line.strip() for line in tail))
    log(f"prefect deploy --all: ok ({project_dir / 'prefect.yaml'})")


async def ensure_automations(
    client: PrefectClient, settings: Settings, ids: dict[str, UUID], block_id: UUID | None
) -> list[Change]:
    wanted = {a.name: a for a in automations(settings, ids, block_id)}
    existing = [a for a in await client.read_automations() if a.name.startswith(AUTOMATION_PREFIX)]
    changes = []
    seen: set[str] = set()
    for current in existing:
        target = wanted.get(current.name)
        if target is None or current.name in seen:  # no longer wanted, or a duplicate of one kept
            await client.delete_automation(current.id)
            changes.append(Change("deleted", "automation", current.name))
            continue
        seen.add(current.name)
        if _automation_fields(current) == _automation_fields(target):
            changes.append(Change("unchanged", "automation", current.name))
        else:
            await client.update_automation(current.id, target)
            changes.append(Change("updated", "automation", current.name))
    for name, target in wanted.items():
        if name not in seen:
            await client.create_automation(target)
            changes.append(Change("created", "automation", name))
    return changes


def _deployment_change(name: str, fields: list[str]) -> Change:
    if not fields:
        return Change("unchanged", "deployment", name)
    if fields == ["missing"]:
        return Change("created", "deployment", name)
    return Change("updated", "deployment", f"{name} ({', '.join(fields)})")


def _automation_fields(automation: AutomationCore) -> dict[str, Any]:
    """What makes two automations the same."""
    return comparable(AutomationCore.model_validate(automation.model_dump()).model_dump(mode="json"))


def comparable(fields: dict[str, Any]) -> dict[str, Any]:
    """An automation's JSON fields with its trigger's sets (``expect``, ``after``) sorted: JSON lists a set in
    the order of the process's string hashes, so an unchanged automation would otherwise look changed."""
    trigger = fields.get("trigger") or {}
    for name in ("expect", "after"):
        if isinstance(trigger.get(name), list):
            trigger[name] = sorted(trigger[name])
    return fields


async def apply(
    settings: Settings,
    *,
    project_dir: Path = PROJECT_DIR,
    deploy: bool = True,
    log: Callable[[str], None] = print,
) -> list[Change]:
    """Work pool, global limits, notification block, deployments, automations, in that order."""
    url = api_url()
    changes: list[Change] = []

    def note(found: list[Change]) -> None:
        for change in found:
            log(str(change))
        changes.extend(found)

    async with get_client() as client:
        await _check_server(client, url)
        log(f"Prefect API {url}")
        note([await ensure_work_pool(client)])
        note(await ensure_rate_limits(client, settings))
        block_id, block_changes = await ensure_notification_block(settings)
        note(block_changes)
        if block_id is None:
            log("(no NOTIFY_WEBHOOK_URL or NOTIFY_BLOCK: alert automations are not set up)")
        names = deployment_names(project_dir)
        if deploy:
            drift = await deployment_drift(client, project_dir, names)
            if any(drift.values()):
                await asyncio.to_thread(run_prefect_deploy, project_dir, log)
            else:
                log("prefect deploy --all: skipped, the server's deployments match prefect.yaml")
            note([_deployment_change(name, fields) for name, fields in drift.items()])
        # A pipeline may declare a deployment prefect.yaml lacks: automations() says so, naming it.
        ids = await deployment_ids(client, list(dict.fromkeys([*names, *automated_deployments()])))
        missing = [name for name in names if name not in ids]
        if missing:
            raise ConfigError(
                f"deployments missing on the server: {', '.join(missing)} (run without --no-deploy)"
            )
        note(await ensure_automations(client, settings, ids, block_id))
    return changes
