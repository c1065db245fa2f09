"""The steps of one ``ingram-catalogue`` run (sync_core.engine.job.Job).

A run prices the tracked part numbers (or, as ``retry``, those whose failures are due) in batches of at most
50, ``max_concurrent`` price-and-availability calls at once, writing each batch's rows as they come (with the
details the table holds); then it fetches the details of the parts that are new or older than
INGRAM_DETAILS_MAX_AGE_DAYS, a page of ``batch_size`` parts at a time, ``max_concurrent`` calls at once, and
writes those parts' rows with their new details (each part is in one page only, so it is counted and
written once).
Each endpoint is paced at its own rate (INGRAM_PNA_RATE_PER_MIN, INGRAM_DETAILS_RATE_PER_MIN), shared by
every worker when Prefect's limits are on. Unknown part numbers (a 207's "E" items, a details 404) are
per-item failures with the provider's message, replayed by ``retry-failures``.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from sync_core.connectors.ingram import IngramCatalog
from sync_core.connectors.ingram_wire import PartDetails, PartError, PricedPart
from sync_core.db import in_chunks, session_scope
from sync_core.engine.failures import NewFailure, due_failures, mark_exhausted
from sync_core.engine.job import CHECK_REUSE_S, Mapped, RunContext, Start, SyncCounts
from sync_core.engine.pool import thread_pool
from sync_core.engine.replay import REPLAY_BATCH
from sync_core.engine.runs import aware
from sync_core.engine.snapshots import Snapshot
from sync_core.engine.spec import SOURCE
from sync_core.models import PageRequest, RejectedRecord, SourcePage
from sync_core.pipelines.ingram.mapping import PartRecord, details_stale, details_value, part_write
from sync_core.pipelines.ingram.tables import IngramProduct
from sync_core.pipelines.ingram.target import DETAILS_CONTEXT, IngramTable
from sync_core.pipelines.ingram.tracking import tracked_numbers
from sync_core.tables import utcnow

# What a part's source snapshot keeps of Ingram Micro's answer (`catalog-sync explain`).
SNAPSHOT = ("customer_price", "retail_price", "map_price", "currency", "total_availability", "status_code")
PNA_CONTEXT = "pna"  # the failure context of a part the price-and-availability call did not know
MAX_BATCH = 50  # part numbers a price-and-availability call may carry (the contract)
REASONS = {
    "E": "unknown-part",
    "missing": "missing-from-answer",
    "unreadable": "unreadable",
    "not-found": "unknown-part",
}


def shard_of(parts: Sequence[str], shard: int, shards: int) -> list[str]:
    """Shard ``shard`` (1-based) of ``shards``: every shards-th part, so the shards are the same size."""
    return list(parts[shard - 1 :: shards])


class IngramJob:
    """The steps of one run (see the module docstring). Parameters (``ctx.params``): ``batch_size`` (≤ 50),
    ``max_concurrent``, ``details`` (fetch details at all), ``shard``/``shards`` (this run's share of the
    tracked parts), ``limit`` (the most parts a retry run re-asks).

    Pages are numbered on from the price-and-availability batches (1..k) to the details pages (k+1..), each
    of ``batch_size`` parts; a details page's ``token`` is "details"."""

    map_context = PNA_CONTEXT
    journal_noun = None

    def __init__(self, ctx: RunContext, *, now: datetime | None = None) -> None:
        self.ctx = ctx
        params = ctx.params
        self.batch_size = int(params.get("batch_size") or MAX_BATCH)
        self.max_concurrent = int(params.get("max_concurrent") or 5)
        self.with_details = bool(params.get("details", True))
        self.shard, self.shards = int(params.get("shard") or 1), int(params.get("shards") or 1)
        self.limit = int(params.get("limit") or REPLAY_BATCH * 10)
        self._now = now
        self.target = IngramTable(ctx.settings.database_url)
        self.parts: list[str] = []
        self.strategy = "full"
        self.retry_details: set[str] = set()  # parts a retry run asks details of whatever their age
        self.wanting: dict[str, PricedPart] = {}  # priced parts whose details are to be fetched, in order
        self.expected_details = 0  # the details pages' parts, as estimated at the start
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def connector(self) -> IngramCatalog:
        connector: IngramCatalog = self.ctx.connector(SOURCE)
        return connector

    def now(self) -> datetime:
        return self._now or utcnow()

    def start(self, strategy: str) -> Start:
        """Check the connection (a token), then list the parts this run prices."""
        self.strategy = strategy
        self.connector.check(reuse_s=CHECK_REUSE_S)
        url = self.ctx.settings.database_url
        if strategy == "retry":
            due = due_failures(
                url, pipeline=self.ctx.key, contexts=(PNA_CONTEXT, DETAILS_CONTEXT), limit=self.limit
            )
            self.retry_details = {f.item_key for f in due if f.context == DETAILS_CONTEXT}
            tracked = set(tracked_numbers(url))
            parts = sorted({f.item_key for f in due} & tracked)
        else:
            parts = tracked_numbers(url)
        self.parts = shard_of(parts, self.shard, self.shards)
        if self.with_details:
            stored = self._stored_details(self.parts)
            self.expected_details = sum(self._wants_details(part, stored) for part in self.parts)
        with self._lock:
            self.stats.update(parts=len(self.parts), batches_total=self._pna_pages)
        return Start(PageRequest(number=1, size=self.batch_size) if self.parts else None)

    @property
    def _pna_pages(self) -> int:
        return math.ceil(len(self.parts) / self.batch_size)

    def _total(self) -> int:
        """The items of every page, for the runner's count of pages: parts to price, then to detail."""
        details = (
            len(self.wanting) if self.stats["batches_done"] >= self._pna_pages else self.expected_details
        )
        return len(self.parts) + math.ceil(details / self.batch_size) * self.batch_size

    def fetch(self, request: PageRequest) -> list[SourcePage]:
        """``max_concurrent`` price-and-availability batches at once, or (token "details") one page of
        details, ``max_concurrent`` calls at once."""
        if request.token == DETAILS_CONTEXT:
            return [self._details_page(request)]
        size, total = request.size, len(self.parts)
        numbers = [
            n for n in range(request.number, request.number + self.max_concurrent) if (n - 1) * size < total
        ]
        batches = [self.parts[(n - 1) * size : n * size] for n in numbers]
        with thread_pool(self.max_concurrent) as pool:
            answers = list(pool.map(self.connector.price_and_availability, batches))
        priced = [p for found, _ in answers for p in found]
        stored = self._stored_details([p.part for p in priced])
        with self._lock:
            self.stats.update(
                batches_done=len(numbers),
                pna_calls=len(numbers),
                priced=len(priced),
                unknown=sum(len(errors) for _, errors in answers),
            )
        if self.with_details:
            self.wanting.update((p.part, p) for p in priced if self._wants_details(p.part, stored))
        pages = []
        for n, (found, errors) in zip(numbers, answers, strict=True):
            # A part whose details are due is written once, with them, by its details page.
            records = [
                PartRecord(p, *stored.get(p.part, (None, None))) for p in found if p.part not in self.wanting
            ]
            pages.append(
                SourcePage(
                    PageRequest(number=n, size=size), records, [self._rejected(e) for e in errors], None
                )
            )
        last = numbers[-1]
        following = PageRequest(number=last + 1, size=size) if last * size < total else None
        if following is None and self.wanting:
            following = PageRequest(number=last + 1, size=size, token=DETAILS_CONTEXT)
        pages[-1] = SourcePage(
            pages[-1].request, pages[-1].records, pages[-1].rejects, following, self._total()
        )
        return pages

    def _details_page(self, request: PageRequest) -> SourcePage:
        """The details of the next ``request.size`` parts that want them."""
        first = (request.number - self._pna_pages - 1) * request.size
        wanted = list(self.wanting.values())[first : first + request.size]
        with thread_pool(self.max_concurrent) as pool:
            answers = list(pool.map(lambda p: self.connector.details(p.part), wanted))
        stamp = self.now()
        stored = self._stored_details([p.part for p in wanted])
        records = []
        for p, answer in zip(wanted, answers, strict=True):
            if isinstance(answer, PartDetails):
                records.append(PartRecord(p, details_value(answer), stamp, details_fresh=True))
            else:
                records.append(PartRecord(p, *stored.get(p.part, (None, None)), details_error=answer))
        self.target.details_fetched({r.priced.part: stamp for r in records if r.details_fresh})
        with self._lock:
            self.stats.update(
                details_calls=len(wanted), details=sum(r.details_fresh for r in records), details_pages=1
            )
        more = first + request.size < len(self.wanting)
        following = (
            PageRequest(number=request.number + 1, size=request.size, token=DETAILS_CONTEXT) if more else None
        )
        return SourcePage(request, records, [], following, self._total())

    def _wants_details(
        self, part: str, stored: dict[str, tuple[dict[str, Any] | None, datetime | None]]
    ) -> bool:
        _, fetched_at = stored.get(part, (None, None))
        max_age = self.ctx.settings.ingram_details_max_age_days
        return part in self.retry_details or details_stale(fetched_at, now=self.now(), max_age_days=max_age)

    def _stored_details(self, parts: list[str]) -> dict[str, tuple[dict[str, Any] | None, datetime | None]]:
        """part → (details, details_fetched_at) as the table holds them."""
        key = col(IngramProduct.ingram_part_number)
        found: dict[str, tuple[dict[str, Any] | None, datetime | None]] = {}
        with session_scope(self.ctx.settings.database_url) as session:
            for chunk in in_chunks(parts):
                query = sa.select(
                    key, col(IngramProduct.details), col(IngramProduct.details_fetched_at)
                ).where(key.in_(chunk))
                found.update({part: (details, aware(at)) for part, details, at in session.execute(query)})
        return found

    @staticmethod
    def _rejected(error: PartError) -> RejectedRecord:
        reason = REASONS.get(error.code, error.code)
        return RejectedRecord(error.part, reason, error.message, {"part": error.part}, "IngramItemError")

    def prepare(self, pages: Sequence[SourcePage], *, dry_run: bool) -> None:
        return None

    def map(self, pages: Sequence[SourcePage], prepared: None) -> Mapped:
        records: list[PartRecord] = [r for page in pages for r in page.records]
        failures = [
            NewFailure(
                DETAILS_CONTEXT,
                e.part,
                "IngramItemError",
                REASONS.get(e.code, e.code),
                e.message,
                {"part": e.part},
            )
            for r in records
            if (e := r.details_error) is not None
        ]
        mapped = Mapped(
            desired=[part_write(r) for r in records],
            failures=failures,
            clean=[r.priced.part for r in records],
            mapped=len(records),
        )
        mapped.reasons.update(f"details:{f.reason}" for f in failures)
        return mapped

    def snapshots(self, pages: Sequence[SourcePage], mapped: Mapped) -> list[Snapshot]:
        """Each part priced, as Ingram Micro answered (sync_core.engine.snapshots)."""
        return [(r.priced.part, _snapshot(r), [r.priced.part]) for page in pages for r in page.records]

    def progress_notes(self) -> dict[str, Any]:
        """What `catalog-sync monitor` shows beside the pages: batches fetched of all (price and availability,
        then details), parts priced, details, requests, 429s and the time spent waiting on the rate limit."""
        connector = self.ctx.connector(SOURCE)
        with self._lock:
            notes: dict[str, Any] = dict(self.stats)
        notes["batches_done"] = notes.get("batches_done", 0) + notes.pop("details_pages", 0)
        notes["batches_total"] = math.ceil(self._total() / self.batch_size)
        notes["requests"] = notes.get("pna_calls", 0) + notes.get("details_calls", 0)
        notes["throttled"] = connector.throttled
        notes["rate_wait_s"] = round(connector.waited_s, 1)
        return notes

    def summary(self, total: SyncCounts) -> dict[str, Any]:
        if self.strategy == "retry":  # a part that failed its last allowed attempt is not asked again
            self.stats["dead"] = mark_exhausted(
                self.ctx.settings.database_url,
                pipeline=self.ctx.key,
                contexts=(PNA_CONTEXT, DETAILS_CONTEXT),
                max_attempts=self.ctx.settings.failure_max_attempts,
            )
        notes = self.progress_notes()
        return {
            name: notes.get(name, 0)
            for name in (
                "parts",
                "batches_done",
                "priced",
                "details",
                "unknown",
                "pna_calls",
                "details_calls",
                "throttled",
                "rate_wait_s",
                "dead",
            )
        } | {"inserted": total.inserted, "updated": total.pushed - total.inserted}

    def close(self) -> None:
        return None


def _snapshot(record: PartRecord) -> dict[str, Any]:
    """A part's price and availability, and what became of its details this run."""
    fate = "fetched" if record.details_fresh else "as stored"
    if record.details_error is not None:
        fate = f"failed: {record.details_error.code}"
    return {**{name: getattr(record.priced, name) for name in SNAPSHOT}, "details": fate}
