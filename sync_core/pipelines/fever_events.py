"""fever-events: the Fever XML events feed into the events table behind `/search` (`catalog-sync sync events`).

The feed is downloaded once (spooled, not held in memory) and parsed as a stream; each batch of 500 plans (or
fewer, once they hold BATCH_ZONES zones) goes through the engine into the table target, which writes only
events whose content changed. Bad plans are quarantined in ``failures`` (context ``parse``) with the
mapping's reason, or with ``refused-by-database`` and the database's reason for a plan the table would not
hold. Events that leave the feed stay.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from sync_core.connectors.fever import FeverFeed, refuse_credentials
from sync_core.engine.batch import sync_batch
from sync_core.engine.explain import Explaining
from sync_core.engine.failures import NewFailure
from sync_core.engine.job import CHECK_REUSE_S, Mapped, RunContext, Start, SyncCounts
from sync_core.engine.snapshots import Snapshot
from sync_core.engine.spec import SOURCE, Pipeline
from sync_core.mapping.fever_events import PLAUSIBLE_PRICE_MAX, FeedEvent, RejectedPlan, parse_feed
from sync_core.models import FailedWrite, PageRequest, RejectedRecord, SourcePage, Write
from sync_core.settings import Settings, load_settings
from sync_core.tables import Event, utcnow
from sync_core.targets.table import TableTarget

NAME = "fever-events"
EVENTS_PIPELINE = NAME
PARSE_CONTEXT = "parse"
BATCH_SIZE = 500
# A batch also ends once its events hold this many zones: 500 plans of up to 5,000 zones each
# (fever_events.MAX_ZONES_PER_PLAN) would otherwise be over a gigabyte in memory.
BATCH_ZONES = 20_000
# Ids are uuid5 of the identity in this namespace: the same event keeps its id across syncs and databases.
EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://catalog-sync/events/fever")
CONTENT = (
    "base_plan_id",
    "plan_id",
    "title",
    "organizer_company_id",
    "starts_at",
    "ends_at",
    "sell_from",
    "sell_to",
    "sold_out",
    "min_price",
    "max_price",
    "zones",
)


def event_id(base_plan_id: str, plan_id: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"{base_plan_id}/{plan_id}")


def event_write(event: FeedEvent) -> Write:
    """The table row an event is (its content; the table target adds the times)."""
    value = {name: getattr(event, name) for name in CONTENT}
    value["zones"] = list(event.zones)
    return Write("event", str(event_id(*event.key)), event.item_key, value, digest=event.fingerprint)


def _rejected(plan: RejectedPlan) -> RejectedRecord:
    return RejectedRecord(plan.item_key, plan.reason, plan.message, plan.attributes, "InvalidRecord")


class EventsTable(TableTarget):
    """The events table as the run's target; a refused plan's failure names the plan."""

    def failure(self, failed: FailedWrite) -> NewFailure:
        row = super().failure(failed)
        value = failed.write.value
        plan = f"plan {value['plan_id']} of base plan {value['base_plan_id']}"
        payload = {
            k: row.payload.get(k)
            for k in ("base_plan_id", "plan_id", "title", "organizer_company_id", "min_price", "max_price")
        }
        return replace(row, message=f"{plan}: the database refused it: {row.message}", payload=payload)


def check_params(params: dict[str, Any]) -> None:
    """A feed URL given for one run: ConfigError (one line) when it carries credentials."""
    url = params.get("url")
    if url:
        refuse_credentials(url, "--url")


class FeedJob:
    """The steps of one run (sync_core.engine.job.Job)."""

    map_context = PARSE_CONTEXT
    journal_noun = None

    def __init__(
        self,
        ctx: RunContext,
        *,
        batch_size: int = BATCH_SIZE,
        batch_zones: int = BATCH_ZONES,
        now: datetime | None = None,
        stream: IO[bytes] | None = None,
    ) -> None:
        self.ctx, self.batch_size, self.batch_zones, self.stream = ctx, batch_size, batch_zones, stream
        self.target = EventsTable(
            ctx.settings.database_url,
            Event,
            content=CONTENT,
            kind="event",
            refused_context=PARSE_CONTEXT,
            now=(lambda: now) if now is not None else utcnow,
        )
        self.stats: Counter[str] = Counter()
        self._items: Iterator[FeedEvent | RejectedPlan] = iter(())
        self._next: FeedEvent | RejectedPlan | None = None
        self._offline_counted = 0
        self._open = ExitStack()

    def start(self, strategy: str) -> Start:
        """Check the feed answers, download the whole of it (spooled), and start parsing it."""
        if self.stream is None:
            feed = self.ctx.connector(SOURCE)
            feed.check(reuse_s=CHECK_REUSE_S)
            self.stream = self._open.enter_context(feed.fetch())
        self._items = parse_feed(self.stream, self.stats, max_price=self.ctx.settings.plausible_price_max)
        self._next = next(self._items, None)
        return Start(PageRequest(number=1, size=self.batch_size) if self._next is not None else None)

    def fetch(self, request: PageRequest) -> list[SourcePage]:
        """The next batch of plans of the feed being parsed (the request only numbers it)."""
        events: list[FeedEvent] = []
        rejects: list[RejectedRecord] = []
        zones = 0
        while (
            self._next is not None
            and len(events) + len(rejects) < self.batch_size
            and zones < self.batch_zones
        ):
            item, self._next = self._next, next(self._items, None)
            if isinstance(item, FeedEvent):
                events.append(item)
                zones += len(item.zones)
            else:
                rejects.append(_rejected(item))
        following = PageRequest(number=request.number + 1, size=request.size) if self._next else None
        return [SourcePage(request, events, rejects, following)]

    def prepare(self, pages: Sequence[SourcePage], *, dry_run: bool) -> None:
        return None

    def map(self, pages: Sequence[SourcePage], prepared: None) -> Mapped:
        events: list[FeedEvent] = [e for page in pages for e in page.records]
        offline, self._offline_counted = self.stats["offline"] - self._offline_counted, self.stats["offline"]
        return Mapped(
            desired=[event_write(e) for e in events],
            clean=[e.item_key for e in events],
            mapped=len(events),
            skipped_unread=offline,
        )

    def snapshots(self, pages: Sequence[SourcePage], mapped: Mapped) -> list[Snapshot]:
        """Each plan read, its zones counted, and the event row it is (sync_core.engine.snapshots)."""
        shown = ("title", "starts_at", "ends_at", "sold_out", "min_price", "max_price")
        return [
            (
                e.item_key,
                {**{n: getattr(e, n) for n in shown}, "zones": len(e.zones)},
                [str(event_id(*e.key))],
            )
            for page in pages
            for e in page.records
        ]

    def summary(self, total: SyncCounts) -> dict[str, Any]:
        self.close()
        return {"inserted": total.inserted, "updated": total.pushed - total.inserted}

    def close(self) -> None:
        self._open.close()


@dataclass(frozen=True)
class StoredCounts:
    inserted: int
    updated: int
    unchanged: int


@dataclass
class FeedResult:
    """What ``store_feed`` did."""

    counts: SyncCounts = field(default_factory=SyncCounts)
    plans: int = 0
    offline: int = 0

    @property
    def events(self) -> int:
        return self.counts.mapped - sum(
            n for r, n in self.counts.reasons.items() if r.endswith("refused-by-database")
        )

    @property
    def stored(self) -> StoredCounts:
        inserted = self.counts.inserted
        return StoredCounts(inserted, self.counts.pushed - inserted, self.counts.unchanged)

    @property
    def reasons(self) -> dict[str, int]:
        return {r.split(":", 1)[1]: n for r, n in self.counts.reasons.items()}

    @property
    def quarantined(self) -> int:
        return sum(self.counts.reasons.values())


def store_feed(
    url: str,
    stream: IO[bytes],
    *,
    retry_base_s: int,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    batch_zones: int = BATCH_ZONES,
    max_price: Decimal = PLAUSIBLE_PRICE_MAX,
) -> FeedResult:
    """Store a feed document through the engine, outside any run (tests, the memory benchmark). Each batch
    commits on its own, so a document that breaks half-way keeps what was read before the break."""
    settings = load_settings(
        database_url=url, failure_retry_base_s=retry_base_s, plausible_price_max=max_price
    )

    def no_connector(role: str) -> Any:
        raise LookupError("store_feed reads the stream it is given")

    ctx = RunContext(settings, PIPELINE, NAME, None, {}, no_connector)
    job = FeedJob(ctx, batch_size=batch_size, batch_zones=batch_zones, now=now, stream=stream)
    result = FeedResult()
    try:
        request = job.start("feed").first
        while request is not None:
            pages = job.fetch(request)
            result.counts.add(sync_batch(ctx, job, pages))
            request = pages[-1].next
    finally:
        result.plans, result.offline = job.stats["plans"], job.stats["offline"]
    return result


def explain(settings: Settings) -> Explaining:
    """How a plan becomes its row, for `catalog-sync explain`."""
    return Explaining(
        rule={
            "kept": 'plans of base plans with sell_mode="online"; an event is one plan, its id derived from '
            "(base_plan_id, plan_id)",
            "prices": "min_price and max_price: the lowest and highest price of the plan's zones",
            "quarantine": "an invalid date, an end before its start, a missing attribute or a price above "
            f"PLAUSIBLE_PRICE_MAX ({settings.plausible_price_max}): never stored",
            "written": "only when the event's content changed; events that leave the feed stay",
        },
        table=Event,
        key="id",
    )


PIPELINE = Pipeline(
    name=NAME,
    title="the Fever events feed into the events table behind /search",
    connectors={SOURCE: FeverFeed},
    strategies=("feed",),
    job=FeedJob,
    command="events",
    flow="sync-events",
    deployments={"feed": "sync-events/fever-hourly"},
    param_settings={"url": "fever_provider_url"},
    check_params=check_params,
    explain=explain,
)
