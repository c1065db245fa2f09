"""With USE_PREFECT_RATE_LIMITS, every request takes a slot of the Prefect global limit of its provider."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from flows.sync_products import sync_products
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle
from sync_core.sandbox.verify import verify_store

pytestmark = pytest.mark.e2e
LIMITS = ("anar360-requests", "sazito-requests")


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=20, variants=2, seed=6)


async def _reset_limits() -> None:
    async with get_client() as client:
        for name in LIMITS:
            with contextlib.suppress(Exception):  # not there yet
                await client.delete_global_concurrency_limit_by_name(name)
            # Slots decay so slowly that the ones a run took are still counted when the test looks.
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=100_000, slot_decay_per_second=0.001)
            )


async def _active_slots() -> dict[str, int]:
    async with get_client() as client:
        return {
            name: (await client.read_global_concurrency_limit_by_name(name)).active_slots for name in LIMITS
        }


def test_requests_take_slots_of_the_shared_limits(
    sync_env: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_reset_limits())
    monkeypatch.setenv("USE_PREFECT_RATE_LIMITS", "true")
    summary = sync_products(scope="full")
    assert verify_store(sync_env.state).ok
    slots = asyncio.run(_active_slots())
    requests = sync_env.state.stats()["requests"]
    anar360 = sum(n for route, n in requests.items() if route.startswith("anar360"))
    assert slots["anar360-requests"] == anar360 > 0
    assert slots["sazito-requests"] == summary["requests"] - anar360 > 0
