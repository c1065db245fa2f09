"""A circuit breaker per connection and address (a corrected URL gets a fresh circuit), whose state lives in
a store, so every process sees the same circuit. The store's ``provider`` key is the connection's name (a
provider's default connection is named after the provider). An open circuit's error repeats the failure that opened it:
the message names the cause (connection refused, HTTP 401 ...), not the circuit.

closed --(threshold consecutive counted failures within window_s)--> open --(cooldown_s)--> half_open (one probe)
half_open --probe ok--> closed;  half_open --probe fails--> open (cooldown starts again)
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sync_core.errors import CircuitOpenError

JournalSink = Callable[[str, dict[str, Any]], None]


@dataclass(slots=True)
class BreakerState:
    """Persisted breaker state; in ``half_open``, ``opened_at`` is when the current probe started."""

    state: str = "closed"  # closed | open | half_open
    failures: int = 0
    window_started_at: float | None = None  # epoch seconds
    opened_at: float | None = None  # epoch seconds
    last_error: str | None = None  # the latest counted failure, as its error said it


def circuit_name(provider: str, address: str) -> str:
    """How a circuit is named in messages and reports: the provider and the address it protects."""
    return f"{provider} at {address}" if address else provider


class BreakerStore(Protocol):
    """Where breaker state is kept per provider and address (a DB table in production, a dict in tests)."""

    def load(self, provider: str, address: str = "") -> BreakerState: ...

    def save(self, provider: str, state: BreakerState, address: str = "") -> None: ...


class MemoryBreakerStore:
    """In-process store; share one instance between breakers to simulate several processes."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], BreakerState] = {}
        self._lock = threading.Lock()
        self.saves = 0

    def load(self, provider: str, address: str = "") -> BreakerState:
        """A copy of the circuit's state (closed when never saved)."""
        with self._lock:
            return copy.copy(self._states.get((provider, address), BreakerState()))

    def save(self, provider: str, state: BreakerState, address: str = "") -> None:
        """Store a copy of ``state``."""
        with self._lock:
            self._states[(provider, address)] = copy.copy(state)
            self.saves += 1


class CircuitBreaker:
    """Guards calls to one provider; thread-safe.

    Use: ``probe = breaker.before_call()`` (raises CircuitOpenError), then ``record_success(probe)`` or
    ``record_failure(probe)``. While closed the store is re-read at most every ``refresh_s`` seconds.
    """

    def __init__(
        self,
        provider: str,
        store: BreakerStore,
        *,
        address: str = "",
        threshold: int,
        window_s: float,
        cooldown_s: float,
        clock: Callable[[], float] = time.time,
        on_event: JournalSink | None = None,
        refresh_s: float = 1.0,
    ) -> None:
        self.provider, self.address, self._store = provider, address, store
        self.threshold, self.window_s, self.cooldown_s = threshold, window_s, cooldown_s
        self._clock, self._on_event, self._refresh_s = clock, on_event, refresh_s
        self._lock = threading.Lock()
        self._state = store.load(provider, address)
        self._loaded_at = clock()

    @property
    def state(self) -> BreakerState:
        """A copy of the state as this breaker last knew it."""
        with self._lock:
            return copy.copy(self._state)

    def before_call(self) -> bool:
        """Let a call through (True when it is the half-open probe) or raise CircuitOpenError."""
        events: list[str] = []
        try:
            with self._lock:
                now = self._clock()
                self._refresh(now)
                if self._state.state != "closed" and self._due(now):
                    self._refresh(now, force=True)  # another process may have probed or closed it already
                state = self._state
                if state.state == "closed":
                    return False
                if not self._due(now):
                    raise self._open_error(now)
                if state.state == "open":
                    events.append("circuit_half_open")
                # A half_open state whose probe is older than the cooldown is a probe that never reported
                # (its process died): take over the probe rather than stay half-open forever.
                self._state = BreakerState(
                    "half_open", state.failures, state.window_started_at, now, state.last_error
                )
                self._save()
                return True
        finally:
            self._emit(events)

    def record_success(self, probe: bool = False) -> None:
        """A call got an answer that shows the provider is healthy; a successful probe closes the circuit."""
        with self._lock:
            if not probe:
                # Failures must be consecutive to open the circuit: scattered 5xx between good answers are
                # noise the retries absorb, not an outage. Only a count above zero needs a (saved) reset.
                if self._state.state == "closed" and self._state.failures:
                    self._state = BreakerState()
                    self._save()
                return
            self._state = BreakerState()
            self._save()
        self._emit(["circuit_closed"])

    def record_failure(self, probe: bool = False, error: str | None = None) -> None:
        """A counted failure (5xx, timeout, connection, auth), ``error`` saying what it was; opens the circuit
        at the threshold."""
        events: list[str] = []
        with self._lock:
            now = self._clock()
            if probe:
                state = self._state
                self._state = BreakerState("open", state.failures, state.window_started_at, now, error)
                events.append("circuit_opened")
                failures = self._state.failures
            else:
                # Re-read so failures counted by other processes add up instead of being overwritten.
                self._refresh(now, force=True)
                state = self._state
                if state.state != "closed":
                    return
                if state.window_started_at is None or now - state.window_started_at > self.window_s:
                    state.failures, state.window_started_at = 1, now
                else:
                    state.failures += 1
                state.last_error = error
                if state.failures >= self.threshold:
                    state.state, state.opened_at = "open", now
                    events.append("circuit_opened")
                failures = state.failures
            self._save()
        self._emit(events, failures=failures, cooldown_s=self.cooldown_s)

    def _due(self, now: float) -> bool:
        opened_at = self._state.opened_at
        return opened_at is None or now - opened_at >= self.cooldown_s

    def _refresh(self, now: float, force: bool = False) -> None:
        if force or now - self._loaded_at >= self._refresh_s:
            self._state = self._store.load(self.provider, self.address)
            self._loaded_at = now

    def _save(self) -> None:
        self._store.save(self.provider, copy.copy(self._state), self.address)
        self._loaded_at = self._clock()

    def _open_error(self, now: float) -> CircuitOpenError:
        state = self._state
        probe_at = (state.opened_at or now) + self.cooldown_s
        when = datetime.fromtimestamp(probe_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        where = circuit_name(self.provider, self.address)
        paused = (
            f"no call made: calls to {where} are paused until {when} (in {max(0.0, probe_at - now):.0f}s)"
        )
        if state.state == "half_open":
            return CircuitOpenError(f"{where}: a trial call is in flight; {paused}", provider=self.provider)
        cause = state.last_error or f"{self.provider}: failed"
        failures = f"{state.failures} failure{'s' if state.failures != 1 else ''} in a row"
        return CircuitOpenError(f"{cause} ({failures}; {paused})", provider=self.provider)

    def _emit(self, kinds: list[str], **extra: Any) -> None:
        # Called outside the lock: a sink that writes to a database must not hold up other threads.
        if self._on_event is not None:
            for kind in kinds:
                self._on_event(kind, {"provider": self.provider, "address": self.address, **extra})
