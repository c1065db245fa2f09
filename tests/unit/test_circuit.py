"""CircuitBreaker transitions with a fake clock, and state shared between breakers through one store."""

from __future__ import annotations

from typing import Any

import pytest

from sync_core.errors import CircuitOpenError
from sync_core.http.circuit import BreakerState, CircuitBreaker, MemoryBreakerStore


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingStore(MemoryBreakerStore):
    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self, provider: str, address: str = "") -> BreakerState:
        self.loads += 1
        return super().load(provider, address)


def breaker(
    store: MemoryBreakerStore, clock: Clock, events: list[str] | None = None, **kw: Any
) -> CircuitBreaker:
    sink = (lambda kind, data: events.append(kind)) if events is not None else None
    params: dict[str, Any] = dict(threshold=3, window_s=60, cooldown_s=30, clock=clock, on_event=sink)
    params.update(kw)
    return CircuitBreaker("sazito", store, **params)


def fail(b: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        probe = b.before_call()
        b.record_failure(probe)


def test_closed_to_open_after_threshold_within_window() -> None:
    clock, store, events = Clock(), MemoryBreakerStore(), []
    b = breaker(store, clock, events)
    fail(b, 2)
    assert b.state.state == "closed" and b.state.failures == 2
    fail(b)
    assert b.state.state == "open" and store.load("sazito").state == "open"
    assert events == ["circuit_opened"]
    with pytest.raises(
        CircuitOpenError, match=r"sazito: failed \(3 failures in a row; no call made: .* \(in 30s\)"
    ) as info:
        b.before_call()
    assert info.value.provider == "sazito"


def test_failures_outside_the_window_do_not_add_up() -> None:
    clock, store = Clock(), MemoryBreakerStore()
    b = breaker(store, clock)
    fail(b, 2)
    clock.advance(61)
    fail(b, 2)
    assert b.state.state == "closed" and b.state.failures == 2


def test_open_half_open_closed() -> None:
    clock, store, events = Clock(), MemoryBreakerStore(), []
    b = breaker(store, clock, events)
    fail(b, 3)
    clock.advance(29)
    with pytest.raises(CircuitOpenError):
        b.before_call()
    clock.advance(1)
    assert b.before_call() is True  # the one probe
    assert b.state.state == "half_open"
    with pytest.raises(CircuitOpenError, match="a trial call is in flight"):
        b.before_call()
    b.record_success(True)
    assert b.state == BreakerState() and store.load("sazito") == BreakerState()
    assert b.before_call() is False
    assert events == ["circuit_opened", "circuit_half_open", "circuit_closed"]


def test_half_open_probe_failure_reopens() -> None:
    clock, store, events = Clock(), MemoryBreakerStore(), []
    b = breaker(store, clock, events)
    fail(b, 3)
    clock.advance(30)
    assert b.before_call() is True
    clock.advance(2)
    b.record_failure(True)
    state = store.load("sazito")
    assert state.state == "open" and state.opened_at == clock.now
    clock.advance(29)
    with pytest.raises(CircuitOpenError):
        b.before_call()
    clock.advance(1)
    assert b.before_call() is True
    assert events == ["circuit_opened", "circuit_half_open", "circuit_opened", "circuit_half_open"]


def test_a_success_between_failures_resets_the_count() -> None:
    clock, store = Clock(), MemoryBreakerStore()
    b = breaker(store, clock)
    fail(b, 2)
    b.record_success(b.before_call())
    assert b.state.failures == 0
    fail(b, 2)
    assert b.state.state == "closed"  # scattered failures (5% 5xx) do not open the circuit
    fail(b)
    assert b.state.state == "open"  # three in a row do


def test_state_is_shared_through_the_store() -> None:
    clock, store = Clock(), MemoryBreakerStore()
    a, b = breaker(store, clock), breaker(store, clock)  # two processes, one table
    assert b.before_call() is False
    fail(a, 3)
    clock.advance(1)  # b re-reads the store at most once a second while it believes the circuit closed
    with pytest.raises(CircuitOpenError):
        b.before_call()
    clock.advance(30)
    assert b.before_call() is True  # b probes ...
    with pytest.raises(CircuitOpenError, match="a trial call is in flight"):
        a.before_call()  # ... and a, past its own cooldown, re-reads and sees the probe in flight
    b.record_success(True)
    clock.advance(1)
    assert a.before_call() is False


def test_failures_from_two_breakers_add_up() -> None:
    clock, store = Clock(), MemoryBreakerStore()
    a, b = breaker(store, clock), breaker(store, clock)
    fail(a)
    fail(b)
    fail(a)
    assert store.load("sazito").state == "open"


def test_stale_probe_is_taken_over() -> None:
    clock, store = Clock(), MemoryBreakerStore()
    a, b = breaker(store, clock), breaker(store, clock)
    fail(a, 3)
    clock.advance(30)
    assert a.before_call() is True  # a's process dies without reporting
    clock.advance(30)
    assert b.before_call() is True


def test_reload_at_most_once_a_second_while_closed() -> None:
    clock, store = Clock(), CountingStore()
    b = breaker(store, clock)
    loads = store.loads
    for _ in range(100):
        b.record_success(b.before_call())
    assert store.loads == loads
    clock.advance(1.0)
    b.before_call()
    assert store.loads == loads + 1


def test_saves_on_failures_and_transitions_only() -> None:
    clock, store = Clock(), CountingStore()
    b = breaker(store, clock, threshold=2)
    b.record_success(b.before_call())
    assert store.saves == 0
    fail(b, 2)  # one counted failure, then the one that opens
    assert store.saves == 2
    clock.advance(30)
    b.record_success(b.before_call())  # half_open, then closed
    assert store.saves == 4


def test_the_open_error_repeats_the_failure_that_opened_the_circuit() -> None:
    clock, store = Clock(), MemoryBreakerStore()
    b = breaker(store, clock, address="http://127.0.0.1:9")
    for _ in range(3):
        b.record_failure(b.before_call(), "sazito: cannot reach http://127.0.0.1:9 (connection refused)")
    with pytest.raises(CircuitOpenError) as info:
        b.before_call()
    assert str(info.value).startswith(
        "sazito: cannot reach http://127.0.0.1:9 (connection refused) (3 failures"
    )
    assert "calls to sazito at http://127.0.0.1:9 are paused" in str(info.value)
    assert store.load("sazito", "http://127.0.0.1:9").last_error is not None
    assert store.load("sazito").state == "closed"  # another address, another circuit
