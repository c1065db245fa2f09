"""The products behind `/products/...` in each process: a copy of ``ploomes_products`` (``read_snapshot``),
refreshed when it changes, and the answers it gave, kept in a small LRU cache keyed by the normalised
parameters (an answer is a join of byte strings); the cache's hits, misses and reloads are counted for
`/metrics` (``read_cache_counters``).

Freshness, as for `/search`: before answering, a process reads the data version (row count, latest
``last_changed_at``) if it last did so ``VERSION_CHECK_S`` (1 s) ago or more, and when it moved reads the
table again, the request waiting for it. A sync stamps every batch it writes with a new ``last_changed_at``,
so an answer never misses a change committed more than a second before the request. A write that leaves the
version alone (``last_synced_at`` moving on an unchanged product, an edit by hand) shows within ``MAX_AGE_S``
(30 s) and a check: a copy that old is read again in a thread, while the requests go on with the old one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from catalog_sync.service.answer_cache import AnswerCache
from catalog_sync.service.errors import one_line
from catalog_sync.service.read_cache_counters import ReadCacheCounters, read_cache_counters
from sync_core.db import get_engine
from sync_core.pipelines.ploomes.read_snapshot import Query, Snapshot, data_version, load_snapshot
from sync_core.settings import Settings

VERSION_CHECK_S = 1.0
MAX_AGE_S = 30.0
CACHE_ENTRIES = 4096  # answers per process
CACHE_BYTES = 32 * 1024 * 1024  # a page of 200 products is ~150 kB
API = "products"  # the label of this cache in /metrics

log = logging.getLogger(__name__)


class ProductIndex:
    """Per process: settings and engine read once (first request), the products copy kept fresh as above.
    ``clock`` is ``time.monotonic`` unless a test moves time itself."""

    def __init__(
        self,
        settings_loader: Callable[[], Settings],
        *,
        check_s: float = VERSION_CHECK_S,
        clock: Callable[[], float] = time.monotonic,
        counters: ReadCacheCounters | None = None,
    ) -> None:
        self._settings_loader = settings_loader
        self._engine: Engine | None = None
        self._check_s = check_s
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._pending: Snapshot | None = None  # read in the background, used by the next request
        self._reading = False
        self._checked_at = -float("inf")
        self.cache: AnswerCache[Query] = AnswerCache(max_bytes=CACHE_BYTES, max_entries=CACHE_ENTRIES)
        self.counters = counters or read_cache_counters(API)
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    async def search(self, query: Query) -> bytes:
        """The JSON answer to a checked query; raises ConfigError or SQLAlchemyError when the store cannot
        answer."""
        snapshot = await self.current()
        body = self.cache.get(query)
        if body is None:
            self.counters.miss()
            body = snapshot.search(query)
            self.cache.put(query, body)
        else:
            self.counters.hit()
        return body

    async def product(self, ploomes_id: int) -> bytes | None:
        return (await self.current()).product(ploomes_id)

    async def categories(self) -> bytes:
        return (await self.current()).categories_body

    async def current(self) -> Snapshot:
        """The copy, re-read first when the version check is due and finds it moved."""
        if self._pending is not None:
            self._adopt()
        if self._snapshot is None or self._clock() - self._checked_at >= self._check_s:
            await self._refresh()
        assert self._snapshot is not None
        return self._snapshot

    def _use(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self.cache.clear()
        self.counters.reload()

    def _adopt(self) -> None:
        """The copy a background read left, unless a newer one was read meanwhile."""
        pending, self._pending = self._pending, None
        if pending is not None and (self._snapshot is None or pending.loaded_at >= self._snapshot.loaded_at):
            self._use(pending)

    def _read_in_background(self, engine: Engine, started: float) -> None:
        def read() -> None:
            try:
                self._pending = load_snapshot(engine, now=started)
            except Exception as exc:  # the next check tries again, and a request waits for it if it must
                log.warning("products: reading the table again failed: %s", one_line(exc))
            finally:
                self._reading = False

        self._reading = True
        threading.Thread(target=read, name="products-copy", daemon=True).start()

    def _connect(self) -> Engine:
        self._engine = get_engine(self._settings_loader().database_url)
        return self._engine

    def _refresh_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:  # a test client may run requests in new loops
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    async def _refresh(self) -> None:
        async with self._refresh_lock():  # one check at a time; requests arriving meanwhile wait for it
            started = self._clock()
            if self._snapshot is not None and started - self._checked_at < self._check_s:
                return
            engine = self._engine or self._connect()
            current = self._snapshot
            if current is None or await run_in_threadpool(data_version, engine) != current.version:
                self._use(await run_in_threadpool(load_snapshot, engine, now=started))
            elif started - current.loaded_at >= MAX_AGE_S and not self._reading:
                self._read_in_background(engine, started)  # the version did not move: no request waits
            self._checked_at = started
