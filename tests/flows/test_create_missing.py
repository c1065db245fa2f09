"""create_missing_products: unlinked supplier products are created once, then kept in sync."""

from __future__ import annotations

import pytest

from flows.sync_products import sync_products
from sync_core.engine.links import count_links
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=30, variants=2, seed=8, unlinked_fraction=0.2)


def test_unlinked_products_are_created_once(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    off = sync_products(scope="full")
    assert off["reasons"].get("skipped:mapping-missing") and sync_env.state.stats()["created_products"] == 0

    monkeypatch.setenv("CREATE_MISSING_PRODUCTS", "true")
    on = sync_products(scope="full")
    created = sync_env.state.stats()["created_products"]
    assert created == on["created"] > 0
    assert "skipped:mapping-missing" not in on["reasons"]
    assert sync_env.state.stats()["noop_writes"] == 0
    assert count_links(db_url, source="anar360", target="sazito") >= 2 * 30

    sync_env.state.reset_stats()
    again = sync_products(scope="full")
    assert sync_env.state.stats()["created_products"] == 0 and again["created"] == 0
    assert sync_env.state.stats()["variant_writes"] == 0
