"""Traffic shaping for the simulators: a token bucket, periodic 429 bursts and seeded 5xx faults.

Not thread-safe by itself: `SandboxState` calls it under its lock.
"""

from __future__ import annotations

import math
import random
import time
from email.utils import formatdate


class TrafficShaper:
    """Decides, request by request, whether to throttle (429) or fail (5xx) before any work is done."""

    def __init__(self, seed: int, rate_limit: float) -> None:
        self._fault_rng = random.Random(seed * 7919 + 17)
        self.reset_bucket(rate_limit)
        self.reset_burst()

    def reset_bucket(self, rate_limit: float) -> None:
        """Refill every API's bucket, e.g. after the rate limit changed."""
        self._buckets: dict[str, tuple[float, float]] = {}  # api → (tokens, when)

    def reset_burst(self) -> None:
        """Restart the burst cycle at its first served request."""
        self._burst_seen = 0
        self._burst_hits = 0

    def take_token(self, rate_limit: float, api: str = "") -> int | None:
        """Spend one of ``api``'s tokens (each simulated provider has its own budget, as real ones do);
        None when allowed, else the Retry-After in whole seconds (at least 1)."""
        if rate_limit <= 0:
            return None
        now = time.monotonic()
        size = max(1.0, rate_limit)
        tokens, when = self._buckets.get(api, (size, now))
        tokens = min(size, tokens + (now - when) * rate_limit)
        if tokens >= 1:
            self._buckets[api] = (tokens - 1, now)
            return None
        self._buckets[api] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / rate_limit))

    def burst_slot(self, every: int, length: int) -> str | None:
        """None, or a Retry-After value when this request falls in a burst: "1" and an HTTP-date alternate."""
        if every <= 0 or length <= 0:
            return None
        seen, self._burst_seen = self._burst_seen, self._burst_seen + 1
        if seen % (every + length) < every:
            return None
        self._burst_hits += 1
        if self._burst_hits % 2:
            return "1"
        # An HTTP-date has whole-second resolution: round up so the wait is never shorter than a second.
        return formatdate(math.ceil(time.time()) + 1, usegmt=True)

    def html_roll(self, fraction: float) -> bool:
        """True for the share ``fraction`` of calls (seeded, like the faults)."""
        return fraction > 0 and self._fault_rng.random() < fraction

    def fault_roll(self, fault_rate: float) -> int | None:
        """None, or a 500/502/503 drawn from the seeded generator (reproducible for a request sequence)."""
        if fault_rate <= 0 or self._fault_rng.random() >= fault_rate:
            return None
        return self._fault_rng.choice((500, 502, 503))
