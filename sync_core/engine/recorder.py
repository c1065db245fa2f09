"""Recording what landed, in groups: the parts of a batch's writes (a bulk call's outcome, one per-variant
call's) are kept for a moment and recorded together in one transaction, not one transaction each.

A part waits at most ``max_delay_s`` (a timer records it even while every other call hangs) and a group holds
at most ``max_writes`` writes, so what landed reaches the ledger within a fraction of a second. A process
killed in that moment resends those writes on its rerun: the same values, once, as a kill between a store's
answer and a ledger commit always could; no update is lost either way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from sync_core.models import WriteOutcome

RECORD_EVERY_S = 0.25
RECORD_EVERY_WRITES = 1000


class GroupRecorder:
    """Takes parts as they land (``add``), records them in groups by ``record``; ``close`` records the rest.
    Groups are recorded in the order their parts landed, one at a time (thread-safe)."""

    def __init__(
        self,
        record: Callable[[Sequence[WriteOutcome]], None],
        *,
        max_writes: int = RECORD_EVERY_WRITES,
        max_delay_s: float = RECORD_EVERY_S,
    ) -> None:
        self._record, self.max_writes, self.max_delay_s = record, max_writes, max_delay_s
        self._parts: list[WriteOutcome] = []
        self._writes = 0
        self._lock = threading.Lock()  # guards the buffer
        self._recording = threading.Lock()  # one group at a time, in order
        self._timer: threading.Timer | None = None
        self.error: BaseException | None = None

    def add(self, part: WriteOutcome) -> None:
        with self._lock:
            self._parts.append(part)
            self._writes += len(part.succeeded) + len(part.failed)
            full = self._writes >= self.max_writes
            if not full and self._timer is None:
                self._timer = threading.Timer(self.max_delay_s, self._flush_from_timer)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush()

    def flush(self) -> None:
        """Record what is waiting, now, in this thread."""
        with self._recording:
            with self._lock:
                parts, self._parts, self._writes = self._parts, [], 0
                timer, self._timer = self._timer, None
            if timer is not None:
                timer.cancel()
            if parts:
                self._record(parts)

    def close(self) -> None:
        """Record the rest; raise the error a timer's recording met, if any."""
        self.flush()
        if self.error is not None:
            raise self.error

    def _flush_from_timer(self) -> None:
        try:
            self.flush()
        except BaseException as exc:  # raised again by close(), in the batch's own thread
            self.error = exc
