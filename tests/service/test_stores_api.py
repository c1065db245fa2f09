"""The stores API of `catalog-sync serve`: changes need the bearer token; a wrong platform, a missing
credentials variable, a bad threshold are 400 with the reason, a duplicate name 409, an unknown store 404,
nothing stored; reads list the stores, a store's sync log, the inventory by SKU and the alerts."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from sync_core.db import session_scope
from sync_core.errors import ConfigError
from sync_core.pipelines.stores import integrations, launch
from sync_core.pipelines.stores.tables import InventoryItem
from sync_core.settings import Settings
from sync_core.tables import utcnow
from tests.service.seed import client_for

TOKEN = "stores-api-Token-77e1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STORE = {
    "name": "main",
    "platform": "sazito",
    "url": "https://shop.example.com",
    "credentials_env": "API_STORE_KEY",
}


@pytest.fixture
def client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("API_STORE_KEY", "the-store-key")
    with client_for(settings.model_copy(update={"api_token": SecretStr(TOKEN)})) as client:
        yield client


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def start_sync(settings: Settings, name: str, strategy: str = "auto") -> bool:
        if not integrations.get(settings.database_url, name).active:
            raise ConfigError(f"store {name!r} is disabled: enable it first")
        calls.append(name)
        return True

    monkeypatch.setattr(launch, "start_sync", start_sync)
    return calls


def error(response: object) -> tuple[int, str, str]:
    body = response.json()  # type: ignore[attr-defined]
    return response.status_code, body["error"]["code"], body["error"]["message"]  # type: ignore[attr-defined]


def test_changes_need_the_token(client: TestClient) -> None:
    assert error(client.post("/stores", json=STORE))[:2] == (401, "unauthorized")
    assert client.get("/stores").json()["data"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"platform": "magento"}, "unknown platform 'magento'"),
        ({"credentials_env": "NOT_SET_ANYWHERE"}, "environment variable NOT_SET_ANYWHERE is not set"),
        ({"threshold": -1}, "threshold must be a whole number from 0"),
        ({"name": "Bad Name"}, "store name 'Bad Name' must be"),
        ({"credentials_env": None}, "give the credentials as one of"),
    ],
)
def test_a_bad_store_is_400_with_the_reason_and_nothing_stored(
    client: TestClient, change: dict[str, object], message: str
) -> None:
    status, code, text = error(client.post("/stores", json=STORE | change, headers=AUTH))
    assert (status, code) == (400, "invalid_request") and message in text, text
    assert client.get("/stores").json()["data"] == []


def test_add_then_duplicate_409_unknown_404_and_sync_now(client: TestClient, started: list[str]) -> None:
    added = client.post("/stores", json=STORE | {"sync_now": True, "threshold": 2}, headers=AUTH)
    assert added.status_code == 201
    data = added.json()["data"]
    assert data["sync_started"] is True and started == ["main"]
    assert data["credentials"] == "environment variable API_STORE_KEY" and "the-store-key" not in added.text
    assert error(client.post("/stores", json=STORE, headers=AUTH))[:2] == (409, "conflict")
    assert error(client.get("/stores/nope"))[:2] == (404, "not_found")
    assert error(client.post("/stores/nope/sync", headers=AUTH))[:2] == (404, "not_found")
    assert client.post("/stores/main/disable", headers=AUTH).json()["data"]["active"] is False
    status, code, text = error(client.post("/stores/main/sync", headers=AUTH))
    assert (status, code) == (409, "conflict") and "disabled" in text
    assert client.post("/stores/main/enable", headers=AUTH).json()["data"]["active"] is True
    assert client.post("/stores/main/sync", headers=AUTH).status_code == 202
    shown = client.get("/stores/main").json()["data"]
    assert shown["name"] == "main" and shown["syncs"] == []
    assert client.delete("/stores/main", headers=AUTH).json()["data"]["inventory_items"] == 0
    assert client.get("/stores").json()["data"] == []


def test_inventory_by_sku_across_stores_with_low_stock(client: TestClient, settings: Settings) -> None:
    for name in ("a", "b"):
        assert (
            client.post("/stores", json=STORE | {"name": name, "threshold": 3}, headers=AUTH).status_code
            == 201
        )
    now = utcnow()
    with session_scope(settings.database_url) as session:
        for store, stock in (("a", 2), ("b", 9)):
            session.add(
                InventoryItem(
                    item_key=f"{store}/1",
                    integration=store,
                    product_id="p1",
                    variant_id="1",
                    sku="SKU-1",
                    title="Shirt",
                    price=Decimal("10.5"),
                    stock=stock,
                    managed=True,
                    first_seen_at=now,
                    last_changed_at=now,
                    last_synced_at=now,
                )
            )
    found = client.get("/inventory", params={"search": "sku-1"}).json()["data"]
    assert found["stores"] == ["a", "b"] and found["total"] == 1
    row = found["rows"][0]
    assert row["sku"] == "SKU-1" and row["total"] == 11 and row["low"] is True
    assert (row["stores"]["a"]["low"], row["stores"]["b"]["low"]) == (True, False)
    assert row["stores"]["a"]["price"] == "10.50"
    assert client.get("/inventory", params={"low": True, "search": "nothing"}).json()["data"]["rows"] == []
    assert client.get("/alerts", params={"open": True}).json()["data"] == []
    assert error(client.get("/inventory", params={"per_page": 0}))[0] == 400
