"""`GET /items/{pipeline}/{key}`: the token always (401, 503 without API_TOKEN), the 404 envelope, and the story
of a seeded item (snapshot, rule, link, ledger, the requests that wrote it, failures, held writes), on SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from catalog_sync.service import create_app
from sync_core.db import session_scope
from sync_core.engine.audit import DbAuditSink
from sync_core.engine.failures import NewFailure, record_failures
from sync_core.engine.job import RunContext
from sync_core.engine.ledger import record_values
from sync_core.engine.links import save_links
from sync_core.engine.registry import pipeline
from sync_core.engine.snapshots import record_snapshots
from sync_core.http.client import RequestRecord
from sync_core.models import Write
from sync_core.settings import Settings
from sync_core.tables import HeldWrite, utcnow
from tests.service import seed
from tests.service.test_auth import RIGHT, WRONG, refused, with_token
from tests.service.test_errors import envelope

NAME = "anar360-sazito"
SUPPLIER = {
    "product": "p-1",
    "title": "Belt",
    "price": 1000,
    "label_price": 1200,
    "stock": 4,
    "resell_status": "approved",
    "active_shipment": True,
    "updated_at": None,
}


class Snapshots:
    """A job that only tells snapshots (what record_snapshots asks of one)."""

    def __init__(self, *snapshots: tuple[str, dict[str, Any], list[str]]) -> None:
        self.taken = snapshots

    def snapshots(self, pages: object, mapped: object) -> list[tuple[str, dict[str, Any], list[str]]]:
        return list(self.taken)


def snapshot(settings: Settings, name: str, run_id: int | None, *taken: Any) -> None:
    ctx = RunContext(settings, pipeline(name), name, run_id, {}, lambda role: None)
    record_snapshots(ctx, Snapshots(*taken), [], None)  # type: ignore[arg-type]


def request(sink: DbAuditSink, context: str, path: str, *, ago_ms: int, method: str = "PUT") -> None:
    sink.record(
        RequestRecord(
            provider="sazito",
            method=method,
            url=f"https://shop.test/api/v1{path}",
            status=200,
            duration_ms=5,
            attempt=1,
            outcome="success",
            correlation_id=f"req-{context.replace(' ', '-').replace('/', '-')}",
            error=None,
            context=context,
            started_at=utcnow() - timedelta(milliseconds=ago_ms),
        )
    )


def seed_variant(settings: Settings) -> int:
    """Variant v-1 of Anar360, linked to Sazito 501: its price written in a bulk call of run N, its stock
    written per variant (then changed at the supplier), a refused stock write and a held one."""
    url = settings.database_url
    run_id = seed.run(url, pipeline=NAME, scope="full", status="partial")
    snapshot(settings, NAME, run_id, ("v-1", SUPPLIER, ["501"]))
    save_links(url, source="anar360", target="sazito", links=[("v-1", "501", "p-501", "sku")])
    sink = DbAuditSink(url, run_id=run_id)
    request(sink, "catalogue page 0", "/products", ago_ms=90, method="GET")
    request(sink, "bulk price 1/2", "/accounting/bulk-update-price", ago_ms=50)
    request(sink, "bulk price 2/2", "/accounting/bulk-update-price", ago_ms=40)
    request(sink, "stock variant 5011", "/accounting/update-stock/5011", ago_ms=30)
    request(sink, "stock variant 501", "/accounting/update-stock/501", ago_ms=20)
    sink.flush()
    price = Write("price", "501", "v-1", {"price": 1200, "discount_price": 1000})
    stock = Write("stock", "501", "v-1", {"managed": True, "stock": 9})
    with session_scope(url) as session:
        record_values(session, target="sazito", writes=[price, stock], origin="written", run_id=run_id)
        refusal = NewFailure("push:stock", "501", "RejectedByStore", "RejectedByStore", "locked\nmore", {})
        record_failures(session, pipeline=NAME, failures=[refusal], retry_base_s=60)
        session.add(
            HeldWrite(
                run_id=run_id,
                pipeline=NAME,
                target="sazito",
                target_key="501",
                kind="stock",
                source_key="v-1",
                value={"managed": True, "stock": 0},
                before={"managed": True, "stock": 9},
                reason="stock-zeroed",
                status="held",
                created_at=utcnow(),
            )
        )
    return run_id


def client(settings: Settings, token: str | None = "tok-9f8e7d6c5b4a39281706") -> TestClient:
    changed = with_token(settings, token)
    return TestClient(create_app(lambda: changed))


def test_the_token_is_asked_always(settings: Settings) -> None:
    seed_variant(settings)
    c = client(settings)
    refused(
        c.get(f"/items/{NAME}/v-1"), "missing bearer token: send the header Authorization: Bearer <API_TOKEN>"
    )
    refused(c.get(f"/items/{NAME}/v-1", headers=WRONG), "wrong bearer token")
    unset = client(settings, None)  # reads are open here (no API_TOKEN_FOR_READS); this one is not
    assert envelope(unset.get(f"/items/{NAME}/v-1"), 503, "unavailable").startswith("API_TOKEN is not set")
    operation = c.get("/openapi.json").json()["paths"]["/items/{pipeline}/{key}"]["get"]
    assert operation["security"] == [{"bearerAuth": []}] and {"200", "401", "404"} <= set(
        operation["responses"]
    )


def test_unknown_items_and_pipelines_answer_404_in_the_envelope(settings: Settings) -> None:
    seed_variant(settings)
    c = client(settings)
    message = envelope(c.get(f"/items/{NAME}/nope", headers=RIGHT), 404, "not_found")
    assert message == "anar360-sazito knows no item 'nope'"
    message = envelope(c.get("/items/no-such-pipeline/v-1", headers=RIGHT), 404, "not_found")
    assert message.startswith("no pipeline named 'no-such-pipeline' (known: ")


def test_the_story_of_a_variant(settings: Settings) -> None:
    run_id = seed_variant(settings)
    c = client(settings)
    answer = c.get(f"/items/{NAME}/v-1", headers=RIGHT)
    assert answer.status_code == 200 and answer.json()["error"] is None
    story = answer.json()["data"]
    by_store_id = c.get("/items/products/501", headers=RIGHT).json()["data"]
    assert by_store_id == story | {"key": "501"}

    [source] = story["sources"]
    assert source["values"] == SUPPLIER and source["target_keys"] == ["501"] and source["read_at"]
    assert source["run"]["id"] == run_id and source["run"]["status"] == "partial"
    # The label price makes the price, the price the discount price.
    wanted_price = {"price": 1200, "discount_price": 1000}
    assert source["wanted"] == {"price": wanted_price, "stock": {"managed": True, "stock": 4}}
    assert story["rule"]["multiplier"] == "1" and story["rule"]["rounding"] == "ROUND_HALF_UP"
    assert [(link["source_key"], link["target_key"], link["method"]) for link in story["links"]] == [
        ("v-1", "501", "sku")
    ]

    price, stock = story["targets"]
    assert (price["kind"], price["value"], price["origin"]) == ("price", wanted_price, "written")
    assert price["as_wanted"] is True and price["run"]["id"] == run_id
    [bulk] = price["requests"]  # the audit row of a bulk call does not list its variants
    assert (bulk["request_id"], bulk["match"], bulk["calls"]) == ("req-bulk-price-2-2", "nearest", 2)
    assert (bulk["method"], bulk["status"], bulk["outcome"]) == ("PUT", 200, "success")
    assert stock["as_wanted"] is False  # the supplier's stock moved since
    [single] = stock["requests"]  # named by its context and URL; variant 5011 is another one
    assert (single["request_id"], single["match"]) == ("req-stock-variant-501", "named")

    [failure] = story["failures"]
    assert (failure["context"], failure["item_key"], failure["status"]) == ("push:stock", "501", "pending")
    assert failure["last_error"] == "locked" and failure["next_retry_at"]
    [held] = story["held"]
    assert (held["kind"], held["value"], held["status"], held["run_id"]) == (
        "stock",
        {"managed": True, "stock": 0},
        "held",
        run_id,
    )


def test_a_key_with_a_slash(settings: Settings) -> None:
    snapshot(settings, "fever-events", None, ("7/10", {"title": "Show", "min_price": "20.00"}, ["uid-1"]))
    answer = client(settings).get("/items/events/7/10", headers=RIGHT)
    assert answer.status_code == 200, answer.text
    story = answer.json()["data"]
    assert story["key"] == "7/10" and story["sources"][0]["values"]["title"] == "Show"
    assert story["rows"] == [] and "online" in story["rule"]["kept"]


def test_a_store_that_cannot_answer_is_503(settings: Settings) -> None:
    c = client(seed.unreachable_settings(settings))
    assert envelope(c.get(f"/items/{NAME}/v-1", headers=RIGHT), 503, "unavailable") == (
        "the state store is unavailable"
    )


@pytest.mark.parametrize("path", ["/items/anar360-sazito", "/items/"])
def test_a_missing_key_is_no_endpoint(settings: Settings, path: str) -> None:
    assert client(settings).get(path, headers=RIGHT).status_code == 404
