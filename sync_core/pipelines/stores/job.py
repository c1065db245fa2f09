"""The steps of one ``store-inventory`` run: one store integration (the run's source connection) read into
``inventory_items`` (sync_core.engine.job.Job).

- ``full``: every item of the store; then the items this complete read did not find are marked removed.
- ``incremental``: the items changed since the watermark minus STORES_OVERLAP_S (overlapping windows; the
  reader dedupes within a read). Shopify's reader also reads stock changed per location, which does not
  always move a variant's ``updatedAt``.
- ``auto`` (resolved before the run opens, see :func:`choose_strategy`): full for a store never read in full,
  for a platform without modification times (Sazito), for WooCommerce when its last full read is older than
  WOO_FULL_READ_MINUTES (orders change stock without moving ``date_modified``), and for any store whose
  last full read is older than INCREMENTAL_SYNC_HOURS; incremental otherwise.

The watermark (cursor ``updated``) moves to the time a read started when the run succeeds.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sync_core.connectors.store_items import ItemPage, StoreItem, StoreReader
from sync_core.engine.failures import open_failure_count, resolve_older
from sync_core.engine.job import CHECK_REUSE_S, Mapped, RunContext, Start, SyncCounts
from sync_core.engine.runs import aware, get_cursor, last_finished_run, since_watermark
from sync_core.engine.snapshots import Snapshot
from sync_core.engine.spec import SOURCE
from sync_core.models import PageRequest, RejectedRecord, SourcePage
from sync_core.pipelines.stores.mapping import item_key, item_write
from sync_core.pipelines.stores.target import InventoryTable
from sync_core.settings import Settings
from sync_core.tables import utcnow

STRATEGIES = ("auto", "full", "incremental")
CURSOR = "updated"  # when the last complete read started (ISO 8601, aware)
MAP_CONTEXT = "read"
# Platforms whose items carry no modification time: every read is a full one.
FULL_ONLY = frozenset({"sazito"})
FIRST = "first"  # the token of a read's first page (the reader's own tokens follow)


def choose_strategy(settings: Settings, key: str, platform: str) -> tuple[str, str]:
    """What ``auto`` runs for the store whose runs are keyed ``key``, and why (one line)."""
    if platform in FULL_ONLY:
        return "full", f"{platform} reports no modification times"
    url = settings.database_url
    last_full = last_finished_run(url, pipeline=key, scope="full")
    finished = aware(last_full.finished_at) if last_full is not None else None
    if finished is None or not get_cursor(url, pipeline=key, key=CURSOR):
        return "full", "no complete read yet"
    unread = open_failure_count(url, pipeline=key, context=MAP_CONTEXT)
    if unread:  # an incremental read would not ask for them again until they change
        return "full", f"{unread} item(s) could not be read last time: a full read takes them again"
    age = utcnow() - finished
    if platform == "woocommerce" and age >= timedelta(minutes=settings.woo_full_read_minutes):
        return "full", (
            f"the last full read is {age.total_seconds() / 60:.0f} min old (WOO_FULL_READ_MINUTES="
            f"{settings.woo_full_read_minutes:g}): orders change stock without a modification time"
        )
    if age >= timedelta(hours=settings.incremental_sync_hours):
        return (
            "full",
            f"the last full read is over INCREMENTAL_SYNC_HOURS={settings.incremental_sync_hours:g} h old",
        )
    return "incremental", f"the last full read ended {age.total_seconds() / 60:.0f} min ago"


class StoreJob:
    """The steps of one run of one store (see the module docstring)."""

    map_context = MAP_CONTEXT
    journal_noun = None

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.integration = ctx.connections[SOURCE].name
        self.platform = ctx.connections[SOURCE].provider
        self.target = InventoryTable(ctx.settings.database_url)
        self.strategy = "full"
        self.started_at = utcnow()
        self.since: datetime | None = None
        self.dry_run = bool(ctx.params.get("dry_run"))
        self.rejected: set[str] = set()
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def reader(self) -> StoreReader:
        reader: StoreReader = self.ctx.connector(SOURCE)
        return reader

    def start(self, strategy: str) -> Start:
        """Check the store, then the first page of a full read or of the changes since the watermark."""
        if strategy == "auto":
            strategy, _ = choose_strategy(self.ctx.settings, self.ctx.key, self.platform)
        if strategy == "incremental" and self.platform in FULL_ONLY:
            strategy = "full"
        self.started_at = utcnow()
        self.reader.check(reuse_s=CHECK_REUSE_S)
        if strategy == "incremental":
            self.since = self._since()
            if self.since is None:
                strategy = "full"  # nothing to be incremental from
        self.strategy = strategy
        return Start(PageRequest(number=1, token=FIRST), cursor=(CURSOR, self.started_at.isoformat()))

    def _since(self) -> datetime | None:
        settings = self.ctx.settings
        return since_watermark(
            settings.database_url, pipeline=self.ctx.key, key=CURSOR, overlap_s=settings.stores_overlap_s
        )

    def fetch(self, request: PageRequest) -> list[SourcePage]:
        token = None if request.token == FIRST else request.token
        page: ItemPage = self.reader.read_page(token, since=self.since)
        following = (
            PageRequest(number=request.number + 1, size=request.size, token=page.next)
            if page.next is not None
            else None
        )
        rejects = [
            RejectedRecord(r.key, "unreadable-item", r.reason, {"id": r.key}, "StoreItemError")
            for r in page.rejects
        ]
        with self._lock:
            self.rejected.update(item_key(self.integration, r.key) for r in page.rejects)
            self.stats.update(pages=1, read=len(page.items), unreadable=len(page.rejects))
        # No total: platforms count products (or nothing), not the items a read yields.
        return [SourcePage(request, page.items, rejects, following)]

    def prepare(self, pages: Sequence[SourcePage], *, dry_run: bool) -> None:
        self.dry_run = self.dry_run or dry_run
        return None

    def map(self, pages: Sequence[SourcePage], prepared: None) -> Mapped:
        items: list[StoreItem] = [item for page in pages for item in page.records]
        writes = [item_write(self.integration, item) for item in items]
        return Mapped(desired=writes, clean=[w.source_key for w in writes], mapped=len(writes))

    def snapshots(self, pages: Sequence[SourcePage], mapped: Mapped) -> list[Snapshot]:
        """Each item read, as the store gave it (sync_core.engine.snapshots)."""
        shown = ("sku", "price", "compare_at_price", "stock", "managed", "updated_at")
        items: list[StoreItem] = [item for page in pages for item in page.records]
        keys = [item_key(self.integration, item.variant_id) for item in items]
        return [(k, {n: getattr(i, n) for n in shown}, [k]) for k, i in zip(keys, items, strict=True)]

    def progress_notes(self) -> dict[str, Any]:
        """What `catalog-sync monitor` shows beside the pages."""
        with self._lock:
            notes: dict[str, Any] = dict(self.stats)
        notes["strategy"] = self.strategy
        notes["store"] = self.integration
        return notes

    def summary(self, total: SyncCounts) -> dict[str, Any]:
        """After the last page: a complete full read marks the items it did not find removed. The run's log
        entry: created, updated, unchanged, removed, failed."""
        removed = 0
        if not self.dry_run and self.strategy == "full":
            removed = self.target.mark_removed(
                self.integration, unseen_since=self.started_at, keep=self.rejected
            )
            # What the complete read did not meet again is over (its key may have been unreadable).
            url = self.ctx.settings.database_url
            resolve_older(url, pipeline=self.ctx.key, context=MAP_CONTEXT, before=self.started_at)
        return {
            "store": self.integration,
            "platform": self.platform,
            "strategy": self.strategy,
            "read": self.stats["read"],
            "created": total.inserted,
            "updated": total.pushed - total.inserted,
            "unchanged": total.unchanged,
            "removed": removed,
            "failed": total.failed,
        }

    def close(self) -> None:
        return None
