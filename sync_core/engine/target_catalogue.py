"""Reading the target's catalogue: links by SKU, the title index, and the values the store holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from sync_core.db import session_scope
from sync_core.engine.failures import has_open_failures, open_failures, resolve_ids
from sync_core.engine.ledger import load_ledger, load_links, record_values, save_links, save_titles
from sync_core.engine.ports import Target
from sync_core.mapping.titles import title_key
from sync_core.models import CataloguePage, Write
from sync_core.pipelines.anar360_sazito import PIPELINE, PUSH_CONTEXTS, SOURCE, TARGET, write_from_payload
from sync_core.settings import Settings

# Links an operator set or that came from creating the product are never replaced by a SKU match.
STICKY_METHODS = frozenset({"operator", "created"})


@dataclass(slots=True)
class CatalogueResult:
    variants: int = 0
    linked: int = 0
    observed: int = 0
    unlinked: int = 0
    resolved: int = 0  # push failures the store turned out to hold


def record_catalogue_page(
    settings: Settings, page: CataloguePage, target: Target, *, run_id: int | None
) -> CatalogueResult:
    """Link variants by SKU, index titles (when title matching is on) and record observed values."""
    url = settings.database_url
    result = CatalogueResult(variants=len(page.variants))
    with_sku = [(v, v.sku.strip()) for v in page.variants if v.sku and v.sku.strip()]
    result.unlinked = len(page.variants) - len(with_sku)
    existing = load_links(url, source=SOURCE, target=TARGET, source_keys=[sku for _, sku in with_sku])
    links = []
    for variant, sku in with_sku:
        current = existing.get(sku)
        # Unchanged links are not rewritten: a nightly re-read of a stable catalogue costs reads only.
        stale = current is None or (current.method not in STICKY_METHODS and current.target_key != variant.id)
        if stale:
            links.append((sku, variant.id, variant.product_id, "sku"))
    save_links(url, source=SOURCE, target=TARGET, links=links)
    result.linked = len(links)
    if settings.sazito_match_by_title:
        titles = [
            (title_key(v.product_name, (v.title or "").split("/")), v.id, v.product_id) for v in page.variants
        ]
        save_titles(url, target=TARGET, titles=titles)
    known = load_ledger(url, target=TARGET, target_keys=[v.id for v, _ in with_sku])
    holds = [
        Write(kind, v.id, sku, value)
        for v, sku in with_sku
        for kind, value in target.current_values(v).items()
    ]
    observed = [w for w in holds if known.get((w.target_key, w.kind)) != w.fingerprint]
    resolving = has_open_failures(url, pipeline=PIPELINE)
    with session_scope(url) as session:
        record_values(session, target=TARGET, writes=observed, origin="observed", run_id=run_id)
        if resolving:  # a write that failed (or seemed to) but the store holds its value: nothing to replay
            result.resolved = _resolve_held(session, holds)
    result.observed = len(observed)
    return result


def _resolve_held(session: Session, held: Sequence[Write]) -> int:
    """Resolve the open push failures whose value the catalogue shows the store holds (a write that landed
    though its answer said it failed): replaying them would be a needless write. Returns how many."""
    wanted = {(f"push:{w.kind}", w.target_key): w.fingerprint for w in held}
    done = [
        failure_id
        for failure_id, context, key, payload in open_failures(
            session, pipeline=PIPELINE, contexts=PUSH_CONTEXTS, item_keys=sorted({w.target_key for w in held})
        )
        if wanted.get((context, key)) == write_from_payload(payload).fingerprint
    ]
    return resolve_ids(session, done)
