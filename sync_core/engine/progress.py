"""How far a run is: pages done of those expected (items too, when the source reports a total), since when,
at what rate, and when it should end. Plain Python, thread-safe, no Prefect.

The runner advances a :class:`Progress` as its pages are synced. Whoever wants to see it listens: the run's
own listeners (the Prefect progress artifact, ``flows.artifacts``) and the process's, registered with
:func:`listening` (the command line's bar or lines, ``catalog_sync.console``), since a flow started from the
command line runs in its process. A listener that raises is logged and the run goes on: progress never stops
a run. :class:`Throttle` keeps a listener to one update every few seconds, and always lets the last through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]
Listener = Callable[["Snapshot"], None]

INTERVAL_S = 2.0  # at most one update every INTERVAL_S for what costs (an API call, a line of output)

log = logging.getLogger(__name__)
_registry_lock = threading.Lock()
_registry: list[Listener] = []


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A run's progress at one moment. ``finished``: the run's pages are over (``complete``: all of them)."""

    name: str
    pages: int
    expected_pages: int | None
    items: int
    expected_items: int | None
    elapsed_s: float
    finished: bool = False
    complete: bool = False

    @property
    def fraction(self) -> float | None:
        """Pages done of those expected, 0..1; None while the total is unknown (1 once complete)."""
        if self.complete:
            return 1.0
        if not self.expected_pages:
            return None
        return min(1.0, self.pages / self.expected_pages)

    @property
    def rate(self) -> float | None:
        """Pages per second since the run's pages began; None before any page."""
        return self.pages / self.elapsed_s if self.pages and self.elapsed_s > 0 else None

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far; None when finished or unknown."""
        rate = self.rate
        if self.finished or not rate or not self.expected_pages:
            return None
        return max(0.0, (self.expected_pages - self.pages) / rate)


class Progress:
    """One run's progress: ``advance`` as pages are done, ``finish`` when they are all done. Every change is
    passed to the listeners, in order."""

    def __init__(
        self, name: str, *, listeners: Iterable[Listener] = (), clock: Clock = time.monotonic
    ) -> None:
        self.name = name
        self._listeners = list(listeners)
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()  # the counters
        self._notify = threading.Lock()  # listeners see the snapshots in the order they were taken
        self._pages = self._items = 0
        self._expected_pages: int | None = None
        self._expected_items: int | None = None
        self._finished = self._complete = False

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot()

    def advance(
        self,
        pages: int = 1,
        *,
        items: int = 0,
        expected_pages: int | None = None,
        expected_items: int | None = None,
    ) -> Snapshot:
        """``pages`` more done (``items`` in them); the totals when the source reports them (latest wins)."""

        def change() -> None:
            self._pages += pages
            self._items += items
            if expected_pages is not None:
                self._expected_pages = expected_pages
            if expected_items is not None:
                self._expected_items = expected_items

        return self._update(change)

    def finish(self, *, complete: bool = True) -> Snapshot:
        """The run's pages are over: all of them (``complete``: the listing ended, so what was done is what
        there was), or it stopped. Only the first call counts."""

        def change() -> None:
            self._finished, self._complete = True, complete
            if complete:
                self._expected_pages = self._pages
                if self._expected_items is not None:
                    self._expected_items = self._items

        return self._update(change)

    def _snapshot(self) -> Snapshot:
        return Snapshot(
            self.name,
            self._pages,
            self._expected_pages,
            self._items,
            self._expected_items,
            max(0.0, self._clock() - self._started),
            self._finished,
            self._complete,
        )

    def _update(self, change: Callable[[], None]) -> Snapshot:
        with self._notify:
            with self._lock:
                if self._finished:
                    return self._snapshot()
                change()
                snapshot = self._snapshot()
            with _registry_lock:
                listeners = [*self._listeners, *_registry]
            for listener in listeners:
                try:
                    listener(snapshot)
                except Exception:
                    log.warning("%s: a progress listener failed", self.name, exc_info=True)
        return snapshot


@contextmanager
def listening(listener: Listener) -> Iterator[Listener]:
    """Inside the block, ``listener`` sees the progress of every run in this process."""
    with _registry_lock:
        _registry.append(listener)
    try:
        yield listener
    finally:
        with _registry_lock:
            _registry.remove(listener)


class Throttle:
    """Says whether an update is due: the first, then at most one every ``interval_s`` (``clock``: monotonic
    seconds), and always a final one."""

    def __init__(self, interval_s: float = INTERVAL_S, clock: Clock = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()

    def due(self, *, final: bool = False) -> bool:
        now = self._clock()
        with self._lock:
            if final or self._last is None or now - self._last >= self.interval_s:
                self._last = now
                return True
            return False


def throttled(listener: Listener, interval_s: float = INTERVAL_S, clock: Clock = time.monotonic) -> Listener:
    """``listener`` given the first snapshot, then at most one every ``interval_s``, and the finished one."""
    throttle = Throttle(interval_s, clock)

    def show(snapshot: Snapshot) -> None:
        if throttle.due(final=snapshot.finished):
            listener(snapshot)

    return show


def progress_view(snapshot: Snapshot) -> dict[str, Any]:
    """A snapshot as JSON-ready values (kept on the run's row for monitors in other processes)."""
    eta = snapshot.eta_s
    return {
        "pages": snapshot.pages,
        "expected_pages": snapshot.expected_pages,
        "items": snapshot.items,
        "expected_items": snapshot.expected_items,
        "elapsed_s": round(snapshot.elapsed_s, 1),
        "eta_s": round(eta, 1) if eta is not None else None,
        "finished": snapshot.finished,
    }


def clock_text(seconds: float) -> str:
    """``0:09``, ``12:30``, ``1:02:03``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe(snapshot: Snapshot, sep: str = " · ") -> str:
    """``1,200/2,000 pages 60% · 85 pages/s · ETA 0:09`` (``... · done in 0:23`` once complete)."""
    s = snapshot
    fraction = s.fraction
    if s.expected_pages and fraction is not None:
        parts = [f"{s.pages:,}/{s.expected_pages:,} pages {int(fraction * 100)}%"]
    else:
        parts = [f"{s.pages:,} pages"]
    rate = s.rate
    if rate:
        parts.append(f"{rate:,.0f} pages/s" if rate >= 10 else f"{rate:.1f} pages/s")
    if s.finished:
        parts.append(f"{'done in' if s.complete else 'stopped after'} {clock_text(s.elapsed_s)}")
    elif (eta := s.eta_s) is not None:
        parts.append(f"ETA {clock_text(eta)}")
    return sep.join(parts)


class PagesTold:
    """Tells ``on_pages`` how many of a batch's ``pages`` are done, in whole pages, never more than once each:
    the landed share of the writes (``share``), then the rest (``all``). Thread-safe."""

    def __init__(self, pages: int, on_pages: Callable[[int], object] | None) -> None:
        self.pages, self.on_pages, self.told, self.landed = pages, on_pages, 0, 0
        self._lock = threading.Lock()

    def share(self, landed: int, planned: int) -> None:
        with self._lock:
            self.landed += landed
            self._tell(self.pages * self.landed // planned if planned else 0)

    def all(self) -> None:
        with self._lock:
            self._tell(self.pages)

    def _tell(self, done: int) -> None:
        if self.on_pages is not None and done > self.told:
            self.on_pages(min(done, self.pages) - self.told)
        self.told = max(self.told, min(done, self.pages))
