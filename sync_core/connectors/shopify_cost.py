"""Shopify's cost-based rate limit, as the connector keeps track of it (contract: "Limits").

Every answer's ``extensions.cost`` says what the query was priced (``requestedQueryCost``), what it cost
(``actualQueryCost``) and the app's leaky bucket (``throttleStatus``: ``maximumAvailable``,
``currentlyAvailable``, ``restoreRate`` points a second). :class:`CostBudget` keeps the last bucket seen and
restores it by the time gone since, so a query that would not fit waits ``(needed - available) / restoreRate``
first. :class:`PageSize` sizes a paged query's ``first``: the largest that fits one query's limit
(min(1000, maximumAvailable)), learnt from what the store priced the last one.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_FIRST = 250  # the most a connection serves a page, and the cap of every input list
MAX_QUERY_COST = 1000.0  # the most one query may be priced


def _object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


@dataclass(frozen=True, slots=True)
class Cost:
    """An answer's ``extensions.cost`` (the bucket's fields None when it has no ``throttleStatus``)."""

    requested: float | None
    actual: float | None
    maximum: float | None
    available: float | None
    restore_rate: float | None


def read_cost(body: Any) -> Cost | None:
    """The ``extensions.cost`` of a decoded answer, or None when it has none."""
    extensions = body.get("extensions") if isinstance(body, dict) else None
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    if not isinstance(cost, dict):
        return None
    status = _object(cost.get("throttleStatus"))
    return Cost(
        _number(cost.get("requestedQueryCost")),
        _number(cost.get("actualQueryCost")),
        _number(status.get("maximumAvailable")),
        _number(status.get("currentlyAvailable")),
        _number(status.get("restoreRate")),
    )


class CostBudget:
    """The store's bucket as last seen (and restored since, by ``clock`` seconds); thread-safe."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.maximum: float | None = None
        self.restore_rate: float | None = None
        self._available = 0.0
        self._seen_at = 0.0

    def observe(self, cost: Cost | None) -> None:
        """Take the bucket an answer reports (an answer without one changes nothing)."""
        if cost is None or cost.maximum is None or cost.available is None or not cost.restore_rate:
            return
        with self._lock:
            self.maximum, self.restore_rate = cost.maximum, cost.restore_rate
            self._available, self._seen_at = cost.available, self._clock()

    def available(self) -> float | None:
        """The points the bucket holds now by its last report (None before any)."""
        with self._lock:
            if self.maximum is None or not self.restore_rate:
                return None
            restored = (self._clock() - self._seen_at) * self.restore_rate
            return min(self.maximum, self._available + max(0.0, restored))

    def wait_for(self, needed: float) -> float:
        """Seconds until the bucket holds ``needed`` points (0 when it does, or nothing is known yet)."""
        now = self.available()
        if now is None or now >= needed or not self.restore_rate:
            return 0.0
        return (min(needed, self.maximum or needed) - now) / self.restore_rate

    @property
    def limit(self) -> float:
        """The most one query may be priced: min(1000, the bucket's maximum)."""
        return min(MAX_QUERY_COST, self.maximum or MAX_QUERY_COST)


def throttled_wait(cost: Cost | None) -> float | None:
    """What a THROTTLED answer asks to wait: ``(requested - currentlyAvailable) / restoreRate`` (None when
    its cost does not say)."""
    if cost is None or cost.requested is None or cost.available is None or not cost.restore_rate:
        return None
    return max(0.0, cost.requested - cost.available) / cost.restore_rate


class PageSize:
    """``first`` of one paged query: a query is priced ``overhead + unit * first``; ``unit`` starts at an
    estimate and is learnt from each answer's ``requestedQueryCost``; a refusal as too costly halves the
    page for good (``cap``). Thread-safe enough: a race only mixes two right estimates."""

    def __init__(self, overhead: float, unit: float, *, most: int = MAX_FIRST) -> None:
        self.overhead, self.unit, self.cap = overhead, max(1.0, unit), max(1, min(most, MAX_FIRST))

    def first(self, limit: float) -> int:
        """The largest page whose price fits ``limit`` (at least 1, at most ``cap``)."""
        fits = math.floor((limit - self.overhead) / self.unit)
        return max(1, min(self.cap, fits))

    def expected(self, first: int) -> float:
        """What a page of ``first`` should be priced."""
        return self.overhead + self.unit * first

    def learn(self, first: int, requested: float | None) -> None:
        """Take the price the store put on a page of ``first``."""
        if requested is not None and first > 0:
            self.unit = max(1.0, (requested - self.overhead) / first)

    def halve(self, first: int) -> None:
        """A page of ``first`` was refused as too costly: never ask more than half of it again."""
        self.cap = max(1, min(self.cap, first // 2))
