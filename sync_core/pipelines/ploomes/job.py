"""The steps of one ``ploomes-products`` run (sync_core.engine.job.Job), by strategy:

- ``real-time``: the given ids (at most 10), one call each; an id Ploomes no longer has becomes inactive.
- ``incremental``: products whose LastUpdateDate is at or after the watermark minus PLOOMES_OVERLAP_S, read in
  LastUpdateDate order by keyset (so a product that changes while the run reads moves ahead and is read
  again, never skipped), deduped by id.
- ``batch``: every product, in id order by keyset; then the active products this complete read did not find
  become inactive (never deleted).
- ``auto`` (the flow resolves it first, see ``choose_strategy``): real-time with ids, incremental when the
  last successful sync is younger than INCREMENTAL_SYNC_HOURS, batch otherwise.

``category`` (a group's name) limits incremental and batch reads to that group. The watermark (the cursor
``updated``) moves to the time a complete incremental or batch read started, when the run succeeds.
Products a webhook reported deleted (``deleted``) become inactive.
"""

from __future__ import annotations

import difflib
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sync_core.connectors.ploomes import Keyset, PloomesCatalog
from sync_core.connectors.ploomes_wire import BadRecord, ProductRecord
from sync_core.engine.job import CHECK_REUSE_S, Mapped, RunContext, Start, SyncCounts
from sync_core.engine.runs import aware, get_cursor, last_finished_run, since_watermark
from sync_core.engine.snapshots import Snapshot
from sync_core.engine.spec import SOURCE
from sync_core.errors import ConfigError
from sync_core.models import PageRequest, RejectedRecord, SourcePage
from sync_core.pipelines.ploomes.mapping import product_write
from sync_core.pipelines.ploomes.rules import load_rules
from sync_core.pipelines.ploomes.target import ProductsTable
from sync_core.tables import utcnow

MAP_CONTEXT = "map"
CURSOR = "updated"  # the watermark: when the last complete read started (ISO 8601, aware)
MAX_REAL_TIME_IDS = 10
PAGE_SIZE = 300  # products a page asks for (the server serves at most 300)
STRATEGIES = ("auto", "real-time", "incremental", "batch")
IDS_TOKEN = "ids"
LISTS_MAX_AGE_S = 300.0  # groups and families a real-time run takes from this process's last read


def choose_strategy(settings: Any, key: str, *, ids: Sequence[int] | None) -> tuple[str, str]:
    """What ``auto`` runs, and why (one line)."""
    if ids and len(ids) <= MAX_REAL_TIME_IDS:
        return "real-time", f"{len(ids)} id(s) given"
    hours = settings.incremental_sync_hours
    url = settings.database_url
    finished = [
        at
        for scope in ("incremental", "batch")
        if (run := last_finished_run(url, pipeline=key, scope=scope)) is not None
        and (at := aware(run.finished_at)) is not None
    ]
    newest = max(finished, default=None)
    watermark = get_cursor(url, pipeline=key, key=CURSOR)
    if newest is not None and watermark and utcnow() - newest < timedelta(hours=hours):
        age = (utcnow() - newest).total_seconds() / 3600
        return (
            "incremental",
            f"the last successful sync ended {age:.1f} h ago (< INCREMENTAL_SYNC_HOURS={hours:g})",
        )
    return "batch", (
        "no successful sync yet" if newest is None else f"the last successful sync is over {hours:g} h old"
    )


def check_params(params: dict[str, Any]) -> None:
    """Ids are whole numbers, at most 10 for real-time and only with it (or auto); not with a category."""
    ids, category, strategy = params.get("ids") or [], params.get("category"), params.get("strategy")
    if any(not isinstance(i, int) or isinstance(i, bool) or i < 1 for i in ids):
        raise ConfigError(f"ids must be positive whole numbers (Ploomes product ids), not {ids!r}")
    if ids and category:
        raise ConfigError("give ids or a category, not both")
    if strategy == "real-time" and not ids and not params.get("deleted"):
        raise ConfigError("real-time syncs the products of the ids given (--ids 1,2,3): give at least one")
    if strategy == "real-time" and len(ids) > MAX_REAL_TIME_IDS:
        raise ConfigError(
            f"real-time takes at most {MAX_REAL_TIME_IDS} ids, not {len(ids)}; use incremental or auto"
        )
    if strategy in ("incremental", "batch") and ids:
        raise ConfigError(f"{strategy} reads by date or in full, not by id: give ids with real-time or auto")


def group_of(category: str, groups: dict[int, str]) -> int:
    """The id of the group named ``category`` (any case); ConfigError naming the known ones."""
    by_name = {name.casefold(): gid for gid, name in groups.items()}
    if category.casefold() in by_name:
        return by_name[category.casefold()]
    names = sorted(groups.values())
    close = difflib.get_close_matches(category, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(
        f"Ploomes has no product group (category) {category!r}{hint}; its groups: {', '.join(names[:20])}"
    )


def preflight(connectors: dict[str, Any], params: dict[str, Any]) -> None:
    """Before a run from the command line: a category Ploomes does not have is refused (the groups were read
    by the connection's check)."""
    if params.get("category"):
        group_of(params["category"], {g.id: g.name for g in connectors[SOURCE].groups()})


class PloomesJob:
    """The steps of one run (see the module docstring). Parameters (``ctx.params``): ``ids``, ``category``,
    ``deleted`` (ids a webhook reported deleted)."""

    map_context = MAP_CONTEXT
    journal_noun = None

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        params = ctx.params
        self.ids = [int(i) for i in params.get("ids") or []]
        self.deleted = [int(i) for i in params.get("deleted") or []]
        self.category: str | None = params.get("category") or None
        self.rules = load_rules(ctx.settings.ploomes_rules_file)
        self.target = ProductsTable(ctx.settings.database_url)
        self.strategy = "batch"
        self.group_id: int | None = None
        self.groups: dict[int, str] = {}
        self.families: dict[int, str] = {}
        self.started_at = utcnow()
        self.bad_ids: set[int] = set()
        self.gone: list[int] = []  # ids Ploomes no longer has (real-time)
        self.dry_run = bool(params.get("dry_run"))  # the flow says so; prepare() too, for other callers
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def connector(self) -> PloomesCatalog:
        connector: PloomesCatalog = self.ctx.connector(SOURCE)
        return connector

    def start(self, strategy: str) -> Start:
        """Check the connection, read the groups and families, and pick the first page of the strategy."""
        if strategy == "auto":
            strategy, _ = choose_strategy(self.ctx.settings, self.ctx.key, ids=self.ids)
        self.strategy = strategy
        self.started_at = utcnow()
        # A real-time run (the webhook drain's, seconds apart) takes the lists this process read lately; a
        # product naming a group or family they lack has them read again (``_page``).
        fresh_s = LISTS_MAX_AGE_S if strategy == "real-time" else CHECK_REUSE_S
        self.connector.check(reuse_s=fresh_s)
        self.groups = {g.id: g.name for g in self.connector.groups(max_age_s=fresh_s)}
        self.families = {
            f.id: f.name for f in self.connector.families(max_age_s=fresh_s if strategy == "real-time" else 0)
        }
        if self.category is not None:
            self.group_id = group_of(self.category, self.groups)
        if strategy == "real-time":
            return Start(PageRequest(number=1, size=len(self.ids), token=IDS_TOKEN))
        if strategy == "incremental":
            since = self._since()
            keyset = Keyset("updated", since=since) if since is not None else Keyset("id")
        else:
            keyset = Keyset("id")
        complete = self.group_id is None
        cursor = (CURSOR, self.started_at.isoformat()) if complete else None
        return Start(PageRequest(number=1, size=PAGE_SIZE, token=keyset.to_token()), cursor=cursor)

    def _since(self) -> datetime | None:
        """The watermark minus the overlap; None before the first complete read."""
        settings = self.ctx.settings
        return since_watermark(
            settings.database_url, pipeline=self.ctx.key, key=CURSOR, overlap_s=settings.ploomes_overlap_s
        )

    def fetch(self, request: PageRequest) -> list[SourcePage]:
        """One page: the ids (real-time), or the next keyset page."""
        if request.token == IDS_TOKEN:
            found = self.connector.products_by_id(self.ids)
            self.gone = [i for i, record in found.items() if record is None]
            records = [r for r in found.values() if isinstance(r, ProductRecord)]
            bad = [r for r in found.values() if isinstance(r, BadRecord)]
            return [self._page(request, records, bad, None)]
        assert request.token is not None
        page = self.connector.product_page(
            Keyset.from_token(request.token), group_id=self.group_id, page_size=request.size
        )
        following = (
            PageRequest(number=request.number + 1, size=request.size, token=page.next.to_token())
            if page.next is not None
            else None
        )
        return [self._page(request, page.products, page.bad, following)]

    def _page(
        self,
        request: PageRequest,
        records: list[ProductRecord],
        bad: list[BadRecord],
        following: PageRequest | None,
    ) -> SourcePage:
        """Refresh the groups once when a product names one the run has not seen (created meanwhile)."""
        if any(
            (r.group_id is not None and r.group_id not in self.groups)
            or (r.family_id is not None and r.family_id not in self.families)
            for r in records
        ):
            self.groups.update({g.id: g.name for g in self.connector.groups()})
            self.families.update({f.id: f.name for f in self.connector.families()})
        with self._lock:
            self.bad_ids.update(b.id for b in bad if b.id is not None)
            self.stats.update(pages=1, read=len(records), unreadable=len(bad))
        rejects = [
            RejectedRecord(
                str(b.id) if b.id is not None else None,
                b.reason,
                b.message,
                {"id": b.id},
                "PloomesRecordError",
            )
            for b in bad
        ]
        return SourcePage(request, records, rejects, following)

    def prepare(self, pages: Sequence[SourcePage], *, dry_run: bool) -> None:
        self.dry_run = self.dry_run or dry_run
        return None

    def map(self, pages: Sequence[SourcePage], prepared: None) -> Mapped:
        records: list[ProductRecord] = [r for page in pages for r in page.records]
        writes = [
            product_write(r, groups=self.groups, families=self.families, rules=self.rules) for r in records
        ]
        return Mapped(desired=writes, clean=[w.source_key for w in writes], mapped=len(writes))

    def snapshots(self, pages: Sequence[SourcePage], mapped: Mapped) -> list[Snapshot]:
        """Each product read: what the rules classify it by, and its price (sync_core.engine.snapshots)."""
        shown = ("name", "code", "group_id", "family_id", "currency_id", "unit_price", "updated_at")
        records: list[ProductRecord] = [r for page in pages for r in page.records]
        return [(str(r.id), {n: getattr(r, n) for n in shown}, [str(r.id)]) for r in records]

    def progress_notes(self) -> dict[str, Any]:
        """What `catalog-sync monitor` shows beside the pages: products read, unreadable, requests, 429s."""
        connector = self.ctx.connector(SOURCE)
        with self._lock:
            notes: dict[str, Any] = dict(self.stats)
        notes["strategy"] = self.strategy
        notes["throttled"] = connector.http.throttled
        notes["rate_wait_s"] = round(connector.http.waited_s, 1)
        return notes

    def summary(self, total: SyncCounts) -> dict[str, Any]:
        """After the last page: ids Ploomes no longer has, those a webhook deleted and (after a complete
        batch read) those it did not find, made inactive."""
        deactivated = 0
        if not self.dry_run:
            gone = [*self.gone, *self.deleted]
            if gone:
                deactivated += self.target.deactivate(ids=gone)
            if self.strategy == "batch":
                deactivated += self.target.deactivate(
                    unseen_since=self.started_at, group_id=self.group_id, keep=self.bad_ids
                )
        return {
            "strategy": self.strategy,
            "category": self.category,
            "read": self.stats["read"],
            "inserted": total.inserted,
            "updated": total.pushed - total.inserted,
            "deactivated": deactivated,
        }

    def close(self) -> None:
        return None
