"""With USE_PREFECT_RATE_LIMITS, a process takes slots of each connection's Prefect global limit a block at a
time and spends one per request; a limit that is missing is created at the connection's rate."""

from __future__ import annotations

import asyncio
import contextlib
import math

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from flows.sync_products import sync_products
from sync_core.engine.connections import requests_limit_shape
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle
from sync_core.sandbox.verify import verify_store
from tasks import shared_budget
from tasks.shared_budget import block_size

pytestmark = pytest.mark.e2e
LIMITS = ("anar360-requests", "sazito-requests")
PER_MIN = 1200  # blocks of 10 slots


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=20, variants=2, seed=6)


@pytest.fixture
def shared(sync_env: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    monkeypatch.setenv("USE_PREFECT_RATE_LIMITS", "true")
    monkeypatch.setenv("RATE_LIMIT_PER_MIN", str(PER_MIN))
    monkeypatch.setattr(shared_budget, "_budgets", {})  # no blocks left from another test's runs
    return sync_env


async def _reset_limits(create: bool) -> None:
    async with get_client() as client:
        for name in LIMITS:
            with contextlib.suppress(Exception):  # not there yet
                await client.delete_global_concurrency_limit_by_name(name)
            if create:
                # Slots decay so slowly that the ones a run took are still counted when the test looks.
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=100_000, slot_decay_per_second=0.001)
                )


async def _limits() -> dict[str, tuple[int, int, float]]:
    async with get_client() as client:
        found = {}
        for name in LIMITS:
            limit = await client.read_global_concurrency_limit_by_name(name)
            found[name] = (limit.active_slots, limit.limit, limit.slot_decay_per_second)
        return found


def _requests(sandbox: SandboxHandle) -> dict[str, int]:
    """Requests the sandbox received, per connection (its routes start with the provider's name)."""
    requests = sandbox.state.stats()["requests"]
    return {
        f"{provider}-requests": sum(n for route, n in requests.items() if route.startswith(provider))
        for provider in ("anar360", "sazito")
    }


def test_requests_take_slots_of_the_shared_limits_in_blocks(shared: SandboxHandle) -> None:
    asyncio.run(_reset_limits(create=True))
    summary = sync_products(scope="full")
    assert verify_store(shared.state).ok
    limits = asyncio.run(_limits())
    sent = _requests(shared)
    assert sum(sent.values()) == summary["requests"]
    block = block_size(PER_MIN)
    assert block == 10
    for name in LIMITS:
        slots = limits[name][0]
        # Whole blocks, enough for every request and no more than one block beyond.
        assert sent[name] > 0
        assert sent[name] <= slots < sent[name] + block
        assert slots == block * math.ceil(sent[name] / block)
        budget = shared_budget.shared_budget(name.removesuffix("-requests"), PER_MIN)
        assert budget.used == sent[name] and budget.alone == 0
        assert budget.blocks == slots // block  # one take per block, not one per request


def test_a_missing_limit_is_created_at_the_connection_rate(shared: SandboxHandle) -> None:
    asyncio.run(_reset_limits(create=False))
    sync_products(scope="full")
    assert verify_store(shared.state).ok
    limits = asyncio.run(_limits())
    for name in LIMITS:
        assert limits[name][1:] == requests_limit_shape(PER_MIN) == (20, 20.0)
