"""Reading the target's catalogue: links by SKU, the title index, and the values the store holds."""

from __future__ import annotations

from dataclasses import dataclass

from sync_core.db import session_scope
from sync_core.ledger import load_ledger, load_links, record_values, save_links, save_titles
from sync_core.mapping.titles import title_key
from sync_core.models import CataloguePage, Write
from sync_core.pipeline import SOURCE, TARGET
from sync_core.ports import Target
from sync_core.settings import Settings

# Links an operator set or that came from creating the product are never replaced by a SKU match.
STICKY_METHODS = frozenset({"operator", "created"})


@dataclass(slots=True)
class CatalogueResult:
    variants: int = 0
    linked: int = 0
    observed: int = 0
    unlinked: int = 0


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
    observed = [
        write
        for v, sku in with_sku
        for kind, value in target.current_values(v).items()
        if known.get((v.id, kind)) != (write := Write(kind, v.id, sku, value)).fingerprint
    ]
    with session_scope(url) as session:
        record_values(session, target=TARGET, writes=observed, origin="observed", run_id=run_id)
    result.observed = len(observed)
    return result
