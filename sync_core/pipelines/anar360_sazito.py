"""anar360-sazito: an Anar360 supplier's prices and stock into a Sazito store (`catalog-sync sync products`).

Its own steps: the window of an incremental run, links (stored, then by title when SAZITO_MATCH_BY_TITLE),
creating unlinked products (CREATE_MISSING_PRODUCTS) and the mapping rules; the engine does the rest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sync_core.connectors.anar360 import Anar360, SupplierProduct
from sync_core.connectors.sazito import Sazito
from sync_core.db import refresh_statistics, session_scope
from sync_core.engine.drift import DriftCheck
from sync_core.engine.explain import Explaining
from sync_core.engine.failures import NewFailure
from sync_core.engine.guard import Guard
from sync_core.engine.job import CHECK_REUSE_S, Mapped, RunContext, Start, SyncCounts
from sync_core.engine.ledger import record_values
from sync_core.engine.links import Link, count_links, load_links, match_titles, save_links
from sync_core.engine.paging import fetch_numbered
from sync_core.engine.runs import get_cursor, set_cursor
from sync_core.engine.snapshots import Snapshot
from sync_core.engine.spec import SOURCE, TARGET, Pipeline
from sync_core.engine.target_catalogue import CataloguePair, record_catalogue_page
from sync_core.errors import MappingError, PermanentError
from sync_core.mapping.anar360_sazito import (
    Plausible,
    PriceRule,
    guarded_price,
    guarded_stock,
    new_product,
    snapshot_values,
    variant_snapshot,
    variant_writes,
)
from sync_core.mapping.titles import title_key
from sync_core.models import CatalogueItem, CataloguePage, PageRequest, SourcePage, Write
from sync_core.settings import Settings
from sync_core.targets.remote import RemoteTarget

CURSOR_KEY = "products.window_start_ms"
CATALOGUE_CURSOR_KEY = "catalogue.read_at_ms"
CATALOGUE_PAGES_PER_TASK = 20
PUSH_CONTEXTS = ("push:price", "push:stock")


def now_ms() -> int:
    return int(time.time() * 1000)


def _item_title_key(item: CatalogueItem) -> str:
    return title_key(item.product_name, (item.title or "").split("/"))


@dataclass
class Prepared:
    """What mapping needs that only the database and the store can tell: links, and creations."""

    links: dict[str, Link]
    created: int = 0
    failures: list[NewFailure] = field(default_factory=list)


class ProductsJob:
    """The steps of one run (sync_core.engine.job.Job)."""

    map_context = "map"
    journal_noun = "variant"

    def __init__(self, ctx: RunContext) -> None:
        settings = ctx.settings
        self.ctx, self.url = ctx, settings.database_url
        self.source_name, self.target_name = ctx.connections[SOURCE].name, ctx.connections[TARGET].name
        self.rules = (
            PriceRule(settings.sazito_price_multiplier, settings.sazito_price_markup_percent),
            Plausible(settings.plausible_price_max, settings.plausible_stock_max),
        )
        self.target = RemoteTarget(self.url, self.target_name, ctx.connector(TARGET))
        self.catalogue = CataloguePair(
            self.url,
            self.source_name,
            self.target_name,
            ctx.key,
            PUSH_CONTEXTS,
            _item_title_key if settings.sazito_match_by_title else None,
        )

    def start(self, strategy: str) -> Start:
        """Check the supplier and the store, work out the window to fetch and whether the store's catalogue
        must be read first."""
        for role in (SOURCE, TARGET):
            self.ctx.connector(role).check(reuse_s=CHECK_REUSE_S)
        settings, window_start = self.ctx.settings, now_ms()
        window: int | None = None
        if strategy == "incremental":
            since_ms = self.ctx.params.get("since_ms")
            cursor = get_cursor(self.url, pipeline=self.ctx.key, key=CURSOR_KEY)
            if since_ms is not None:
                window = abs(int(since_ms))
            elif cursor is not None:
                window = max(window_start - int(cursor), 0) + settings.sync_overlap_ms
            else:
                window = abs(settings.sync_since_ms)
        refresh = (
            strategy == "full"
            or get_cursor(self.url, pipeline=self.ctx.key, key=CATALOGUE_CURSOR_KEY) is None
            or count_links(self.url, source=self.source_name, target=self.target_name) == 0
        )
        first = self.ctx.connector(SOURCE).first_page(since_ms=window)
        return Start(first, (CURSOR_KEY, str(window_start)), read_catalogue=refresh)

    def fetch(self, request: PageRequest) -> list[SourcePage]:
        """SYNC_PAGES_PER_BATCH supplier pages from ``request`` (numbered pages several at a time)."""
        source, settings = self.ctx.connector(SOURCE), self.ctx.settings
        return fetch_numbered(
            lambda number: source.fetch_page(replace(request, number=number)),
            request.number,
            settings.sync_pages_per_batch,
            workers=settings.http_concurrency,
            is_last=lambda page: page.next is None,
            last_number=lambda page: page.last_number,
        )

    def read_catalogue(self, first_page: int) -> tuple[int | None, int]:
        """Read CATALOGUE_PAGES_PER_TASK store catalogue pages from ``first_page`` and record them.
        Returns (the next page to read or None, items read)."""
        store = self.ctx.connector(TARGET)
        pages = fetch_numbered(
            store.read_catalogue_page,
            first_page,
            CATALOGUE_PAGES_PER_TASK,
            workers=self.ctx.settings.http_concurrency,
            is_last=lambda page: page.next is None,
            last_number=lambda page: page.last_number,
        )
        merged = CataloguePage(first_page, [i for page in pages for i in page.items], pages[-1].next)
        items = record_catalogue_page(self.catalogue, merged, run_id=self.ctx.run_id).items
        # Every chunk: the tables grow by thousands of rows per chunk, and the next chunk's lookups need the plan.
        refresh_statistics(self.url, ("item_links", "ledger", "catalogue_titles"))
        if merged.next is None:
            set_cursor(self.url, pipeline=self.ctx.key, key=CATALOGUE_CURSOR_KEY, value=str(now_ms()))
        return merged.next, items

    def prepare(self, pages: Sequence[SourcePage], *, dry_run: bool) -> Prepared:
        products: list[SupplierProduct] = [p for page in pages for p in page.records]
        prepared = Prepared(self._links(products))
        if self.ctx.settings.create_missing_products and not dry_run:
            unlinked = [p for p in products if not any(v.key in prepared.links for v in p.variants)]
            self._create(unlinked, prepared)
        return prepared

    def map(self, pages: Sequence[SourcePage], prepared: Prepared) -> Mapped:
        """Desired writes for linked variants, and the keys read right: every product that parsed and every
        variant that mapped (their old quarantine, if any, is over)."""
        mapped = Mapped(failures=list(prepared.failures), created=prepared.created)
        for product in (p for page in pages for p in page.records):
            mapped.clean.append(product.key)
            for variant in product.variants:
                link = prepared.links.get(variant.key)
                if link is None:
                    mapped.skipped += 1
                    mapped.reasons["skipped:mapping-missing"] += 1
                    continue
                try:
                    mapped.desired.extend(variant_writes(product, variant, link.target_key, *self.rules))
                except MappingError as exc:
                    mapped.reasons[f"invalid:{exc.reason}"] += 1
                    context = {"product": product.key, "variant": variant.key}
                    mapped.failures.append(
                        NewFailure("map", variant.key, "MappingError", exc.reason, str(exc), context)
                    )
                    continue
                mapped.mapped += 1
                mapped.clean.append(variant.key)
        if mapped.skipped:
            note = {"reason": "mapping-missing", "count": mapped.skipped}
            mapped.notes.append(("skipped", None, note))
        return mapped

    def snapshots(self, pages: Sequence[SourcePage], mapped: Mapped) -> list[Snapshot]:
        """Every supplier variant read, with the store variant it was mapped to (sync_core.engine.snapshots)."""
        targets = {w.source_key: w.target_key for w in mapped.desired}
        return [
            (v.key, variant_snapshot(p, v), [targets[v.key]] if v.key in targets else [])
            for page in pages
            for p in page.records
            for v in p.variants
        ]

    def summary(self, total: SyncCounts) -> dict[str, Any]:
        return {"created": total.created}

    def close(self) -> None:
        pass

    def _links(self, products: list[SupplierProduct]) -> dict[str, Link]:
        """Stored links, then (opt-in) title matches, which are stored for next time."""
        keys = [v.key for p in products for v in p.variants]
        links = load_links(self.url, source=self.source_name, target=self.target_name, source_keys=keys)
        if self.catalogue.title_key is None:
            return links
        wanted = {
            title_key(p.title, v.attributes.values()): v.key
            for p in products
            for v in p.variants
            if v.key not in links
        }
        matched = match_titles(self.url, target=self.target_name, title_keys=wanted)
        new = [(wanted[k], target_key, None, "title") for k, target_key in matched.items()]
        if new:
            save_links(self.url, source=self.source_name, target=self.target_name, links=new)
            links.update({source_key: Link(target_key, "title") for source_key, target_key, _, _ in new})
        return links

    def _create(self, products: list[SupplierProduct], prepared: Prepared) -> None:
        """Create unlinked products in the store and link their new variants.

        A created variant already holds its price (without discount) and stock: those values go into the
        ledger at once, so the plan that follows only writes a discount.
        """
        store = self.ctx.connector(TARGET)
        for product in products:
            try:
                created = store.create_product(new_product(product, *self.rules))
            except (MappingError, PermanentError) as exc:
                prepared.failures.append(
                    NewFailure("create", product.key, type(exc).__name__, "create-failed", str(exc), {})
                )
                continue
            links = [(k, t, None, "created") for k, t in created.items()]
            save_links(self.url, source=self.source_name, target=self.target_name, links=links)
            prepared.created += 1
            held = [
                write
                for variant in product.variants
                if variant.key in created
                for write in variant_writes(product, variant, created[variant.key], *self.rules)
                if _held_on_creation(write)
            ]
            with session_scope(self.url) as session:
                record_values(
                    session, target=self.target_name, writes=held, origin="written", run_id=self.ctx.run_id
                )
            prepared.links.update({key: Link(target_key, "created") for key, target_key in created.items()})


def _held_on_creation(write: Write) -> bool:
    """A new Sazito variant is created with its stock and its regular price; a discount needs a write."""
    return write.kind == "stock" or write.value["discount_price"] is None


def explain(settings: Settings) -> Explaining:
    """The contract's rules as configured now (SAZITO_PRICE_*, PLAUSIBLE_*), for `catalog-sync explain`."""
    rule = PriceRule(settings.sazito_price_multiplier, settings.sazito_price_markup_percent)
    plausible = Plausible(settings.plausible_price_max, settings.plausible_stock_max)
    scale = f"× {rule.multiplier} × (1 + {rule.markup_percent} / 100), rounded half up to a whole unit"
    return Explaining(
        rule={
            "price": f"supplier price {scale}; with a label price above the price, the label price makes the "
            "price and the price the discount price (none when rounding makes them equal)",
            "multiplier": rule.multiplier,
            "markup_percent": rule.markup_percent,
            "rounding": "ROUND_HALF_UP",
            "stock": "0 when the product is unavailable (no active shipment, or resell status "
            "editing-pending); unmanaged when the supplier gives no stock; else the supplier's stock",
            "quarantine": f"a missing or negative price, a negative stock, a price above {plausible.max_price} "
            f"or a stock above {plausible.max_stock} is never written",
        },
        wanted=lambda key, values: snapshot_values(key, values, rule, plausible),
    )


PIPELINE = Pipeline(
    name="anar360-sazito",
    title="Anar360 supplier prices and stock into a Sazito store",
    connectors={SOURCE: Anar360, TARGET: Sazito},
    strategies=("incremental", "full"),
    job=ProductsJob,
    command="products",
    flow="sync-products",
    replayable=PUSH_CONTEXTS,
    catalogue_role=TARGET,
    explain=explain,
    drift=DriftCheck(listing="full"),  # the store's catalogue read back, the whole supplier listing
    guard=Guard(stock_of=guarded_stock, price_of=guarded_price),
    deployments={
        "incremental": "sync-products/anar360-sazito-incremental",
        "full": "sync-products/anar360-sazito-full",
        "catalogue": "sync-catalogue/anar360-sazito-catalogue",
        "retry": "retry-failures/anar360-sazito-retry",
    },
)
