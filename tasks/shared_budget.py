"""A connection's request budget shared by every process that calls it, through its Prefect global
concurrency limit '<connection>-requests' used as a rate limit (slots that decay at the allowed rate).

Asking Prefect for one slot per request (``rate_limit(occupy=1)``) costs an API call per request and,
measured, over a third of the throughput: the server frees decayed slots in whole numbers from the moment of
the last change, so each change drops a fraction of a slot, and each refused ask (423) restarts that clock
without freeing anything. So :class:`SharedBudget` takes a *block* of slots in one call and hands them out one
per request, taking another block when they are spent, and :class:`PrefectLimit` takes each block so that it
is rarely refused: it reads the limit first (a read changes nothing), waits until the block fits, then takes
it.

The block is half a second of the connection's budget (``BLOCK_S``; 5 slots at 600/min, 2 at 240/min; at
least 2 when the limit holds 2, else 1; at most the limit's size). A bigger block means fewer API calls (two per block: a read and the
take) but a process may hold up to one block it never uses (taken from the others' share) and may send up
to a block's worth a little later than its slots were counted; a smaller one means more calls and more of
the fractions the server drops. Measured in ``bench/shared_limit.py``.

A limit that does not exist is created with the connection's rate (the shape ``catalog-sync deploy``
gives it: one second's worth of slots, decaying at rate/60 per second), so connections of CONNECTIONS
share too. A limit switched off (inactive) is not used. When the Prefect API cannot be reached or refuses,
one warning is logged and the process paces alone (its own token bucket) for ``RETRY_S``, then tries again:
a run never fails for it.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from sync_core.engine.connections import requests_limit, requests_limit_shape, window_requests_limit_shape

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse

log = logging.getLogger(__name__)

BLOCK_S = 0.5  # a block is this many seconds of the connection's budget
MIN_BLOCK = 2  # slots, when the limit holds that many
RETRY_S = 60.0  # after the Prefect API failed, pace alone this long before trying it again
POLL_SLOTS = 0.25  # while a block waits for its last slot, read the limit every quarter of a slot's time
POLL_MIN_S = 0.01  # but not more often than this
DUE_MARGIN_S = 0.002  # taken this long after the block fits by this process's own clock


def block_size(per_min: float, limit: int | None = None) -> int:
    """Slots taken per call: ``BLOCK_S`` of the budget, at most the limit's size, and at least 2 when the
    limit holds 2 (else 1). Blocks of one slot cost two API calls a request and lose a fraction of a slot to
    the server's whole-slot decay each time: measured at 2 requests/s (bench/README.md), a run took 1.21x its
    bound with them against 1.03x pacing alone."""
    block = max(1, round(per_min / 60 * BLOCK_S))
    return max(1, min(max(block, MIN_BLOCK), limit)) if limit is not None else block


class SharedBudget:
    """Hands out the slots of blocks taken with ``acquire``, one per call; thread-safe.

    ``acquire()`` takes a block and returns how many requests it covers (>= 1); it raises when the shared
    limit cannot be used, and the budget then lets requests through (local pacing only) for ``retry_s``.
    Callers that find the block spent wait for the next one in turn (one ``acquire`` at a time).
    """

    def __init__(
        self,
        name: str,
        acquire: Callable[[], int],
        *,
        retry_s: float = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._acquire, self._retry_s, self._clock = acquire, retry_s, clock
        self._lock = threading.Lock()
        self._left = 0  # requests the blocks taken still cover
        self._alone_until: float | None = None  # set while the shared limit is unusable
        self.blocks = 0  # blocks taken
        self.slots = 0  # slots those blocks held
        self.used = 0  # requests sent on them
        self.alone = 0  # requests let through unshared (the shared limit unusable)

    def __call__(self) -> None:
        with self._lock:
            if self._left == 0 and not self._take():
                self.alone += 1
                return
            self._left -= 1
            self.used += 1

    def _take(self) -> bool:
        """Take a block (the lock held); False when the shared limit is unusable for now."""
        if self._alone_until is not None and self._clock() < self._alone_until:
            return False
        try:
            got = self._acquire()
        except Exception as exc:  # the API down or refusing: never fail a run for it
            if self._alone_until is None:
                log.warning(
                    "the shared request budget %r is unusable (%s: %s); this process paces alone "
                    "(RATE_LIMIT_PER_MIN per process, not shared) and tries again every %.0f s",
                    requests_limit(self.name),
                    type(exc).__name__,
                    str(exc).splitlines()[0] if str(exc) else "no detail",
                    self._retry_s,
                )
            self._alone_until = self._clock() + self._retry_s
            return False
        if self._alone_until is not None:
            log.warning("the shared request budget %r is usable again", requests_limit(self.name))
            self._alone_until = None
        if got < 1:
            raise ValueError(f"acquire must cover at least one request, not {got}")
        self.blocks += 1
        self.slots += got
        self._left = got
        return True


class PrefectLimit:
    """Takes blocks of the Prefect global limit '<connection>-requests' (the ``acquire`` of a
    :class:`SharedBudget`): read the limit, wait until the block fits, take it; create the limit when it is
    missing. Not thread-safe by itself: the budget calls it under its lock.

    Waiting is where the throughput goes. The server frees decayed slots whole, counted from its last change
    to the limit, and this process cannot see when that was; asking before the block fits is refused, and a
    refusal restarts that count without freeing anything (a take a little early costs the limit up to the
    whole block's time). So:

    - when the read shows only this process's own last take decaying since (the slots it expects), the last
      change was that take, whose time it knows (at most a round trip late): it sleeps until the block fits
      by that clock, plus a random part of a poll (below), and takes it: two API calls a block, the read
      and the take, and on average an eighth of a slot's time late;
    - otherwise (another process took slots or was refused since, or the first block) it sleeps until all
      but one of the missing slots must have gone, then reads every poll (a quarter of a slot's time)
      until the block fits: a few reads more, taken at most a poll late.

    The random part keeps a process that has the limit to itself from always beating one that is waiting
    for the same slots by polling (whose reads it cannot see): each gets about one block in two.
    """

    def __init__(
        self,
        name: str,
        per_min: int,
        *,
        client: Callable[[], SyncPrefectClient] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        shape: Callable[[float], tuple[int, float]] = requests_limit_shape,
    ) -> None:
        """``shape``: (limit, slot decay per second) of the limit it makes when it is missing."""
        self.name, self.limit_name, self.per_min, self.shape = name, requests_limit(name), per_min, shape
        self._new_client = client or _own_client
        self._client: SyncPrefectClient | None = None
        self._sleep, self._clock, self._jitter = sleep, clock, jitter
        self._mine: tuple[float, int] | None = None  # (when, active slots just after) of this one's last take
        self.reads = self.takes = self.refused = 0

    def __call__(self) -> int:
        client = self._open()
        while True:
            limit = self._read(client)
            # A windowed budget's limit is its burst: taken whole, its slots go at the pace the burst allows.
            windowed = self.shape is window_requests_limit_shape
            block = limit.limit if windowed else block_size(self.per_min, limit.limit)
            if not limit.active:  # switched off on the server: not shared
                self._mine = None
                return block
            decay = limit.slot_decay_per_second
            if decay <= 0:
                raise ValueError(f"{self.limit_name} has no slot decay, so it is no rate limit")
            fits_at = limit.limit - block  # the most active slots with which the block fits
            before = limit.active_slots
            if before > fits_at:
                poll = max(POLL_MIN_S, POLL_SLOTS / decay)
                due = self._due(before, fits_at, decay)
                if due is None:  # not alone: read again when the block may fit
                    self._sleep(max(poll, (before - fits_at - 1) / decay))
                    continue
                # Up to one poll late, so that a process reading every poll for the same slots (unseen: a
                # read changes nothing) gets them about as often as this one does.
                self._sleep(max(0.0, due + self._jitter() * poll - self._clock()))
                before = fits_at
            if self._take(client, block, before):
                return block

    def _due(self, active: int, fits_at: int, decay: float) -> float | None:
        """When the block fits, if nothing but this process's last take changed the limit since (the read's
        active slots are those it expects, give or take one for the round trip); else None."""
        if self._mine is None:
            return None
        taken_at, after = self._mine
        expected = max(0, after - math.floor(decay * (self._clock() - taken_at)))
        if abs(active - expected) > 1:
            return None
        return taken_at + (after - fits_at) / decay + DUE_MARGIN_S

    def _take(self, client: SyncPrefectClient, block: int, active_before: int) -> bool:
        """Take ``block`` slots; False when refused (another process took them first)."""
        self.takes += 1
        try:
            client.increment_concurrency_slots(names=[self.limit_name], slots=block, mode="rate_limit")
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 423:
                raise
            self.refused += 1
            self._mine = None
            return False
        # The server made the change before the answer came: its decay count started no later than now.
        self._mine = (self._clock(), active_before + block)
        return True

    def _open(self) -> SyncPrefectClient:
        if self._client is None:
            client = self._new_client()
            client.__enter__()
            self._client = client
        return self._client

    def _read(self, client: SyncPrefectClient) -> GlobalConcurrencyLimitResponse:
        from prefect.exceptions import ObjectNotFound

        self.reads += 1
        try:
            return client.read_global_concurrency_limit_by_name(self.limit_name)
        except ObjectNotFound:
            self._create(client)
        self.reads += 1
        return client.read_global_concurrency_limit_by_name(self.limit_name)

    def _create(self, client: SyncPrefectClient) -> None:
        from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
        from prefect.exceptions import ObjectAlreadyExists

        size, decay = self.shape(self.per_min)
        try:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=self.limit_name, limit=size, slot_decay_per_second=decay)
            )
        except ObjectAlreadyExists:  # another process made it first
            return
        log.info(
            "created the Prefect limit %r: %d/min (%d slots, %s/s)",
            self.limit_name,
            self.per_min,
            size,
            decay,
        )


def _own_client() -> SyncPrefectClient:
    """A Prefect client of the budget's own: not the run's (that one closes with the run, the budget
    outlives it), hence the explicit (default) httpx settings."""
    from prefect.client.orchestration import get_client

    return get_client(httpx_settings={}, sync_client=True)


_budgets: dict[tuple[str, int, str | None], SharedBudget] = {}
_budgets_lock = threading.Lock()


def shared_budget(name: str, per_min: int, *, windowed: bool = False) -> SharedBudget:
    """The process's budget of connection ``name`` at ``per_min`` requests a minute, against the Prefect
    API configured now (one per connection, rate and server, so a connection's clients share its blocks).
    ``windowed``: the provider counts the budget in fixed minutes, and a missing limit is made in the shape
    of :func:`sync_core.http.pacing.window_limit_shape` (a burst, then the rest of the minute paced)."""
    from prefect.settings import PREFECT_API_URL

    key = (name, per_min, PREFECT_API_URL.value())
    with _budgets_lock:
        budget = _budgets.get(key)
        if budget is None:
            limit = PrefectLimit(
                name, per_min, shape=window_requests_limit_shape if windowed else requests_limit_shape
            )
            budget = _budgets[key] = SharedBudget(name, limit)
        return budget
