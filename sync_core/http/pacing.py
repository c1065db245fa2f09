"""Client-side pacing: a token bucket per connection (and per lane: a kind of call the provider limits on its
own), shared by every client of that connection in a process; and the tally of what pacing and 429s cost."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

Pacer = Callable[[], None]


class TokenBucket:
    """Allows ``rate_per_min`` requests a minute with bursts of ``burst``; thread-safe.

    Callers reserve a token under the lock and sleep outside it, so waiting threads do not block each
    other and are served in arrival order (the bucket may go negative: that is the queue of reservations).
    """

    def __init__(
        self,
        rate_per_min: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_min <= 0:
            raise ValueError("rate_per_min must be > 0")
        self.rate_per_s = rate_per_min / 60.0
        # Default burst: one second's worth, so a fresh process does not fire a whole minute's budget at once.
        self.burst = burst if burst is not None else max(1, math.ceil(self.rate_per_s))
        if self.burst < 1:
            raise ValueError("burst must be >= 1")
        self._clock, self._sleep = clock, sleep
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; return how many seconds the caller must wait before using it (0 if none)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate_per_s)
            self._last = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate_per_s

    def acquire(self) -> float:
        """Block until a token is available; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


WINDOW_BURST_S = 5.0  # a windowed budget lets this many seconds of it go at once


def window_limit_shape(per_min: float) -> tuple[int, float]:
    """(burst, paced rate per minute) of a budget the provider counts in fixed minutes (``X-RateLimit-Reset``
    is the end of the window): a burst of ``WINDOW_BURST_S`` of the budget, then the rest of the minute's
    budget paced, so that no 60 seconds, wherever they start, hold more than ``per_min`` calls (a bucket of B
    tokens filling at R a minute lets at most B + R through in any minute)."""
    burst = max(1, int(per_min * WINDOW_BURST_S / 60))
    if per_min - burst <= 0:
        return 1, float(per_min)
    return burst, float(per_min - burst)


_shared: dict[tuple[str, float, int | None], TokenBucket] = {}
_shared_lock = threading.Lock()


def shared_bucket(name: str, rate_per_min: float, burst: int | None = None) -> TokenBucket:
    """The process-wide bucket of the connection ``name`` at this rate, so its clients share one budget."""
    key = (name, rate_per_min, burst)
    with _shared_lock:
        bucket = _shared.get(key)
        if bucket is None:
            bucket = _shared[key] = TokenBucket(rate_per_min, burst)
        return bucket


class Lane:
    """How one kind of call is paced: a token bucket and, when wired, a pacer (a budget shared between
    processes) asked first. A client's calls go by its connection's lane unless they name another."""

    def __init__(self, bucket: TokenBucket, pacer: Pacer | None = None) -> None:
        self.bucket, self.pacer = bucket, pacer

    def pace(self, sleep: Callable[[float], None]) -> float:
        """Wait for this lane's turn (the pacer, then the bucket); return the seconds it took."""
        waited = 0.0
        if self.pacer is not None:
            started = time.monotonic()
            self.pacer()
            waited += time.monotonic() - started
        wait = self.bucket.reserve()
        if wait > 0:
            sleep(wait)
            waited += wait
        return waited


class WaitTally:
    """What rate limits cost a client's calls, for a live monitor; thread-safe.

    ``waited_s``: seconds spent pacing (pacers and buckets) and waiting out 429 answers; ``throttled``: the
    429 answers received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waited_s = 0.0
        self._throttled = 0

    @property
    def waited_s(self) -> float:
        with self._lock:
            return self._waited_s

    @property
    def throttled(self) -> int:
        with self._lock:
            return self._throttled

    def waited(self, seconds: float) -> None:
        """Count ``seconds`` spent waiting on a rate limit."""
        if seconds > 0:
            with self._lock:
                self._waited_s += seconds

    def throttled_once(self) -> None:
        """Count one 429 answer."""
        with self._lock:
            self._throttled += 1
