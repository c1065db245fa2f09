"""The shared request budget: blocks of a Prefect rate limit handed out one per request (fake acquire,
fake Prefect server with the server's decay arithmetic, fake clock)."""

from __future__ import annotations

import logging
import math
import threading
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from sync_core.engine.connections import requests_limit_shape
from tasks.shared_budget import PrefectLimit, SharedBudget, block_size
from tests.fakes import FakeTime


class Blocks:
    """A fake ``acquire``: counts the blocks and slots it hands out."""

    def __init__(self, block: int) -> None:
        self.block, self.blocks, self.slots = block, 0, 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self.blocks += 1
            self.slots += self.block
        return self.block


def test_block_is_half_a_second_of_the_budget_within_the_limit() -> None:
    assert [block_size(per_min) for per_min in (600, 240, 6000, 60, 30)] == [5, 2, 50, 1, 1]
    assert block_size(600, limit=3) == 3  # never more than the limit holds
    assert block_size(600, limit=10) == 5
    # At 120/min half a second is one slot: two are taken when the limit holds two, never more than it does.
    assert (block_size(120, limit=2), block_size(60, limit=1), block_size(120, limit=None)) == (2, 1, 1)
    assert requests_limit_shape(600) == (10, 10.0)  # one second's worth, decaying at the rate
    assert requests_limit_shape(240) == (4, 4.0)
    assert requests_limit_shape(100) == (2, 1.6667)


@pytest.mark.parametrize(("requests", "block"), [(1, 5), (5, 5), (6, 5), (99, 5), (100, 10), (7, 1)])
def test_blocks_taken_are_ceil_of_requests_over_block(requests: int, block: int) -> None:
    acquire = Blocks(block)
    budget = SharedBudget("sazito", acquire)
    for _ in range(requests):
        budget()
    assert acquire.blocks == budget.blocks == math.ceil(requests / block)
    assert budget.used == requests and budget.alone == 0
    assert requests <= acquire.slots == budget.slots < requests + block  # never more used than taken


def test_threads_share_the_blocks() -> None:
    acquire = Blocks(7)
    budget = SharedBudget("sazito", acquire)
    threads, per_thread = 8, 500
    start = threading.Barrier(threads)

    def hammer() -> None:
        start.wait()
        for _ in range(per_thread):
            budget()

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = threads * per_thread
    assert budget.used == total
    assert acquire.blocks == math.ceil(total / 7)
    assert total <= acquire.slots < total + 7


def test_an_unusable_limit_means_pacing_alone_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    t = FakeTime()
    calls: list[str] = []

    def acquire() -> int:
        calls.append("ask")
        if len(calls) <= 2:
            raise httpx.ConnectError("connection refused")
        return 4

    budget = SharedBudget("sazito", acquire, retry_s=60, clock=t.clock)
    with caplog.at_level(logging.WARNING, logger="tasks.shared_budget"):
        for _ in range(10):
            budget()  # never raises
        assert budget.alone == 10 and calls == ["ask"]  # asked once, then alone until the retry
        t.now = 61
        budget()
        assert calls == ["ask", "ask"] and budget.alone == 11
        t.now = 122
        budget()
    assert budget.used == 1 and budget.blocks == 1
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings  # one for the outage, one when it is usable again
    assert "'sazito-requests' is unusable (ConnectError: connection refused)" in warnings[0]
    assert "usable again" in warnings[1]


# ----- PrefectLimit against a fake server -----------------------------------------------------------


def _locked() -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://prefect.test/api/v2/concurrency_limits/increment")
    return httpx.HTTPStatusError(
        "423", request=request, response=httpx.Response(423, headers={"Retry-After": "0.5"}, request=request)
    )


class FakeServer:
    """A Prefect server's global limit, with its arithmetic: active slots decay in whole slots counted from
    the last change; a refused take also counts as a change (and frees nothing)."""

    def __init__(self, t: FakeTime, *, limit: int = 10, decay: float = 10.0, exists: bool = True) -> None:
        self.t, self.limit, self.decay = t, limit, decay
        self.exists, self.active = exists, True
        self.slots, self.updated = 0, 0.0
        self.taken = self.refused = 0
        self.created: list[Any] = []
        self.fail: Exception | None = None

    def decayed(self) -> int:
        return max(0, self.slots - math.floor(self.decay * (self.t.now - self.updated)))

    # the SyncPrefectClient methods the budget uses
    def __enter__(self) -> FakeServer:
        return self

    def read_global_concurrency_limit_by_name(self, name: str) -> Any:
        if self.fail:
            raise self.fail
        if not self.exists:
            raise ObjectNotFound(http_exc=Exception("404"))
        return SimpleNamespace(
            name=name,
            limit=self.limit,
            active=self.active,
            active_slots=self.decayed(),
            slot_decay_per_second=self.decay,
        )

    def create_global_concurrency_limit(self, limit: Any) -> None:
        if self.exists:
            raise ObjectAlreadyExists(http_exc=Exception("409"))
        self.created.append(limit)
        self.exists, self.limit, self.decay = True, limit.limit, limit.slot_decay_per_second

    def increment_concurrency_slots(self, names: list[str], slots: int, mode: str) -> None:
        assert mode == "rate_limit" and slots <= self.limit
        now = self.decayed()
        self.updated = self.t.now
        if now + slots > self.limit:
            self.refused += 1
            raise _locked()
        self.slots = now + slots
        self.taken += slots


def _limit(server: FakeServer, t: FakeTime, per_min: int = 600, jitter: float = 0.0) -> PrefectLimit:
    def client() -> Any:  # stands in for a SyncPrefectClient
        return server

    return PrefectLimit("sazito", per_min, client=client, sleep=t.sleep, clock=t.clock, jitter=lambda: jitter)


@pytest.mark.parametrize(("gap", "jitter"), [(0.01, 0.0), (0.01, 1.0), (0.1, 0.5), (0.137, 0.5)])
def test_alone_blocks_are_taken_when_they_fit_none_refused_and_the_rate_holds(
    gap: float, jitter: float
) -> None:
    t = FakeTime()
    server = FakeServer(t)
    limit = _limit(server, t, jitter=jitter)
    budget = SharedBudget("sazito", limit, clock=t.clock)
    requests = 600
    for _ in range(requests):
        budget()
        t.now += gap / 10  # a client that would go at 100/s, 10/s or 7.3/s
    assert server.refused == 0 and limit.refused == 0
    assert budget.blocks == limit.takes == requests / 5  # blocks of half a second's budget
    assert limit.reads == limit.takes  # alone: one read and one take a block
    # Within the limit (its burst, then its rate), and at its rate when asked for more.
    assert server.taken <= server.limit + server.decay * t.now
    # At most one poll (a quarter slot) late a block of five: >= 95 % of the rate when asked for more.
    assert requests / t.now >= min(0.95 * 10, 0.99 * 10 / gap / 10)


def test_when_another_process_takes_slots_it_reads_until_the_block_fits() -> None:
    t = FakeTime()
    server = FakeServer(t)
    limit = _limit(server, t)
    assert limit() == 5 and limit.reads == 1  # active 5 after it
    t.now += 0.2  # 2 decayed: 3 left, then another process takes 5
    server.slots, server.updated = server.decayed() + 5, t.now
    slept = len(t.slept)
    assert limit() == 5
    # 8 active, 3 must go: slept until two could have gone, then read each quarter slot until the third.
    assert t.slept[slept] == pytest.approx(0.2)
    assert t.slept[slept + 1 :] == pytest.approx([0.025] * (len(t.slept) - slept - 1))
    assert 0.2 + 0.3 <= t.now < 0.2 + 0.3 + 0.025 + 1e-9
    assert server.refused == 0 and limit.reads > 2


def test_a_missing_limit_is_created_at_the_connection_rate() -> None:
    t = FakeTime()
    server = FakeServer(t, exists=False)
    assert _limit(server, t, per_min=240)() == 2
    [made] = server.created
    assert (made.name, made.limit, made.slot_decay_per_second) == ("sazito-requests", 4, 4.0)
    assert server.taken == 2


def test_a_limit_made_meanwhile_by_another_process_is_used() -> None:
    t = FakeTime()
    server = FakeServer(t, exists=False)

    def made_first(limit: Any) -> None:  # another worker created it between our read and our create
        server.exists = True
        raise ObjectAlreadyExists(http_exc=Exception("409"))

    server.create_global_concurrency_limit = made_first  # type: ignore[method-assign]
    assert _limit(server, t)() == 5
    assert server.created == [] and server.taken == 5


def test_the_block_is_capped_by_the_limit_on_the_server() -> None:
    t = FakeTime()
    server = FakeServer(t, limit=3)
    assert _limit(server, t)() == 3 and server.taken == 3


def test_an_inactive_limit_takes_nothing() -> None:
    t = FakeTime()
    server = FakeServer(t)
    server.active = False
    assert _limit(server, t)() == 5
    assert server.taken == 0 and t.slept == []


def test_a_refused_block_reads_again_and_waits_for_the_slots() -> None:
    t = FakeTime()
    server = FakeServer(t)
    limit = _limit(server, t)
    real = server.read_global_concurrency_limit_by_name

    def stale_read(name: str) -> Any:
        seen = real(name)
        if limit.reads == 1:  # another process takes the rest between our read and our take
            server.slots, server.updated = server.limit, t.now
        return seen

    server.read_global_concurrency_limit_by_name = stale_read  # type: ignore[method-assign]
    assert limit() == 5
    assert limit.refused == 1 and limit.takes == 2
    # Slept until the last slot but one could have gone (0.4 s), then read every quarter slot (0.025 s)
    # until the fifth slot went at 0.5 s: taken at most a poll late, never refused again.
    assert t.slept[0] == pytest.approx(0.4) and t.slept[1:] == pytest.approx([0.025] * (len(t.slept) - 1))
    assert 0.5 <= t.now < 0.5 + 0.025 + 1e-9
    assert server.refused == 1


def test_an_unreachable_api_lets_requests_through() -> None:
    t = FakeTime()
    server = FakeServer(t)
    server.fail = httpx.ConnectError("All connection attempts failed")
    budget = SharedBudget("sazito", _limit(server, t), clock=t.clock)
    for _ in range(20):
        budget()
    assert budget.alone == 20 and budget.blocks == 0 and server.taken == 0
