"""`POST /webhooks/ploomes` and the inbox drain: a good delivery is kept and answered 202, a forged one is
refused, counted and logged without the key; a burst becomes one claim; a run that cannot start or fails
leaves the deliveries in the inbox, a later one settles them."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from catalog_sync.service import create_app
from sync_core.db import session_scope
from sync_core.pipelines.ploomes import inbox
from sync_core.pipelines.ploomes.drain import Outcome, drain_forever, drain_once, run_params
from sync_core.pipelines.ploomes.tables import PloomesWebhookDelivery
from sync_core.settings import Settings

KEY = "whk-Sample-Validation-0042"
HEADER = "X-Ploomes-Validation-Key"


@pytest.fixture
def hooked(settings: Settings) -> Settings:
    return settings.model_copy(update={"ploomes_webhook_key": SecretStr(KEY)})


@pytest.fixture
def client(hooked: Settings) -> TestClient:
    return TestClient(create_app(lambda: hooked))


def delivery(action: str, product_id: int) -> dict[str, Any]:
    product = {"Id": product_id, "Name": f"Compressor {product_id}", "Code": f"ATL-{product_id}"}
    return {
        "Action": action,
        "Entity": "Product",
        "New": None if action == "Delete" else product,
        "Old": None if action == "Create" else product,
    }


def inbox_rows(url: str) -> list[PloomesWebhookDelivery]:
    with session_scope(url) as session:
        return list(session.exec(sa.select(PloomesWebhookDelivery).order_by("id")).scalars())  # type: ignore[call-overload]


def test_a_good_delivery_is_kept_and_answered_202(client: TestClient, hooked: Settings) -> None:
    answer = client.post("/webhooks/ploomes", json=delivery("Update", 7), headers={HEADER: KEY})
    assert answer.status_code == 202, answer.text
    kept = answer.json()["data"]["delivery"]
    (row,) = inbox_rows(hooked.database_url)
    assert (row.id, row.action, row.product_id, row.applied_at) == (kept, "Update", 7, None)
    assert row.body["New"]["Name"] == "Compressor 7"


@pytest.mark.parametrize("given", [None, "", "wrong-key", KEY + "x", KEY[:-1]])
def test_a_forged_delivery_changes_nothing_is_counted_and_logged_without_the_key(
    client: TestClient, hooked: Settings, given: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {HEADER: given} if given is not None else {}
    with caplog.at_level(logging.WARNING):
        answer = client.post("/webhooks/ploomes", json=delivery("Update", 7), headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {
        "data": None,
        "error": {"code": "unauthorized", "message": f"missing or wrong {HEADER}"},
    }
    assert inbox_rows(hooked.database_url) == []
    assert inbox.counts(hooked.database_url)["forged"] == 1
    assert "refused a delivery" in caplog.text
    assert KEY not in caplog.text and (not given or given not in caplog.text)


def test_the_key_is_compared_in_constant_time(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    client.post("/webhooks/ploomes", json=delivery("Update", 7), headers={HEADER: "nope"})
    assert compared == [(b"nope", KEY.encode())]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"not json", "the body is not JSON"),
        (b"[]", "the body must be a JSON object"),
        (b'{"Action": "Merge", "Entity": "Product"}', "Action must be one of Create, Update, Delete"),
        (b'{"Action": "Update", "Entity": "Deal", "New": {"Id": 1}}', "Entity must be Product, not 'Deal'"),
        (
            b'{"Action": "Delete", "Entity": "Product", "New": null, "Old": null}',
            "carries the product in Old",
        ),
        (b'{"Action": "Update", "Entity": "Product", "New": {"Id": "7"}}', "Id must be a positive whole"),
    ],
)
def test_a_body_that_is_no_delivery_is_a_400_with_the_reason(
    client: TestClient, hooked: Settings, body: bytes, said: str
) -> None:
    answer = client.post(
        "/webhooks/ploomes", content=body, headers={HEADER: KEY, "content-type": "application/json"}
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and said in error["message"], error
    assert inbox_rows(hooked.database_url) == []
    assert inbox.counts(hooked.database_url)["unreadable"] == 1


def test_without_a_webhook_key_every_delivery_is_refused_503(settings: Settings) -> None:
    client = TestClient(create_app(lambda: settings.model_copy(update={"ploomes_webhook_key": None})))
    answer = client.post("/webhooks/ploomes", json=delivery("Update", 7), headers={HEADER: KEY})
    assert answer.status_code == 503
    assert "PLOOMES_WEBHOOK_KEY is not set" in answer.json()["error"]["message"]


def test_a_burst_becomes_one_run_and_the_last_action_of_a_product_wins(
    client: TestClient, hooked: Settings
) -> None:
    for n in range(100):
        client.post("/webhooks/ploomes", json=delivery("Update", 1 + n % 40), headers={HEADER: KEY})
    client.post("/webhooks/ploomes", json=delivery("Delete", 3), headers={HEADER: KEY})
    runs: list[dict[str, Any]] = []

    def runner(params: dict[str, Any]) -> Outcome:
        runs.append(params)
        return Outcome(True, run_id=99)

    url = hooked.database_url
    assert drain_once(url, runner, coalesce_s=0) == Outcome(True, run_id=99)
    assert drain_once(url, runner, coalesce_s=0) is None  # nothing left
    (params,) = runs
    assert params["strategy"] == "auto"  # 39 products: more than a real-time run takes
    assert sorted(params["ids"]) == [n for n in range(1, 41) if n != 3] and params["deleted"] == [3]
    rows = inbox_rows(url)
    assert len(rows) == 101 and all(r.applied_at is not None and r.run_id == 99 for r in rows)


def test_a_few_products_are_a_real_time_run() -> None:
    claim = inbox.Claim(ids=(1, 2, 3), updated=(5, 6), deleted=(9,))
    assert run_params(claim) == {"strategy": "real-time", "ids": [5, 6], "deleted": [9]}


def test_deliveries_wait_while_runs_cannot_start_and_are_applied_after(
    client: TestClient, hooked: Settings
) -> None:
    for n in (11, 12):
        client.post("/webhooks/ploomes", json=delivery("Update", n), headers={HEADER: KEY})
    url = hooked.database_url

    def down(params: dict[str, Any]) -> Outcome:
        raise ConnectionError("Prefect API at http://127.0.0.1:9/api refused the connection")

    outcome = drain_once(url, down, coalesce_s=0)
    assert outcome is not None and not outcome.applied
    rows = inbox_rows(url)
    assert all(r.applied_at is None and r.claimed_at is None for r in rows)
    assert all(r.last_error and "refused the connection" in r.last_error for r in rows)

    def failed(params: dict[str, Any]) -> Outcome:
        return Outcome(False, reason="the run ended failed")

    assert drain_once(url, failed, coalesce_s=0) == Outcome(False, reason="the run ended failed")
    applied: list[dict[str, Any]] = []
    assert drain_once(url, lambda p: applied.append(p) or Outcome(True, run_id=5), coalesce_s=0)
    assert applied == [{"strategy": "real-time", "ids": [11, 12], "deleted": []}]
    assert all(r.applied_at is not None and r.attempts == 3 for r in inbox_rows(url))


def test_the_drain_loop_stops_when_told(hooked: Settings) -> None:
    stop = threading.Event()
    loop = threading.Thread(target=drain_forever, args=(stop,), kwargs={"settings": hooked})
    loop.start()
    stop.set()
    loop.join(timeout=5)
    assert not loop.is_alive()
