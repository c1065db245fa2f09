"""One page through map → link → diff → push → record, against a fake store (SQLite and PostgreSQL)."""

from __future__ import annotations

from sync_core.engine.batch import sync_batch
from sync_core.engine.connections import Connection
from sync_core.engine.failures import list_failures
from sync_core.engine.job import RunContext, SyncCounts
from sync_core.engine.links import load_links
from sync_core.engine.target_catalogue import CatalogueCounts, record_catalogue_page
from sync_core.models import PageRequest, RejectedRecord, SourcePage
from sync_core.pipelines.anar360_sazito import PIPELINE, ProductsJob
from sync_core.settings import Settings
from tests.fakes import FakeStore, page_of, store_variant, supplier_product


def products_job(settings: Settings, store: FakeStore) -> tuple[RunContext, ProductsJob]:
    """The products pipeline's job on its default connections, with ``store`` as its target."""
    connections = {
        role: Connection(cls.provider, cls.provider, "") for role, cls in PIPELINE.connectors.items()
    }
    ctx = RunContext(settings, PIPELINE, PIPELINE.name, None, connections, lambda role, **options: store)
    return ctx, ProductsJob(ctx)


def sync(settings: Settings, page: SourcePage, store: FakeStore, *, dry_run: bool = False) -> SyncCounts:
    ctx, job = products_job(settings, store)
    return sync_batch(ctx, job, [page], dry_run=dry_run)


def read_catalogue(settings: Settings, store: FakeStore) -> CatalogueCounts:
    _, job = products_job(settings, store)
    return record_catalogue_page(job.catalogue, store.read_catalogue_page(0), run_id=None)


def statuses(settings: Settings) -> set[tuple[str, str, str]]:
    return {(f.context, f.item_key, f.status) for f in list_failures(settings.database_url)}


def test_sku_links_then_only_changes_are_pushed(settings: Settings) -> None:
    store = FakeStore({"10": store_variant("10", sku="p1-v1")})
    read_catalogue(settings, store)
    first = sync(settings, page_of(supplier_product()), store)
    assert (first.pushed, first.unchanged) == (2, 0)
    again = sync(settings, page_of(supplier_product()), store)
    assert (again.pushed, again.unchanged) == (0, 2)
    changed = sync(settings, page_of(supplier_product(price=1100)), store)
    assert changed.pushed == 1 and [w.kind for w in store.applied[-1:]] == ["price"]


def test_title_matching_is_opt_in(settings: Settings) -> None:
    store = FakeStore({"20": store_variant("20", sku=None, name="cotton  t-shirt", title="red / l")})
    product = supplier_product()
    read_catalogue(settings, store)
    assert sync(settings, page_of(product), store).reasons["skipped:mapping-missing"] == 1

    by_title = settings.model_copy(update={"sazito_match_by_title": True})
    read_catalogue(by_title, store)
    result = sync(by_title, page_of(product), store)
    assert result.pushed == 2
    link = load_links(settings.database_url, source="anar360", target="sazito", source_keys=["p1-v1"])[
        "p1-v1"
    ]
    assert (link.target_key, link.method) == ("20", "title")


def test_refused_writes_become_failures_and_are_pushed_again_next_time(settings: Settings) -> None:
    store = FakeStore({"10": store_variant("10", sku="p1-v1")}, refuse={"10"})
    read_catalogue(settings, store)
    result = sync(settings, page_of(supplier_product()), store)
    assert result.failed == 2 and result.pushed == 0
    assert {(f.context, f.item_key, f.status) for f in list_failures(settings.database_url)} == {
        ("push:price", "10", "pending"),
        ("push:stock", "10", "pending"),
    }
    store.refuse.clear()
    retried = sync(settings, page_of(supplier_product()), store)
    assert retried.pushed == 2  # the ledger never recorded the refused values, so nothing is lost
    assert {f.status for f in list_failures(settings.database_url)} == {"resolved"}


def test_bad_variant_is_quarantined_and_the_rest_of_the_page_goes_on(settings: Settings) -> None:
    store = FakeStore({"10": store_variant("10", sku="p1-v1"), "11": store_variant("11", sku="p2-v1")})
    read_catalogue(settings, store)
    result = sync(settings, page_of(supplier_product(price=-5), supplier_product("p2")), store)
    assert result.failed == 1 and result.pushed == 2 and result.reasons["invalid:negative-price"] == 1
    [failure] = list_failures(settings.database_url)
    assert (failure.context, failure.item_key, failure.reason) == ("map", "p1-v1", "negative-price")


def test_dry_run_pushes_and_records_nothing(settings: Settings) -> None:
    store = FakeStore({"10": store_variant("10", sku="p1-v1")})
    read_catalogue(settings, store)
    result = sync(settings, page_of(supplier_product()), store, dry_run=True)
    assert result.pushed == 2 and len(result.diffs) == 2 and store.applied == []
    assert sync(settings, page_of(supplier_product()), store, dry_run=True).pushed == 2


def test_missing_products_are_created_when_enabled(settings: Settings) -> None:
    store = FakeStore({})
    creating = settings.model_copy(update={"create_missing_products": True})
    result = sync(creating, page_of(supplier_product(label_price=1200)), store)
    assert result.created == 1 and len(store.created) == 1
    assert [(w.kind, w.target_key) for w in store.applied] == [("price", "new-p1-v1")]  # only the discount
    again = sync(creating, page_of(supplier_product(label_price=1200)), store)
    assert again.created == 0 and again.pushed == 0


def test_a_quarantined_variant_is_resolved_once_the_supplier_fixes_it(settings: Settings) -> None:
    store = FakeStore({"10": store_variant("10", sku="p1-v1")})
    read_catalogue(settings, store)
    assert sync(settings, page_of(supplier_product(stock=-3)), store).failed == 1
    assert statuses(settings) == {("map", "p1-v1", "pending")}
    fixed = sync(settings, page_of(supplier_product(stock=3)), store)
    assert fixed.failed == 0 and statuses(settings) == {("map", "p1-v1", "resolved")}


def test_a_record_the_source_could_not_read_is_resolved_once_it_reads_right(settings: Settings) -> None:
    store = FakeStore({"10": store_variant("10", sku="p1-v1")})
    reject = RejectedRecord(key="p1", reason="invalid-record", message="variants.0.price: bad", payload={})
    sync(settings, SourcePage(PageRequest(), [], [reject], None), store)
    assert statuses(settings) == {("map", "p1", "pending")}
    sync(settings, page_of(supplier_product()), store)
    assert statuses(settings) == {("map", "p1", "resolved")}


def test_push_failures_the_store_turns_out_to_hold_are_resolved_by_a_catalogue_read(
    settings: Settings,
) -> None:
    store = FakeStore({"10": store_variant("10", sku="p1-v1")}, garble={"10"})
    read_catalogue(settings, store)
    result = sync(settings, page_of(supplier_product()), store)
    assert result.failed == 2 and statuses(settings) == {
        ("push:price", "10", "pending"),
        ("push:stock", "10", "pending"),
    }
    read = read_catalogue(settings, store)
    assert read.resolved == 2 and {status for *_, status in statuses(settings)} == {"resolved"}
    before = len(store.applied)
    again = sync(settings, page_of(supplier_product()), store)
    assert (again.pushed, again.unchanged, len(store.applied)) == (0, 2, before)  # nothing needless sent


def test_a_push_failure_is_resolved_when_the_store_already_holds_what_the_source_wants_now(
    settings: Settings,
) -> None:
    store = FakeStore({"10": store_variant("10", sku="p1-v1")})
    read_catalogue(settings, store)
    sync(settings, page_of(supplier_product(price=1000)), store)
    store.refuse.add("10")
    sync(settings, page_of(supplier_product(price=1100)), store)  # refused: pending
    assert ("push:price", "10", "pending") in statuses(settings)
    # The supplier goes back to 1000, which the store holds: the pending 1100 is no longer wanted, and a
    # replay would write a stale price.
    back = sync(settings, page_of(supplier_product(price=1000)), store)
    assert (back.pushed, back.unchanged) == (0, 2)
    assert ("push:price", "10", "resolved") in statuses(settings)
