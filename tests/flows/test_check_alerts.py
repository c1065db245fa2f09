"""check-alerts end to end: items at or under their threshold open alerts notified once, in one message,
through the saved webhook block; staying low does not notify again; recovering resolves; a SKU's own
threshold wins over its store's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flows.check_alerts import check_alerts
from flows.sync_stores import sync_store
from sync_core.notify import NOTIFICATION_BLOCK_NAME, webhook_block
from sync_core.pipelines.stores import alerts, integrations
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle
from sync_core.settings import load_settings
from tests.operations.processes import WebhookReceiver, webhook_receiver

pytestmark = pytest.mark.e2e
THRESHOLD = 3


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=20, variants=2, seed=5)


@pytest.fixture
def receiver(sync_env: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with webhook_receiver() as found:
        webhook_block(found.url).save(
            NOTIFICATION_BLOCK_NAME, overwrite=True
        )  # as `catalog-sync deploy` does
        monkeypatch.setenv("NOTIFY_WEBHOOK_URL", found.url)
        yield found


def set_stock(sandbox: SandboxHandle, stocks: dict[int, int]) -> None:
    with sandbox.state.lock:
        for vid, stock in stocks.items():
            variant = sandbox.state.catalogue.store_variants[vid]
            variant.is_stock_managed, variant.stock_number = True, stock


def managed_ids(sandbox: SandboxHandle) -> list[int]:
    with sandbox.state.lock:
        return sorted(v.id for v in sandbox.state.catalogue.store_variants.values())


def test_crossing_notifies_once_staying_low_does_not_recovering_resolves(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch, receiver: WebhookReceiver
) -> None:
    ids = managed_ids(sync_env)
    set_stock(sync_env, dict.fromkeys(ids, 50))  # nothing low to begin with
    monkeypatch.setenv("STORE_KEY", sync_env.sazito_key)
    integrations.add(
        load_settings(),
        integrations.NewIntegration(
            name="shop",
            platform="sazito",
            store_url=sync_env.url + "/sazito",
            credentials_env="STORE_KEY",
            threshold=THRESHOLD,
        ),
    )
    sync_store(store="shop")
    assert check_alerts()["opened"] == 0 and receiver.received == []

    low = ids[:3]
    set_stock(sync_env, {low[0]: 0, low[1]: THRESHOLD, low[2]: THRESHOLD + 1})  # the last is not low
    sync_store(store="shop")
    first = check_alerts()
    assert (first["opened"], first["notified"]) == (2, 2)
    assert len(receiver.received) == 1  # one message for the check, not one per item
    body = receiver.received[0]["body"]
    assert body.count("\n") == 1 and "0 left (threshold 3)" in body and "3 left (threshold 3)" in body

    again = check_alerts()  # still low: no new alert, no message
    assert (again["opened"], again["open"], again["notified"]) == (0, 2, 0)
    assert len(receiver.received) == 1

    set_stock(sync_env, {low[0]: 10})
    sync_store(store="shop")
    recovered = check_alerts()
    assert (recovered["resolved"], recovered["open"]) == (1, 1)
    open_now = alerts.alerts(db_url, open_only=True)
    assert [a.item_key for a in open_now] == [f"shop/{low[1]}"]
    assert len(receiver.received) == 1

    set_stock(sync_env, {low[0]: 1})  # low again: a new alert, notified again
    sync_store(store="shop")
    assert check_alerts()["notified"] == 1
    assert len(receiver.received) == 2


def test_a_skus_own_threshold_wins_and_unnotified_alerts_wait_for_a_block(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = managed_ids(sync_env)
    set_stock(sync_env, dict.fromkeys(ids, 20))
    monkeypatch.setenv("STORE_KEY", sync_env.sazito_key)
    monkeypatch.delenv("NOTIFY_WEBHOOK_URL", raising=False)
    integrations.add(
        load_settings(),
        integrations.NewIntegration(
            name="shop", platform="sazito", store_url=sync_env.url + "/sazito", credentials_env="STORE_KEY"
        ),
    )
    sync_store(store="shop")
    sku = sync_env.state.catalogue.store_variants[ids[0]].sku
    assert sku
    alerts.set_sku_threshold(db_url, sku, 25)
    found = check_alerts()
    assert (found["opened"], found["notified"]) == (1, 0)  # no block: kept for the next check
    with webhook_receiver() as receiver:
        monkeypatch.setenv("NOTIFY_WEBHOOK_URL", receiver.url)
        assert check_alerts()["notified"] == 1
        assert sku in receiver.received[0]["body"]
