"""One page of the Anar360 → Sazito product sync: map, link, diff against the ledger, push, record.

Everything here is plain Python over the ports; the Prefect tasks in ``tasks/`` wrap these calls.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sync_core.db import session_scope
from sync_core.engine.failures import NewFailure, has_open_failures, record_failures, resolve
from sync_core.engine.ledger import Link, load_ledger, load_links, match_titles, record_values, save_links
from sync_core.engine.plan import plan_writes
from sync_core.engine.ports import Target
from sync_core.engine.runs import add_counts, record_journal
from sync_core.errors import MappingError, PermanentError
from sync_core.mapping.anar360_sazito import Plausible, PriceRule, new_product, variant_writes
from sync_core.mapping.titles import title_key
from sync_core.models import SourcePage, SupplierProduct, Write, WriteOutcome, fingerprint
from sync_core.settings import Settings

PIPELINE = "anar360-sazito"
SOURCE = "anar360"
TARGET = "sazito"
# Errors after which going on would only hammer a provider that is down or refusing us.
FATAL_WRITE_ERRORS = frozenset({"CircuitOpenError", "AuthError"})
PUSH_CONTEXTS = ("push:price", "push:stock")
DIFF_SAMPLE = 20


class RunAborted(Exception):
    """A page's writes hit an error that makes the rest of the run pointless (circuit open, bad key)."""


@dataclass(slots=True)
class SyncCounts:
    """What one page did; summed by the flow into the run summary."""

    fetched: int = 0
    mapped: int = 0
    pushed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    created: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    diffs: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: SyncCounts) -> None:
        for name in ("fetched", "mapped", "pushed", "unchanged", "skipped", "failed", "created"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)
        self.diffs.extend(other.diffs[: max(DIFF_SAMPLE - len(self.diffs), 0)])


def price_rule(settings: Settings) -> PriceRule:
    return PriceRule(settings.sazito_price_multiplier, settings.sazito_price_markup_percent)


def plausible(settings: Settings) -> Plausible:
    return Plausible(settings.plausible_price_max, settings.plausible_stock_max)


def _links_for(settings: Settings, products: list[SupplierProduct]) -> dict[str, Link]:
    """Stored links, then (opt-in) title matches, which are stored for next time."""
    keys = [v.key for p in products for v in p.variants]
    links = load_links(settings.database_url, source=SOURCE, target=TARGET, source_keys=keys)
    if not settings.sazito_match_by_title:
        return links
    wanted = {
        title_key(p.title, v.attributes.values()): v.key
        for p in products
        for v in p.variants
        if v.key not in links
    }
    matched = match_titles(settings.database_url, target=TARGET, title_keys=wanted)
    new = [(wanted[k], target_key, None, "title") for k, target_key in matched.items()]
    if new:
        save_links(settings.database_url, source=SOURCE, target=TARGET, links=new)
        links.update({source_key: Link(target_key, "title") for source_key, target_key, _, _ in new})
    return links


def _map_page(
    page: SourcePage,
    links: dict[str, Link],
    rules: tuple[PriceRule, Plausible],
    result: SyncCounts,
    failures: list[NewFailure],
) -> tuple[list[Write], list[str]]:
    """Desired writes for linked variants, and the keys read right: every product that parsed and every
    variant that mapped (their old quarantine, if any, is over)."""
    desired: list[Write] = []
    clean: list[str] = []
    for product in page.products:
        clean.append(product.key)
        for variant in product.variants:
            link = links.get(variant.key)
            if link is None:
                result.skipped += 1
                result.reasons["skipped:mapping-missing"] += 1
                continue
            try:
                desired.extend(variant_writes(product, variant, link.target_key, *rules))
                result.mapped += 1
                clean.append(variant.key)
            except MappingError as exc:
                result.failed += 1
                result.reasons[f"invalid:{exc.reason}"] += 1
                failures.append(
                    NewFailure(
                        "map",
                        variant.key,
                        "MappingError",
                        exc.reason,
                        str(exc),
                        {"product": product.key, "variant": variant.key},
                    )
                )
    return desired, clean


def sync_batch(
    settings: Settings, page: SourcePage, target: Target, *, run_id: int | None, dry_run: bool = False
) -> SyncCounts:
    """Map, link, diff and push one source page; record ledger, failures, events and counters."""
    url = settings.database_url
    result = SyncCounts(fetched=len(page.products) + len(page.rejects))
    failures = [
        NewFailure(
            "map",
            r.key or f"unknown:{fingerprint('reject', r.payload)}",
            "MappingError",
            r.reason,
            r.message,
            r.payload,
        )
        for r in page.rejects
    ]
    result.failed += len(page.rejects)
    result.reasons.update(f"invalid:{r.reason}" for r in page.rejects)
    rules = price_rule(settings), plausible(settings)
    links = _links_for(settings, page.products)
    if settings.create_missing_products and not dry_run:
        unlinked = [p for p in page.products if not any(v.key in links for v in p.variants)]
        links.update(_create_products(settings, target, unlinked, rules, result, failures, run_id=run_id))
    desired, clean = _map_page(page, links, rules, result, failures)

    plan = plan_writes(desired, load_ledger(url, target=TARGET, target_keys=[w.target_key for w in desired]))
    result.unchanged = len(plan.unchanged)
    result.diffs = [
        {"kind": w.kind, "target": w.target_key, "source": w.source_key, "value": w.value}
        for w in plan.writes[:DIFF_SAMPLE]
    ]
    if dry_run:
        result.pushed = len(plan.writes)  # would be pushed
        return result

    # Resolving is an UPDATE per batch; with no open failure at all (the usual case) it can be skipped.
    resolving = has_open_failures(url, pipeline=PIPELINE)

    def record_batch(part: WriteOutcome) -> None:
        # Each batch is recorded the moment it lands: a crash later in the page cannot make us resend it.
        batch_failures = [
            NewFailure(f"push:{w.kind}", w.target_key, cls, cls, msg, asdict_write(w))
            for w, cls, msg in part.failed
        ]
        _record_writes(
            settings, run_id=run_id, succeeded=part.succeeded, failures=batch_failures, resolving=resolving
        )

    outcome = target.apply(plan.writes, on_outcome=record_batch)
    result.pushed = len(outcome.succeeded)
    result.failed += len(outcome.failed)
    result.reasons.update(f"push:{error_class}" for _, error_class, _ in outcome.failed)
    _record_page(
        settings,
        run_id=run_id,
        outcome=outcome,
        failures=failures,
        clean=clean if resolving else [],
        held=plan.unchanged if resolving else [],
        result=result,
    )
    fatal = sorted({cls for _, cls, _ in outcome.failed if cls in FATAL_WRITE_ERRORS})
    if fatal:
        raise RunAborted(f"{TARGET} writes stopped: {', '.join(fatal)} ({outcome.failed[0][2]})")
    return result


def asdict_write(write: Write) -> dict[str, Any]:
    return {
        "kind": write.kind,
        "target_key": write.target_key,
        "source_key": write.source_key,
        "value": write.value,
    }


def write_from_payload(payload: dict[str, Any]) -> Write:
    return Write(payload["kind"], payload["target_key"], payload["source_key"], payload["value"])


def _create_products(
    settings: Settings,
    target: Target,
    products: list[SupplierProduct],
    rules: tuple[PriceRule, Plausible],
    result: SyncCounts,
    failures: list[NewFailure],
    *,
    run_id: int | None,
) -> dict[str, Link]:
    """Create unlinked products in the target; return the links of their new variants.

    A created variant already holds its price (without discount) and stock: those values go into the
    ledger at once, so the diff that follows only writes a discount.
    """
    links: dict[str, Link] = {}
    for product in products:
        try:
            created = target.create_product(new_product(product, *rules))
        except (MappingError, PermanentError) as exc:
            failures.append(
                NewFailure("create", product.key, type(exc).__name__, "create-failed", str(exc), {})
            )
            continue
        save_links(
            settings.database_url,
            source=SOURCE,
            target=TARGET,
            links=[(k, t, None, "created") for k, t in created.items()],
        )
        result.created += 1
        held = [
            write
            for variant in product.variants
            if variant.key in created
            for write in variant_writes(product, variant, created[variant.key], *rules)
            if write.kind == "stock" or write.value["discount_price"] is None
        ]
        with session_scope(settings.database_url) as session:
            record_values(session, target=TARGET, writes=held, origin="written", run_id=run_id)
        links.update({key: Link(target_key, "created") for key, target_key in created.items()})
    return links


def _record_writes(
    settings: Settings,
    *,
    run_id: int | None,
    succeeded: list[Write],
    failures: list[NewFailure],
    resolving: bool,
) -> None:
    """Ledger rows for what landed, resolutions of its old failures, and new failures: one transaction."""
    with session_scope(settings.database_url) as session:
        record_values(session, target=TARGET, writes=succeeded, origin="written", run_id=run_id)
        for kind in ("price", "stock") if resolving else ():
            done = [w.target_key for w in succeeded if w.kind == kind]
            resolve(session, pipeline=PIPELINE, context=f"push:{kind}", item_keys=done)
        record_failures(
            session, pipeline=PIPELINE, failures=failures, retry_base_s=settings.failure_retry_base_s
        )


def _record_page(
    settings: Settings,
    *,
    run_id: int | None,
    outcome: WriteOutcome,
    failures: list[NewFailure],
    clean: list[str],
    held: list[Write],
    result: SyncCounts,
) -> None:
    """The page's mapping failures and resolutions, its events and its counters.

    Resolved: the quarantine of every item read right (``clean``), and the push failures of every value the
    store already holds as the source wants it now (``held``): a replay would send a value no longer wanted.
    """
    with session_scope(settings.database_url) as session:
        resolve(session, pipeline=PIPELINE, context="map", item_keys=clean)
        for kind in ("price", "stock"):
            done = [w.target_key for w in held if w.kind == kind]
            resolve(session, pipeline=PIPELINE, context=f"push:{kind}", item_keys=done)
        record_failures(
            session, pipeline=PIPELINE, failures=failures, retry_base_s=settings.failure_retry_base_s
        )
    events: list[tuple[str, str | None, dict[str, Any]]] = []
    for kind in ("price", "stock"):
        keys = [w.target_key for w in outcome.succeeded if w.kind == kind]
        if keys:
            events.append((f"variant_{kind}_updated", None, {"count": len(keys), "variants": keys[:50]}))
    events.extend(
        ("item_failed", f.item_key, {"context": f.context, "reason": f.reason, "error": f.message[:300]})
        for f in failures
    )
    events.extend(
        ("item_failed", w.target_key, {"context": f"push:{w.kind}", "reason": cls, "error": msg[:300]})
        for w, cls, msg in outcome.failed
    )
    if result.reasons["skipped:mapping-missing"]:
        events.append(
            (
                "skipped",
                None,
                {"reason": "mapping-missing", "count": result.reasons["skipped:mapping-missing"]},
            )
        )
    record_journal(settings.database_url, run_id=run_id, pipeline=PIPELINE, events=events)
    if run_id is not None:
        add_counts(
            settings.database_url,
            run_id=run_id,
            fetched=result.fetched,
            mapped=result.mapped,
            pushed=result.pushed,
            unchanged=result.unchanged,
            skipped=result.skipped,
            failed=result.failed,
        )
