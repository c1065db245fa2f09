"""prefect.yaml and the wanted server state of `catalog-sync deploy`, checked without a server."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from prefect.client.schemas.schedules import CronSchedule
from prefect.flows import load_flow_from_entrypoint

from catalog_sync.cli import main
from deployments.limits import rate_limits
from deployments.setup import comparable, deployment_names
from deployments.spec import (
    CIRCUIT_OPENED_EVENT,
    WORK_POOL,
    automated_deployments,
    automations,
    project_deployments,
    project_pull_steps,
    server_view,
    wanted_view,
)
from sync_core.errors import ConfigError
from sync_core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# The deployments the products pipeline declares for its automations.
INCREMENTAL = "sync-products/anar360-sazito-incremental"
RETRY = "retry-failures/anar360-sazito-retry"
INGRAM_RETRY = "retry-failures/ingram-retry"  # the Ingram pipeline's replay
PLOOMES_INCREMENTAL = "sync-ploomes/ploomes-every-15m"  # the Ploomes pipeline's, watched for staleness


def test_every_entrypoint_imports_and_its_parameters_validate_against_the_flow() -> None:
    for deployment in project_deployments():
        flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
        parameters = deployment.get("parameters") or {}
        validated = flow.validate_parameters(parameters)
        assert {name: validated[name] for name in parameters} == parameters, deployment["name"]
        for schedule in deployment["schedules"]:
            CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
        assert deployment["work_pool"]["name"] == WORK_POOL


def test_a_parameter_the_flow_does_not_take_fails_validation() -> None:
    from prefect.exceptions import ParameterTypeError

    flow = load_flow_from_entrypoint(str(ROOT / "flows/sync_products.py:sync_products"))
    with pytest.raises(ParameterTypeError):
        flow.validate_parameters({"scope": "everything"})


def test_the_deployments_the_issue_and_the_automations_name_exist() -> None:
    names = deployment_names(ROOT)
    assert len(names) == len(set(names)) == 16
    assert {
        INCREMENTAL,
        RETRY,
        "sync-products/anar360-sazito-full",
        "sync-events/fever-hourly",
        "sync-ingram/ingram-every-6h",
        "sync-ingram-shard/ingram-shard",
        "sync-ploomes/ploomes-every-15m",
        "sync-ploomes/ploomes-nightly",
        "sync-all-stores/every-4h",
        "sync-store/on-demand",
        "check-alerts/hourly",
        "check-drift/weekly",
        "release-held/on-demand",
    } <= set(names)
    # read from the pipelines' declarations
    assert set(automated_deployments()) == {INCREMENTAL, RETRY, INGRAM_RETRY, PLOOMES_INCREMENTAL}
    assert {name.split("/")[0] for name in names} == {
        "sync-products",
        "sync-catalogue",
        "retry-failures",
        "health-report",
        "sync-events",
        "sync-ingram",
        "sync-ingram-shard",
        "sync-ploomes",
        "sync-all-stores",
        "sync-store",
        "check-alerts",
        "check-drift",
        "release-held",
    }


def test_prefect_yaml_holds_no_secret_values() -> None:
    text = (ROOT / "prefect.yaml").read_text()
    for name in ("ANAR360_TOKEN", "SAZITO_KEY", "DATABASE_URL"):
        assert f"{name}:" not in text and f"{name}=" not in text


def test_rate_limits_decay_at_the_per_minute_budget() -> None:
    limits = {
        lim.name: lim for lim in rate_limits(Settings(rate_limit_per_min=240, sazito_rate_limit_per_min=30))
    }
    assert (limits["anar360-requests"].limit, limits["anar360-requests"].slot_decay_per_second) == (4, 4.0)
    assert (limits["sazito-requests"].limit, limits["sazito-requests"].slot_decay_per_second) == (1, 0.5)
    # The feed has no request budget of its own: no limit for it. Ingram's endpoints each have their own.
    assert list(limits) == [
        "anar360-requests",
        "sazito-requests",
        "ingram-pna-requests",
        "ingram-details-requests",
        "ploomes-requests",
    ]
    # PLOOMES_RATE_PER_S=2: two slots, freed at two a second.
    assert (limits["ploomes-requests"].limit, limits["ploomes-requests"].slot_decay_per_second) == (2, 2.0)
    # An endpoint counted in fixed minutes: a burst of 5 s of its 60/min, then 55 in the rest of the minute.
    assert (limits["ingram-pna-requests"].limit, limits["ingram-pna-requests"].slot_decay_per_second) == (
        5,
        0.9167,
    )


def test_a_configured_connection_limits_at_its_own_budget() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        sazito_base="https://shop.test/api/v1",
        sazito_key="k3y-sazito",
        sazito_rate_limit_per_min=600,
    )
    limits = {lim.name: lim for lim in rate_limits(settings)}
    assert (limits["sazito-requests"].limit, limits["sazito-requests"].slot_decay_per_second) == (10, 10.0)


def test_without_a_notification_block_only_the_replay_automations_are_wanted() -> None:
    ids = {INCREMENTAL: uuid4(), RETRY: uuid4(), INGRAM_RETRY: uuid4(), PLOOMES_INCREMENTAL: uuid4()}
    replays = automations(Settings(), ids, None)
    assert [r.name for r in replays] == [
        "catalog-sync: replay failures after a failed product sync",
        "catalog-sync: replay failures after a failed ingram sync",
    ]
    replay = replays[0]
    assert replay.name == "catalog-sync: replay failures after a failed product sync"
    assert replay.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}  # type: ignore[union-attr]
    assert replay.trigger.match_related.model_dump() == {  # type: ignore[union-attr]
        "prefect.resource.role": "flow",
        "prefect.resource.name": "sync-products",
    }
    assert replay.actions[0].deployment_id == ids[RETRY]  # type: ignore[union-attr]


def test_alerts_watch_the_circuit_event_and_the_incremental_deployment() -> None:
    ids = {INCREMENTAL: uuid4(), RETRY: uuid4(), INGRAM_RETRY: uuid4(), PLOOMES_INCREMENTAL: uuid4()}
    block = uuid4()
    _, _, circuit, stale, ploomes_stale = automations(Settings(stale_sync_alert_s=1800), ids, block)
    assert ploomes_stale.trigger.match_related.model_dump() == {  # type: ignore[union-attr]
        "prefect.resource.id": f"prefect.deployment.{ids[PLOOMES_INCREMENTAL]}"
    }
    # Two pipelines have an incremental deployment: each alert names its pipeline.
    assert stale.name == "catalog-sync: notify when no incremental sync completed (anar360-sazito)"
    assert ploomes_stale.name == "catalog-sync: notify when no incremental sync completed (ploomes-products)"
    assert circuit.trigger.expect == {CIRCUIT_OPENED_EVENT}  # type: ignore[union-attr]
    assert stale.trigger.posture == "Proactive"  # type: ignore[union-attr]
    assert stale.trigger.within == timedelta(minutes=30)  # type: ignore[union-attr]
    assert stale.trigger.match_related.model_dump() == {
        "prefect.resource.id": f"prefect.deployment.{ids[INCREMENTAL]}"
    }  # type: ignore[union-attr]
    assert all(a.actions[0].block_document_id == block for a in (circuit, stale))  # type: ignore[union-attr]


def test_a_declared_deployment_missing_on_the_server_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=f"declares {RETRY} as its retry deployment"):
        automations(Settings(), {INCREMENTAL: uuid4()}, None)


def _as_server_would_store(deployment: dict[str, Any], pull: list[dict[str, Any]]) -> Any:
    limit = deployment.get("concurrency_limit")
    return SimpleNamespace(
        entrypoint=deployment["entrypoint"],
        parameters=deployment.get("parameters") or {},
        description=deployment.get("description"),
        tags=list(reversed(deployment["tags"])),
        work_pool_name=deployment["work_pool"]["name"],
        work_queue_name="default",
        job_variables={},
        schedules=[
            SimpleNamespace(schedule=CronSchedule(cron=s["cron"], timezone=s["timezone"]), active=True)
            for s in deployment["schedules"]
        ],
        pull_steps=pull,
        global_concurrency_limit=SimpleNamespace(limit=limit) if limit else None,
    )


def test_a_deployment_stored_as_declared_shows_no_drift_and_a_changed_schedule_does() -> None:
    pull = project_pull_steps()
    for deployment in project_deployments():
        stored = _as_server_would_store(deployment, pull)
        assert wanted_view(deployment, pull) == server_view(stored)
        if not stored.schedules:  # started by another flow (a shard), never on a schedule
            continue
        stored.schedules[0].schedule = CronSchedule(cron="0 0 * * *", timezone="UTC")
        changed = [k for k, v in wanted_view(deployment, pull).items() if v != server_view(stored)[k]]
        assert changed == ["schedules"]


def test_pull_steps_resolve_catalog_sync_home_like_prefect_deploy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CATALOG_SYNC_HOME", raising=False)
    assert project_pull_steps() == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
    ]
    monkeypatch.setenv("CATALOG_SYNC_HOME", "/opt/catalog-sync")
    assert project_pull_steps()[0]["prefect.deployments.steps.set_working_directory"] == {
        "directory": "/opt/catalog-sync"
    }


def _events_cron(project_dir: Path) -> str:
    (events,) = [d for d in project_deployments(project_dir) if d["name"] == "fever-hourly"]
    return str(events["schedules"][0]["cron"])


def test_the_events_schedule_is_hourly_unless_event_sync_schedule_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shutil.copy(ROOT / "prefect.yaml", tmp_path)  # a checkout without .env
    monkeypatch.delenv("EVENT_SYNC_SCHEDULE", raising=False)
    assert _events_cron(tmp_path) == "0 * * * *"
    monkeypatch.setenv("EVENT_SYNC_SCHEDULE", "*/20 * * * *")
    assert _events_cron(tmp_path) == "*/20 * * * *"


def test_the_events_schedule_can_come_from_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from deployments.spec import deploy_environment

    monkeypatch.delenv("EVENT_SYNC_SCHEDULE", raising=False)
    (tmp_path / ".env").write_text("EVENT_SYNC_SCHEDULE=15 */2 * * *\n")
    assert deploy_environment(tmp_path)["EVENT_SYNC_SCHEDULE"] == "15 */2 * * *"


def test_deploy_without_prefect_api_url_is_a_one_line_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):  # the flow tests' harness may have set it
        assert main(["deploy"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("catalog-sync: PREFECT_API_URL is not set") and "\n" not in err


def test_deploy_against_a_server_that_is_not_there_is_a_one_line_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert main(["deploy"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("catalog-sync: cannot reach the Prefect API at http://127.0.0.1:9/api")
        and "\n" not in err
    )


def test_a_bad_notify_block_reference_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from sync_core.errors import ConfigError
    from sync_core.settings import load_settings

    monkeypatch.setenv("NOTIFY_BLOCK", "Slack Webhook")
    with pytest.raises(ConfigError, match="NOTIFY_BLOCK: .*<block-type-slug>/<block-name>"):
        load_settings()


def test_an_automation_compares_equal_whatever_order_its_trigger_sets_come_back_in() -> None:
    replay, _ = automations(Settings(), {INCREMENTAL: uuid4(), RETRY: uuid4(), INGRAM_RETRY: uuid4()}, None)
    ours = replay.model_dump(mode="json")
    theirs = replay.model_dump(mode="json")
    theirs["trigger"]["expect"] = list(reversed(ours["trigger"]["expect"]))  # another process's hash order
    assert ours != theirs and comparable(ours) == comparable(theirs)
