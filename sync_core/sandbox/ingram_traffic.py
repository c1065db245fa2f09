"""What the Ingram simulator sees of its traffic, and its per-endpoint limit of calls a minute.

Three endpoints, three budgets: "token", "pna" (price and availability) and "details". The limit is a fixed
window of WINDOW_S seconds opened by the first call after the previous window ended; `X-RateLimit-Reset` is
its end in epoch seconds. Not thread-safe by itself: `SandboxState` calls it under its lock.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = ("token", "pna", "details")
WINDOW_S = 60.0
PUBLISHED_LIMIT = 60  # the contract's calls a minute, reported when no limit is configured


def max_in_window(times: list[float], window_s: float = WINDOW_S) -> int:
    """The most of `times` (seconds) that fall within any `window_s`-long span."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass
class EndpointTraffic:
    """Calls of one endpoint since the last reset; times are `time.monotonic()` seconds."""

    calls: int = 0
    throttled_429: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    arrivals: list[float] = field(default_factory=list)
    served: list[float] = field(default_factory=list)  # arrivals not answered 429
    statuses: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        """The endpoint's figures, with the most calls (all, and not answered 429) in any 60 s."""
        return {
            "calls": self.calls,
            "throttled_429": self.throttled_429,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "max_per_minute": max_in_window(self.arrivals),
            "max_per_minute_served": max_in_window(self.served),
            "statuses": dict(self.statuses),
        }


@dataclass
class _Window:
    end: float  # epoch seconds
    used: int


class IngramTraffic:
    """Per-endpoint counters, calls in flight, correlation ids seen, and the calls-a-minute windows."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self.reset()

    def reset(self) -> None:
        """Zero the counters (the rate-limit windows run on)."""
        self.endpoints = {name: EndpointTraffic() for name in ENDPOINTS}
        self.correlation_ids: list[str] = []
        self.country_codes: Counter[str] = Counter()
        self.parts_asked = 0
        self.unknown_items = 0
        self.answers_207 = 0
        self.changes = 0

    def arrive(self, endpoint: str, correlation_id: str | None, country_code: str | None) -> float:
        """Count a call as it arrives (before any delay or throttling); returns its arrival time."""
        now = time.monotonic()
        traffic = self.endpoints[endpoint]
        traffic.calls += 1
        traffic.in_flight += 1
        traffic.max_in_flight = max(traffic.max_in_flight, traffic.in_flight)
        traffic.arrivals.append(now)
        if endpoint != "token":
            if correlation_id is not None:
                self.correlation_ids.append(correlation_id)
            if country_code is not None:
                self.country_codes[country_code] += 1
        return now

    def leave(self, endpoint: str, arrived: float, status: int) -> None:
        """Count a call's answer (its status) once it has been sent."""
        traffic = self.endpoints[endpoint]
        traffic.in_flight -= 1
        traffic.statuses[str(status)] += 1
        if status == 429:
            traffic.throttled_429 += 1
        else:
            traffic.served.append(arrived)

    def take(self, endpoint: str, per_minute: int) -> tuple[bool, dict[str, str]]:
        """Spend one call of `endpoint`'s window: (allowed, the X-RateLimit headers to send).

        A refused call spends nothing and also gets Retry-After (whole seconds to the window's end).
        """
        if per_minute <= 0:
            return True, {}
        now = time.time()
        window = self._windows.get(endpoint)
        if window is None or now >= window.end:
            window = self._windows[endpoint] = _Window(now + WINDOW_S, 0)
        allowed = window.used < per_minute
        if allowed:
            window.used += 1
        headers = rate_headers(per_minute, per_minute - window.used, window.end)
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(window.end - now)))
        return allowed, headers

    def limit_headers(self, endpoint: str, per_minute: int, retry_after_s: int) -> dict[str, str]:
        """X-RateLimit headers for a 429 the sandbox sends outside the window (bursts, the token bucket)."""
        window = self._windows.get(endpoint)
        reset = time.time() + retry_after_s
        if window is not None and window.end > time.time():
            reset = max(reset, window.end)
        return rate_headers(per_minute or PUBLISHED_LIMIT, 0, reset)

    def stats(self) -> dict[str, Any]:
        """Per endpoint (see EndpointTraffic.to_json), then the P&A content and correlation-id figures."""
        data: dict[str, Any] = {name: t.to_json() for name, t in self.endpoints.items()}
        ids = self.correlation_ids
        data["correlation_ids"] = len(ids)
        data["correlation_ids_distinct"] = len(set(ids))
        data["country_codes"] = dict(self.country_codes)
        data["parts_asked"] = self.parts_asked
        data["unknown_items"] = self.unknown_items
        data["answers_207"] = self.answers_207
        data["changes"] = self.changes
        return data


def rate_headers(limit: int, remaining: int, reset_epoch_s: float) -> dict[str, str]:
    """The three X-RateLimit headers; the reset is the window's end, rounded up to an epoch second."""
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, remaining)),
        "X-RateLimit-Reset": str(math.ceil(reset_epoch_s)),
    }
