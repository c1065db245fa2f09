"""Reading a target's catalogue back: links by SKU, the title index, and the values the target holds.

Any pipeline whose target is a CatalogueReader uses it: ``sync-catalogue`` and the first pages of a full run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlmodel import Session

from sync_core.db import session_scope
from sync_core.engine.failures import has_open_failures, open_failures, resolve_ids
from sync_core.engine.ledger import load_ledger, record_values
from sync_core.engine.links import load_links, save_links, save_titles
from sync_core.models import CatalogueItem, CataloguePage, Write

# Links an operator set or that came from creating the product are never replaced by a SKU match.
STICKY_METHODS = frozenset({"operator", "created"})


@dataclass(frozen=True)
class CataloguePair:
    """Whose catalogue it is and how its items are linked: connection names, the run's key, the failure
    contexts a held value settles, and (title matching on) how an item's title key is made."""

    url: str
    source: str
    target: str
    key: str
    push_contexts: tuple[str, ...]
    title_key: Callable[[CatalogueItem], str] | None = None


@dataclass(slots=True)
class CatalogueCounts:
    items: int = 0
    linked: int = 0
    observed: int = 0
    unlinked: int = 0
    resolved: int = 0  # push failures the target turned out to hold


def record_catalogue_page(pair: CataloguePair, page: CataloguePage, *, run_id: int | None) -> CatalogueCounts:
    """Link items by SKU, index titles (when title matching is on) and record the values observed."""
    url = pair.url
    counts = CatalogueCounts(items=len(page.items))
    with_sku = [(item, item.sku.strip()) for item in page.items if item.sku and item.sku.strip()]
    counts.unlinked = len(page.items) - len(with_sku)
    existing = load_links(
        url, source=pair.source, target=pair.target, source_keys=[sku for _, sku in with_sku]
    )
    links = []
    for item, sku in with_sku:
        current = existing.get(sku)
        # Unchanged links are not rewritten: a nightly re-read of a stable catalogue costs reads only.
        stale = current is None or (current.method not in STICKY_METHODS and current.target_key != item.key)
        if stale:
            links.append((sku, item.key, item.product_key, "sku"))
    save_links(url, source=pair.source, target=pair.target, links=links)
    counts.linked = len(links)
    if pair.title_key is not None:
        titles = [(pair.title_key(item), item.key, item.product_key) for item in page.items]
        save_titles(url, target=pair.target, titles=titles)
    known = load_ledger(url, target=pair.target, target_keys=[item.key for item, _ in with_sku])
    holds = [
        Write(kind, item.key, sku, value) for item, sku in with_sku for kind, value in item.holds.items()
    ]
    observed = [w for w in holds if known.get((w.target_key, w.kind)) != w.fingerprint]
    resolving = has_open_failures(url, pipeline=pair.key)
    with session_scope(url) as session:
        record_values(session, target=pair.target, writes=observed, origin="observed", run_id=run_id)
        if resolving:  # a write that failed (or seemed to) but the target holds its value: nothing to replay
            counts.resolved = _resolve_held(session, pair, holds)
    counts.observed = len(observed)
    return counts


def _resolve_held(session: Session, pair: CataloguePair, held: Sequence[Write]) -> int:
    """Resolve the open push failures whose value the catalogue shows the target holds (a write that landed
    though its answer said it failed): replaying them would be a needless write. Returns how many."""
    wanted = {(f"push:{w.kind}", w.target_key): w.fingerprint for w in held}
    done = [
        failure_id
        for failure_id, context, key, payload in open_failures(
            session,
            pipeline=pair.key,
            contexts=pair.push_contexts,
            item_keys=sorted({w.target_key for w in held}),
        )
        if wanted.get((context, key)) == Write.from_payload(payload).fingerprint
    ]
    return resolve_ids(session, done)
