"""`catalog-sync explain` after real runs: a full sync of the sandbox, then one variant's story (the supplier's
values, the rule, the value written and the run and request that wrote it); a table pipeline's item; an
unknown key in one line."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlmodel import select

from catalog_sync.cli import main
from flows.sync_products import sync_products
from sync_core.db import session_scope
from sync_core.engine.explain import explain_item
from sync_core.engine.registry import pipeline
from sync_core.engine.runs import recent_runs
from sync_core.mapping.anar360_sazito import PriceRule
from sync_core.pipelines.fever_events import event_id, store_feed
from sync_core.sandbox.server import SandboxHandle
from sync_core.settings import Settings
from sync_core.tables import LedgerEntry
from tests.unit.test_fever_events import base_plan, feed, plan

pytestmark = pytest.mark.e2e

MARKUP = Decimal(10)


def supplier_variant(sandbox: SandboxHandle, key: str) -> dict[str, object]:
    for product in sandbox.state.catalogue.supplier_products:
        for variant in product["variants"]:
            if variant["_id"] == key:
                return dict(variant)
    raise AssertionError(f"no supplier variant {key}")


def written_price(db_url: str) -> LedgerEntry:
    """A price the run wrote, of a variant without a label price (its rule is the plain one)."""
    with session_scope(db_url) as session:
        rows = session.exec(
            select(LedgerEntry).where(LedgerEntry.kind == "price", LedgerEntry.origin == "written")
        ).all()
    plain = [r for r in rows if r.value["discount_price"] is None]
    assert plain
    return plain[0]


def test_a_synced_variant_tells_supplier_value_rule_written_value_and_run(
    sync_env: SandboxHandle,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SAZITO_PRICE_MARKUP_PERCENT", str(MARKUP))
    sync_products(scope="full")
    run = recent_runs(db_url)[0]
    row = written_price(db_url)
    settings = Settings(_env_file=None, database_url=db_url, sazito_price_markup_percent=MARKUP)  # type: ignore[call-arg]

    story = explain_item(settings, pipeline("products"), row.target_key)  # by the store's variant id
    assert story is not None
    [source] = story["sources"]
    supplier = supplier_variant(sync_env, source["source_key"])
    assert source["values"]["price"] == supplier["price"] and source["run"]["id"] == run.id
    assert source["target_keys"] == [row.target_key] and source["read_at"]
    assert story["rule"]["markup_percent"] == "10" and story["rule"]["rounding"] == "ROUND_HALF_UP"
    # No discount: the price is the label price's when it is above the price (rounding made them equal).
    label, plain_price = supplier.get("labelPrice"), supplier["price"]
    listed = (
        label
        if isinstance(label, int) and isinstance(plain_price, int) and label > plain_price
        else plain_price
    )
    expected = PriceRule(Decimal(1), MARKUP).apply(int(listed))  # type: ignore[call-overload]
    [price] = [t for t in story["targets"] if t["kind"] == "price"]
    assert price["value"] == {"price": expected, "discount_price": None} == source["wanted"]["price"]
    assert price["origin"] == "written" and price["as_wanted"] is True
    assert price["run"]["id"] == run.id and price["run"]["scope"] == "full"
    [request] = price["requests"]
    assert request["request_id"] and request["method"] == "PUT" and request["status"] == 200
    assert request["match"] in ("only", "nearest") and "bulk-update-price" in request["url"]
    assert [link["method"] for link in story["links"]] == ["sku"]
    assert story["failures"] == [] and story["held"] == []

    # The supplier's key tells the same story; the command prints it for people.
    assert explain_item(settings, pipeline("anar360-sazito"), source["source_key"]) == story | {
        "key": source["source_key"]
    }
    assert main(["explain", "products", source["source_key"]]) == 0
    out = capsys.readouterr().out
    assert f"read {source['read_at']} by run {run.id} (full, " in out
    assert f"price {supplier['price']}" in out and "markup_percent: 10" in out
    assert f'price {{"price": {expected}, "discount_price": null}}: written by run {run.id}' in out
    assert (
        f"request {request['request_id']} PUT " in out and "what the rule makes of the last read now" in out
    )


def test_an_unknown_key_is_one_line_and_exit_2(
    sync_env: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sync_products(scope="full")
    capsys.readouterr()
    assert main(["explain", "products", "no-such-variant"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "catalog-sync: anar360-sazito knows no item 'no-such-variant': never read, linked, written or "
        "failed (a source key or a target key)\n"
    )
    assert main(["explain", "no-such-pipeline", "x"]) == 2
    assert capsys.readouterr().err.startswith("catalog-sync: no pipeline named 'no-such-pipeline'")


def test_a_table_pipeline_tells_its_row_and_snapshot(db_url: str) -> None:
    xml = feed(base_plan(plan("10"), base_id="7"))
    store_feed(db_url, io.BytesIO(xml.encode()), retry_base_s=60)
    settings = Settings(_env_file=None, database_url=db_url)  # type: ignore[call-arg]
    uid = str(event_id("7", "10"))

    by_source = explain_item(settings, pipeline("events"), "7/10")
    by_row = explain_item(settings, pipeline("fever-events"), uid)
    assert by_source is not None and by_row is not None
    assert by_row["sources"] == by_source["sources"] and by_row["rows"] == by_source["rows"]
    [source] = by_source["sources"]
    assert source["target_keys"] == [uid] and source["values"]["min_price"] == "20.00"
    assert source["values"]["zones"] == 1 and source["run"] is None  # stored outside any run
    [row] = by_source["rows"]
    assert row["table"] == "events" and row["key"] == uid and row["values"]["title"] == "Show"
    assert row["written_at"] and "online" in by_source["rule"]["kept"]
    assert by_source["targets"] == [] and by_source["failures"] == []
