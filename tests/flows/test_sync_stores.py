"""sync-store and sync-all-stores end to end against the sandbox's stores, checked against their oracles:
a first sync equals the oracle, a second writes only what changed, items gone are marked removed, one store
down leaves the others synced (its failure on its sync log, its circuit its own)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlmodel import col, select

from flows.sync_stores import StoresFailed, sync_all_stores, sync_store
from sync_core.db import session_scope
from sync_core.pipelines.stores import integrations
from sync_core.pipelines.stores.tables import InventoryItem
from sync_core.pipelines.stores.views import sync_log
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle
from sync_core.sandbox.store_oracles import compare_inventory, sazito_inventory, store_oracle
from sync_core.settings import load_settings

pytestmark = pytest.mark.e2e
# The slowest cases on PostgreSQL only (production's store); tests/flows/test_fault_matrix.py drives every
# pipeline through each fault on SQLite.
CLEAN: dict[str, list[Any]] = {"missing": [], "extra": [], "differing": []}


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=30, variants=2, seed=11, merchant_products=3)


def add_sazito(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, name: str = "saz") -> None:
    monkeypatch.setenv("STORE_SAZ_KEY", sandbox.sazito_key)
    integrations.add(
        load_settings(),
        integrations.NewIntegration(
            name=name,
            platform="sazito",
            store_url=sandbox.url + "/sazito",
            credentials_env="STORE_SAZ_KEY",
        ),
    )


def items(db_url: str, store: str) -> list[InventoryItem]:
    with session_scope(db_url) as session:
        return list(session.exec(select(InventoryItem).where(col(InventoryItem.integration) == store)))


def test_a_sazito_store_syncs_equal_to_its_oracle_then_writes_only_changes(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_sazito(sync_env, monkeypatch)
    first = sync_store(store="saz")
    assert isinstance(first, dict) and first["status"] == "success", first
    assert first["strategy"] == "full"
    expected = sazito_inventory(sync_env.state)
    assert first["created"] == len(expected) > 0
    assert compare_inventory(db_url, "saz", expected) == CLEAN

    second = sync_store(store="saz")
    assert isinstance(second, dict)
    assert (second["created"], second["updated"], second["removed"]) == (0, 0, 0)
    assert second["unchanged"] == len(expected)
    log = sync_log(db_url, "saz")
    assert [entry["created"] for entry in log] == [0, len(expected)]


def test_items_gone_from_the_store_are_marked_removed_and_come_back(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_sazito(sync_env, monkeypatch)
    sync_store(store="saz")
    catalogue = sync_env.state.catalogue
    with sync_env.state.lock:
        gone_product = next(iter(catalogue.store_products.values()))
        hidden = catalogue.store_products.pop(gone_product.id)
    summary = sync_store(store="saz")
    assert isinstance(summary, dict) and summary["removed"] == len(hidden.variant_ids)
    removed = {i.variant_id for i in items(db_url, "saz") if i.removed}
    assert removed == {str(v) for v in hidden.variant_ids}
    assert compare_inventory(db_url, "saz", sazito_inventory(sync_env.state)) == CLEAN
    with sync_env.state.lock:
        catalogue.store_products[hidden.id] = hidden
    back = sync_store(store="saz")
    assert isinstance(back, dict) and back["created"] + back["updated"] == len(hidden.variant_ids)
    assert not any(i.removed for i in items(db_url, "saz"))


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_one_store_refusing_its_key_leaves_the_others_synced(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_sazito(sync_env, monkeypatch, "good-one")
    add_sazito(sync_env, monkeypatch, "good-two")
    monkeypatch.setenv("STORE_BAD_KEY", "not-the-key")
    integrations.add(
        load_settings(),
        integrations.NewIntegration(
            name="bad", platform="sazito", store_url=sync_env.url + "/sazito", credentials_env="STORE_BAD_KEY"
        ),
    )
    with pytest.raises(StoresFailed, match=r"1 of 3 stores did not sync: bad \(.*refused the key"):
        sync_all_stores()
    expected = sazito_inventory(sync_env.state)
    for name in ("good-one", "good-two"):
        assert compare_inventory(db_url, name, expected) == CLEAN
        assert sync_log(db_url, name)[0]["status"] == "success"
    bad = sync_log(db_url, "bad")
    assert bad[0]["status"] == "failed" and "refused the key" in bad[0]["error"]
    assert items(db_url, "bad") == []


def add_store(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, platform: str, name: str) -> None:
    url, credential = sandbox.stores[platform]
    variable = f"STORE_{name.upper().replace('-', '_')}_KEY"
    monkeypatch.setenv(variable, credential)
    integrations.add(
        load_settings(),
        integrations.NewIntegration(name=name, platform=platform, store_url=url, credentials_env=variable),
    )


PLATFORMS = ("shopify", "woocommerce", "sazito")


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_every_platform_syncs_in_sync_all_stores_then_only_changes_are_written(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WOO_RATE_PER_S", "1000")
    for platform in PLATFORMS:
        add_store(sync_env, monkeypatch, platform, platform[:3] + "-shop")
    assert sync_all_stores()["status"] == "success"
    for platform in PLATFORMS:
        assert (
            compare_inventory(db_url, platform[:3] + "-shop", store_oracle(sync_env.state, platform)) == CLEAN
        )
    woo = sync_env.state.woo
    changed = woo.change(count=3, seed=2)
    sold = woo.sell(count=2, seed=3)  # stock only: date_modified does not move
    assert sync_all_stores()["status"] == "success"
    entry = sync_log(db_url, "woo-shop")[0]
    assert entry["scope"] == "incremental" and entry["updated"] >= len(changed)
    # The sale is seen by the next full read (WOO_FULL_READ_MINUTES), then the table equals the oracle.
    full = sync_store(store="woo-shop", strategy="full")
    assert isinstance(full, dict) and full["updated"] >= len(sold)  # a parent's stock is its variations' too
    assert compare_inventory(db_url, "woo-shop", store_oracle(sync_env.state, "woocommerce")) == CLEAN
    # Shopify: stock changed at a location (a sale) moves no variant's updatedAt; the incremental read finds it.
    shop = sync_env.state.shopify
    shop.change(count=4, fields=("stock",), seed=5)
    shop.change(count=2, fields=("price",), seed=6)
    assert sync_store(store="sho-shop")["scope"] == "incremental"  # type: ignore[index]
    assert compare_inventory(db_url, "sho-shop", store_oracle(sync_env.state, "shopify")) == CLEAN


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_store_answering_5xx_fails_alone_on_its_log_in_health_and_its_own_circuit(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_core.health import health_report

    monkeypatch.setenv("WOO_RATE_PER_S", "1000")
    monkeypatch.setenv("CIRCUIT_FAILURE_THRESHOLD", "2")
    monkeypatch.setenv("CIRCUIT_COOLDOWN_S", "1")
    for platform in PLATFORMS:
        add_store(sync_env, monkeypatch, platform, platform[:3] + "-shop")
    sync_env.state.shopify.configure(down=True)
    with pytest.raises(StoresFailed, match=r"1 of 3 stores did not sync: sho-shop \("):
        sync_all_stores()
    for platform in ("woocommerce", "sazito"):
        name = platform[:3] + "-shop"
        assert compare_inventory(db_url, name, store_oracle(sync_env.state, platform)) == CLEAN
        assert sync_log(db_url, name)[0]["status"] == "success"
    failed = sync_log(db_url, "sho-shop")[0]
    assert failed["status"] == "failed" and "503" in failed["error"]
    report = health_report(load_settings())
    assert any("store-inventory@source=sho-shop" in p and "failed" in p for p in report["problems"])
    assert not any(("woo-shop" in p or "saz-shop" in p) for p in report["problems"])
    circuits = report["circuits"]
    assert all(state == "closed" for name, state in circuits.items() if not name.startswith("sho-shop"))

    sync_env.state.shopify.configure(
        down=False
    )  # back: once the circuit's pause is over, the next run syncs it
    time.sleep(1.1)
    assert sync_store(store="sho-shop")["status"] == "success"  # type: ignore[index]
    assert compare_inventory(db_url, "sho-shop", store_oracle(sync_env.state, "shopify")) == CLEAN
