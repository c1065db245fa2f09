"""The drift check end to end against the sandbox: a store edited behind the engine's back is reported value by
value as edited, repaired with exactly that many writes, then found clean; a supplier that moved since the
sync and writes the store refused are told apart; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from prefect.settings import get_current_settings

from flows.check_drift import check_drift
from flows.sync_products import sync_products
from sync_core.engine.failures import list_failures
from sync_core.engine.runs import get_run, run_journal
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.records import product_key
from sync_core.sandbox.rules import variant_is_well_formed
from sync_core.sandbox.server import SandboxHandle
from sync_core.sandbox.state import SandboxState
from sync_core.sandbox.verify import verify_store
from tests.flows.conftest import sandbox_env

pytestmark = pytest.mark.e2e
# The 300-variant check and repair on PostgreSQL (production's store); the smaller cases on both.
PIPELINE = "anar360-sazito"
Drift = dict[tuple[str, str], str]  # (store variant, kind) → how it drifted


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=100, variants=3, seed=15, bad_record_fraction=0.05)


def drift_cli(sandbox: SandboxHandle, db_url: str, cwd: Path, *args: str) -> tuple[int, str, str]:
    """`catalog-sync drift ARGS` in a process of its own, on the test's Prefect server."""
    env = {
        **os.environ,
        **sandbox_env(sandbox, db_url),
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "LOG_FILE": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "catalog_sync.cli", "drift", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout, done.stderr


def reported(db_url: str, run_id: int) -> Drift:
    """What a drift run found, value by value (its journal)."""
    return {
        (str(e.item_key), e.data["kind"]): e.data["drift"]
        for e in run_journal(db_url, run_id=run_id, kind="drift_found")
    }


def last_run(db_url: str, scope: str) -> Any:
    from sync_core.engine.runs import recent_runs

    run = recent_runs(db_url, limit=1)[0]
    assert run.scope == scope, (run.scope, scope)
    return run


def synced_variants(state: SandboxState) -> list[int]:
    """Store variants linked to a well-formed variant of a healthy supplier product: the ones a sync keeps."""
    cat = state.catalogue
    products = cat.supplier_products
    healthy = {
        v["_id"]
        for p in products
        if product_key(p) not in cat.broken_products
        for v in p["variants"]
        if variant_is_well_formed(v)
    }
    return sorted(vid for vid, v in cat.store_variants.items() if v.sku in healthy)


def edit_store(
    state: SandboxState, fraction: float, seed: int, besides: frozenset[str] = frozenset()
) -> Drift:
    """Change, as a merchant would in the store's admin, the price, the stock or both of ``fraction`` of the
    synced variants (but those whose SKU is in ``besides``); returns what changed."""
    skus = state.catalogue.store_variants
    candidates = [vid for vid in synced_variants(state) if skus[vid].sku not in besides]
    chosen = random.Random(seed).sample(candidates, max(1, round(len(candidates) * fraction)))
    edited: Drift = {}
    with state.lock:
        for n, vid in enumerate(chosen):
            variant = state.catalogue.store_variants[vid]
            if n % 3 != 1:
                variant.price += 1000  # a discount below the price stays below it
                edited[(str(vid), "price")] = "edited"
            if n % 3 != 0:
                variant.stock_number = (variant.stock_number or 0) + 7 if variant.is_stock_managed else 7
                variant.is_stock_managed = True
                edited[(str(vid), "stock")] = "edited"
    return edited


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_store_edited_behind_our_back_is_reported_repaired_with_as_many_writes_and_then_clean(
    sync_env: SandboxHandle, db_url: str, tmp_path: Path, prefect_server: None
) -> None:
    sync_products(scope="full")
    assert verify_store(sync_env.state).ok
    edited = edit_store(sync_env.state, 0.03, seed=2)
    assert len({key for key, _ in edited}) >= 5 and {kind for _, kind in edited} == {"price", "stock"}
    sync_env.state.reset_stats()

    code, out, err = drift_cli(sync_env, db_url, tmp_path)
    assert code == 1, (out, err)
    found = last_run(db_url, "drift")
    assert reported(db_url, found.id) == edited
    assert err.strip().splitlines() == [
        f"catalog-sync: drift found: {PIPELINE} {len(edited)} edited, 0 not applied, 0 source moved "
        "(`--repair` writes the wanted values)"
    ]
    assert f"drift_edited {len(edited)}" in " ".join(out.split())
    assert sum(f"{PIPELINE} edited: " in line for line in out.splitlines()) == min(len(edited), 20)
    assert sync_env.state.stats()["variant_writes"] == 0  # a check writes nothing
    assert found.status == "success" and found.requests > 0  # its reads are audited

    code, out, err = drift_cli(sync_env, db_url, tmp_path, "--repair")
    assert code == 0, (out, err)
    repair = last_run(db_url, "drift-repair")
    assert reported(db_url, repair.id) == edited
    stats = sync_env.state.stats()
    assert stats["variant_writes"] == len(edited) == repair.pushed
    assert stats["noop_writes"] == 0 and stats["merchant_writes"] == 0
    assert verify_store(sync_env.state).ok

    sync_env.state.reset_stats()
    code, out, err = drift_cli(sync_env, db_url, tmp_path)
    assert code == 0, (out, err)
    assert reported(db_url, last_run(db_url, "drift").id) == {}
    assert sync_env.state.stats()["variant_writes"] == 0
    assert sync_products(scope="full")["pushed"] == 0  # the ledger agrees with the store after the repair


def test_a_supplier_that_moved_since_the_sync_is_told_from_an_edit_and_a_repair_catches_up(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch, prefect_server: None
) -> None:
    sync_products(scope="full")
    assert check_drift(pipeline=PIPELINE)["drift_examples"] == []  # right after a sync: nothing drifted
    moved = set(sync_env.state.mutate(5, seed=9))
    edited = edit_store(sync_env.state, 0.01, seed=4, besides=frozenset(moved))
    events: list[dict[str, Any]] = []
    monkeypatch.setattr("tasks.prefect_events.emit_event", lambda **event: events.append(event))

    summary = check_drift(pipeline=PIPELINE)
    found = reported(db_url, summary["run_id"])
    store = sync_env.state.catalogue.store_variants
    assert {vid for (vid, _), drift in found.items() if drift == "source-moved"} == {
        str(vid) for vid, v in store.items() if v.sku in moved
    }
    assert {key: drift for key, drift in found.items() if drift == "edited"} == edited
    assert summary["drift_source_moved"] + summary["drift_edited"] == len(found)
    (event,) = [e for e in events if e["event"] == "catalog-sync.drift-found"]  # beside the run summary
    assert event["resource"]["prefect.resource.id"] == f"catalog-sync.pipeline.{PIPELINE}"
    assert event["payload"]["counts"] == {
        "edited": len(edited),
        "not-applied": 0,
        "source-moved": summary["drift_source_moved"],
    }
    assert len(event["payload"]["examples"]) == min(len(found), 20)

    sample = check_drift(pipeline=PIPELINE, sample=10)
    assert sample["drift_items"] == 10 and sample["drift_sample_of"] > 200
    assert set(reported(db_url, sample["run_id"])) <= set(found)

    repaired = check_drift(pipeline=PIPELINE, repair=True)
    assert repaired["drift_repaired"] == repaired["pushed"] == len(found)
    assert verify_store(sync_env.state).ok
    report = asyncio.run(latest_artifact(f"{PIPELINE}-drift"))
    assert (
        report.startswith(f"**{PIPELINE}: drift found**")
        and f"Repair: {len(found)} written, 0 failed." in report
    )
    assert check_drift(pipeline=PIPELINE)["drift_examples"] == []


async def latest_artifact(key: str) -> str:
    """The markdown of the newest artifact of ``key``."""
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    return str(artifacts[0].data)


@pytest.mark.parametrize(
    "sandbox_config", [SandboxConfig(products=40, variants=3, seed=5, rejected_fraction=0.1)]
)
def test_writes_the_store_refused_are_reported_as_not_applied(
    sync_env: SandboxHandle, db_url: str, prefect_server: None
) -> None:
    summary = sync_products(scope="full")
    assert summary["status"] == "partial"
    refused = {
        (f.item_key, f.context.removeprefix("push:"))
        for f in list_failures(db_url)
        if f.context.startswith("push:") and f.status == "pending"
    }
    assert refused
    checked = check_drift(pipeline=PIPELINE)
    assert reported(db_url, checked["run_id"]) == dict.fromkeys(refused, "not-applied")
    run = get_run(db_url, run_id=checked["run_id"])
    assert run is not None and run.status == "success" and run.pushed == 0
