from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from sync_core.sandbox import SandboxConfig, SandboxState, build_app, running_sandbox
from sync_core.sandbox.ploomes_catalogue import generate_products
from sync_core.sandbox.ploomes_data import SLOTS
from sync_core.sandbox.ploomes_oracle import ROW_FIELDS, compare_ploomes_rows, ploomes_oracle
from sync_core.sandbox.ploomes_webhooks import send_webhooks
from sync_core.sandbox.server import banner, sandbox_settings

SMALL = {"products": 3, "variants": 1, "ingram_parts": 5, "seed": 11, "ploomes_products": 700}
KEY = {"User-Key": "sandbox-user-key"}
Received = list[tuple[str | None, dict[str, Any]]]
ORDER = "LastUpdateDate,Id"


class PloomesCaller:
    """Drives the Ploomes simulator of an in-process sandbox (no server)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.http = TestClient(build_app(state), base_url="http://sandbox")

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        answer: httpx.Response = self.http.get("/ploomes" + path, params=params, headers={**KEY, **headers})
        return answer

    def products(self, **params: Any) -> httpx.Response:
        return self.get("/Products", {f"${k}": v for k, v in params.items()})

    def page_by_skip(self, size: int, **params: Any) -> list[dict[str, Any]]:
        """Every page with $top/$skip until a short one (the links ignored)."""
        rows: list[dict[str, Any]] = []
        while True:
            page = self.products(top=size, skip=len(rows), **params).json()["value"]
            rows += page
            if len(page) < size:
                return rows

    def admin(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        if body is None:
            answer: httpx.Response = self.http.get("/_sandbox/ploomes/" + path)
        else:
            answer = self.http.post("/_sandbox/ploomes/" + path, json=body)
        return answer


@pytest.fixture
def make_ploomes() -> Callable[..., PloomesCaller]:
    def make(**overrides: Any) -> PloomesCaller:
        return PloomesCaller(SandboxState(SandboxConfig(**{**SMALL, **overrides})))

    return make


@pytest.fixture
def ploomes(make_ploomes: Callable[..., PloomesCaller]) -> PloomesCaller:
    return make_ploomes()


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str | None, dict[str, Any]]]
    key = "sandbox-webhook-key"

    def do_POST(self) -> None:  # noqa: N802 (the http.server name)
        given = self.headers.get("X-Ploomes-Validation-Key")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((given, body))
        self.send_response(200 if given == self.key else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    """A local webhook receiver: (its URL, what it received); 200 for the right key, else 401."""
    received: Received = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/ploomes", received
    finally:
        server.shutdown()
        server.server_close()


def _date(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ----- auth ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers", [{}, {"User-Key": "nope"}, {"User-Key": ""}, {"Authorization": "sandbox-user-key"}]
)
def test_a_missing_or_wrong_user_key_is_401(ploomes: PloomesCaller, headers: dict[str, str]) -> None:
    for path in ("/Products", "/Products@Groups", "/Webhooks"):
        answer = ploomes.http.get("/ploomes" + path, headers=headers)
        assert answer.status_code == 401 and "application/json" not in answer.headers["content-type"]
    assert ploomes.state.stats()["ploomes"]["unauthorized_401"] == 3


# ----- paging --------------------------------------------------------------------------------------------
def test_next_links_are_opaque_absolute_and_reach_every_product(ploomes: PloomesCaller) -> None:
    first = ploomes.products(expand="OtherProperties").json()
    assert first["@odata.context"].startswith("http://sandbox/ploomes/") and len(first["value"]) == 300
    pages, link = [first], first.get("@odata.nextLink")
    while link:
        assert link.startswith("http://sandbox/ploomes/Products?") and "$skip=" not in link
        pages.append(ploomes.http.get(link, headers=KEY).json())
        link = pages[-1].get("@odata.nextLink")
    assert [len(p["value"]) for p in pages] == [300, 300, 100]
    ids = [row["Id"] for page in pages for row in page["value"]]
    assert ids == sorted(ids) == ploomes.state.ploomes.ids  # by Id when no $orderby
    assert all("OtherProperties" in row for page in pages for row in page["value"])  # $expand kept
    assert ploomes.state.stats()["ploomes"]["pages_served"] == 3


def test_without_next_links_clients_page_with_skip(make_ploomes: Callable[..., PloomesCaller]) -> None:
    ploomes = make_ploomes(ploomes_next_link=False)
    answer = ploomes.products(top=300, orderby=ORDER).json()
    assert "@odata.nextLink" not in answer and len(answer["value"]) == 300
    rows = ploomes.page_by_skip(300, orderby=ORDER)
    assert len(rows) == 700 and len({r["Id"] for r in rows}) == 700
    keys = [(_date(r["LastUpdateDate"]), r["Id"]) for r in rows]
    assert keys == sorted(keys)
    queries = ploomes.state.stats()["ploomes"]["product_queries"]
    assert len(queries) == 4 and "%24skip=600" in queries[-1]


def test_top_is_a_page_size_capped_by_the_server(make_ploomes: Callable[..., PloomesCaller]) -> None:
    ploomes = make_ploomes(ploomes_products=120, ploomes_page_cap=50)
    assert len(ploomes.products(top=500).json()["value"]) == 50
    assert len(ploomes.products().json()["value"]) == 50
    assert len(ploomes.products(top=7).json()["value"]) == 7
    assert ploomes.products(top=0).json()["value"] == []
    assert ploomes.products(top=-1).status_code == 400
    last = ploomes.products(top=50, skip=100).json()
    assert len(last["value"]) == 20 and "@odata.nextLink" not in last


# ----- filters and ordering ------------------------------------------------------------------------------
def test_date_literals_need_an_offset_and_compare_as_instants(ploomes: PloomesCaller) -> None:
    rows = ploomes.page_by_skip(300, orderby=ORDER)
    middle = _date(rows[350]["LastUpdateDate"])
    forms = [
        middle.isoformat(),
        middle.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
        middle.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    ]
    answers = [
        ploomes.products(filter=f"LastUpdateDate ge {form}", top=300).json()["value"] for form in forms
    ]
    assert answers[0] == answers[1] == answers[2] and answers[0]
    assert all(_date(r["LastUpdateDate"]) >= middle for r in answers[0])
    encoded = forms[1].replace("+", "%2B")  # the way the contract writes it
    by_hand = ploomes.http.get(f"/ploomes/Products?$filter=LastUpdateDate ge {encoded}&$top=300", headers=KEY)
    assert "%2B05:30" in encoded and by_hand.json()["value"] == answers[0]
    raw_plus = ploomes.http.get(f"/ploomes/Products?$filter=LastUpdateDate ge {forms[1]}", headers=KEY)
    naive = ploomes.products(filter="LastUpdateDate ge 2025-01-01T00:00:00")
    for refused in (raw_plus, naive):
        assert refused.status_code == 400 and "offset" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    "text",
    [
        "Foo eq 1",
        "Id lt 5",
        "Id ne 5",
        "Id eq",
        "Id eq 1 or Id eq 2",
        "Code eq CIA_X",
        "Id eq 'a'",
        "GroupId eq 1 and",
    ],
)
def test_unknown_fields_operators_and_bad_literals_are_400(ploomes: PloomesCaller, text: str) -> None:
    answer = ploomes.products(filter=text)
    assert answer.status_code == 400 and answer.json()["error"]["message"]


def test_filters_combine_with_and(ploomes: PloomesCaller) -> None:
    everything = ploomes.page_by_skip(300)
    sample = everything[123]
    same_group = [r["Id"] for r in everything if r["GroupId"] == sample["GroupId"] and r["Id"] > 3_100_000]
    text = f"GroupId eq {sample['GroupId']} and Id gt 3100000"
    assert [r["Id"] for r in ploomes.page_by_skip(300, filter=text)] == same_group
    code = next(r["Code"] for r in everything if r["Code"])
    assert {r["Code"] for r in ploomes.products(filter=f"Code eq '{code}'").json()["value"]} == {code}
    assert all(r["Id"] >= sample["Id"] for r in ploomes.page_by_skip(300, filter=f"Id ge {sample['Id']}"))
    assert [r["FamilyId"] for r in ploomes.products(filter="FamilyId eq null", top=5).json()["value"]] == [
        None
    ] * 5


def test_orderby_lists_and_descending(ploomes: PloomesCaller) -> None:
    rows = ploomes.products(orderby="Id desc", top=10).json()["value"]
    assert [r["Id"] for r in rows] == sorted(ploomes.state.ploomes.ids, reverse=True)[:10]
    both = ploomes.page_by_skip(300, orderby="LastUpdateDate desc,Id")
    keys = [(-_date(r["LastUpdateDate"]).timestamp(), r["Id"]) for r in both]
    assert keys == sorted(keys)
    assert ploomes.products(orderby="Price").status_code == 400
    assert ploomes.products(orderby="Id sideways").status_code == 400
    assert ploomes.products(count="true").status_code == 400  # an unknown $ option


def test_shared_update_dates_make_groups_larger_than_a_page() -> None:
    products = generate_products(1000, 3, 1.0)
    sizes = Counter(p.updated for p in products)
    assert max(sizes.values()) == 400 and min(sizes.values()) >= 2
    assert max(Counter(p.updated for p in generate_products(300, 3, 0.0)).values()) == 1


# ----- fields --------------------------------------------------------------------------------------------
def test_products_carry_the_contract_fields_and_other_properties_only_when_expanded(
    ploomes: PloomesCaller,
) -> None:
    plain = ploomes.page_by_skip(300)
    assert all("OtherProperties" not in r for r in plain)
    rows = ploomes.page_by_skip(300, expand="OtherProperties")
    fields = {"Id", "Name", "Code", "GroupId", "FamilyId", "MeasurementUnit", "CurrencyId", "UnitPrice"}
    assert all(fields | {"CreateDate", "LastUpdateDate", "OtherProperties"} <= set(r) for r in rows)
    assert all(r["LastUpdateDate"].endswith("-03:00") and r["CreateDate"].endswith("-03:00") for r in rows)
    assert any(r["UnitPrice"] is None for r in rows) and any(isinstance(r["UnitPrice"], float) for r in rows)
    assert {"Description" in r for r in rows} == {True, False}
    assert any(r["Code"] and r["Code"].startswith("CIA_LOC_") for r in rows)
    assert any("ç" in r["Name"] or "ã" in r["Name"] for r in rows)
    filled = Counter(
        slot for r in rows for prop in r["OtherProperties"] for slot in SLOTS if prop.get(slot) is not None
    )
    assert set(filled) == set(SLOTS)
    objects = [p["ObjectValue"] for r in rows for p in r["OtherProperties"] if p.get("ObjectValue")]
    assert all(set(o) == {"Id", "Name"} for o in objects)
    assert all(p["FieldKey"].startswith("product_") for r in rows for p in r["OtherProperties"])
    selected = ploomes.products(select="Id,Name", expand="OtherProperties", top=3).json()["value"]
    assert all(set(r) == {"Id", "Name", "OtherProperties"} for r in selected)
    assert ploomes.products(expand="Contacts").status_code == 400


def test_groups_and_families(ploomes: PloomesCaller) -> None:
    groups = ploomes.get("/Products@Groups").json()["value"]
    assert {"Atlas", "Ingersoll", "Serviços", "Locação", "Peças"} <= {g["Name"] for g in groups}
    families = ploomes.get("/Products@Families").json()["value"]
    assert {f["GroupId"] for f in families} <= {g["Id"] for g in groups}
    atlas = next(g["Id"] for g in groups if g["Name"] == "Atlas")
    only = ploomes.get("/Products@Families", {"$filter": f"GroupId eq {atlas}", "$top": 2}).json()
    assert len(only["value"]) == 2 and {f["GroupId"] for f in only["value"]} == {atlas}
    assert "@odata.nextLink" in only


# ----- changes -------------------------------------------------------------------------------------------
def test_change_create_delete(ploomes: PloomesCaller) -> None:
    state = ploomes.state.ploomes
    some = state.ids[:3]
    before = {i: state.product(i) for i in some}
    changed = ploomes.admin("change", {"ids": some, "fields": ["price"]}).json()
    assert changed == {"changed": some, "count": 3}
    for i in some:
        old, new = before[i], state.product(i)
        assert old is not None and new is not None
        assert new.price_cents != old.price_cents and new.updated > old.updated and new.name == old.name
    newest = ploomes.products(orderby="LastUpdateDate desc,Id", top=3).json()["value"]
    assert {r["Id"] for r in newest} == set(some)
    assert ploomes.admin("change", {"fraction": 0.01}).json()["count"] == 7
    created = ploomes.admin("create", {"count": 2}).json()["created"]
    assert len(created) == 2 and min(created) > max(some) and len(state.ids) == 702
    deleted = ploomes.admin("delete", {"ids": [some[0]]}).json()["deleted"]
    assert deleted == [some[0]] and some[0] not in {r["Id"] for r in ploomes.page_by_skip(300)}
    assert ploomes.admin("change", {"ids": [1], "fields": ["colour"]}).status_code == 400
    stats = ploomes.state.stats()["ploomes"]
    assert (stats["changes"], stats["created"], stats["deleted"]) == (10, 2, 1)


def test_changes_while_paging_move_items_and_skip_paging_loses_or_repeats(
    make_ploomes: Callable[..., PloomesCaller],
) -> None:
    ploomes = make_ploomes(ploomes_change_while_paging=20, ploomes_next_link=False)
    rows = ploomes.page_by_skip(300, orderby=ORDER)
    ids = [r["Id"] for r in rows]
    assert len(ids) != len(set(ids)) or set(ids) != set(ploomes.state.ploomes.ids)
    # by watermark (ge the last date seen, deduped by Id, re-reading until a page brings nothing new):
    seen: dict[int, str] = {}
    mark = "2000-01-01T00:00:00-03:00"
    while True:
        page = ploomes.products(filter=f"LastUpdateDate ge {mark}", orderby=ORDER, top=300).json()["value"]
        fresh = [r for r in page if seen.get(r["Id"]) != r["LastUpdateDate"]]
        seen.update((r["Id"], r["LastUpdateDate"]) for r in page)
        if not fresh or len(page) < 300:
            break
        mark = page[-1]["LastUpdateDate"]
    assert set(seen) == set(ploomes.state.ploomes.ids)
    assert ploomes.state.stats()["ploomes"]["changed_while_paging"] >= 60


# ----- traffic shaping -----------------------------------------------------------------------------------
def test_over_the_rate_limit_is_429_with_retry_after_in_seconds(
    make_ploomes: Callable[..., PloomesCaller],
) -> None:
    ploomes = make_ploomes(ploomes_rate_limit_per_s=2)
    statuses = [ploomes.products(top=1).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = ploomes.products(top=1)
    assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
    assert ploomes.state.stats()["ploomes"]["throttled_429"] == 2
    ploomes.state.configure(ploomes_rate_limit_per_s=0)
    assert ploomes.products(top=1).status_code == 200


def test_shared_knobs_apply_and_ploomes_knobs_change_at_run_time(ploomes: PloomesCaller) -> None:
    ploomes.state.configure(fault_rate=1.0)
    assert ploomes.products(top=1).status_code in (500, 502, 503)
    ploomes.state.configure(fault_rate=0.0, ploomes_page_cap=10, ploomes_user_key="other")
    assert ploomes.products().status_code == 401
    assert len(ploomes.get("/Products", {"$top": 50}, **{"User-Key": "other"}).json()["value"]) == 10
    for bad in ({"ploomes_next_link": "yes"}, {"ploomes_page_cap": 0}, {"ploomes_change_while_paging": 1.5}):
        with pytest.raises(ValueError):
            ploomes.state.configure(**bad)


# ----- webhooks ------------------------------------------------------------------------------------------
def test_register_and_list_webhooks(ploomes: PloomesCaller) -> None:
    actions = ploomes.get("/Webhooks@Actions").json()["value"]
    assert {"Id": 2, "Name": "Update"} in actions
    body = {"EntityId": 6, "ActionId": 2, "CallbackUrl": "https://x/webhooks/ploomes", "ValidationKey": "k"}
    made = ploomes.http.post("/ploomes/Webhooks", json=body, headers=KEY)
    assert made.status_code == 200 and made.json()["value"][0]["CallbackUrl"] == body["CallbackUrl"]
    for missing in ("EntityId", "ActionId", "CallbackUrl", "ValidationKey"):
        partial = {k: v for k, v in body.items() if k != missing}
        assert ploomes.http.post("/ploomes/Webhooks", json=partial, headers=KEY).status_code == 400
    assert [h["ActionId"] for h in ploomes.get("/Webhooks").json()["value"]] == [2]


def test_webhooks_send_changes_then_delivers_with_the_key_or_a_forged_one(
    ploomes: PloomesCaller, receiver: tuple[str, Received]
) -> None:
    url, received = receiver
    target = ploomes.state.ploomes.ids[5]
    old = ploomes.state.ploomes.product(target)
    sent = ploomes.admin("webhooks/send", {"url": url, "ids": [target], "action": "Update"}).json()
    assert sent["ids"] == [target] and sent["statuses"] == [200]
    key, body = received[-1]
    assert key == "sandbox-webhook-key" and body["Action"] == "Update" and body["Entity"] == "Product"
    assert body["Old"]["Id"] == body["New"]["Id"] == target and body["Old"] != body["New"]
    assert old is not None and body["Old"]["LastUpdateDate"] == old.to_json(expand=False)["LastUpdateDate"]
    assert _date(body["New"]["LastUpdateDate"]) > _date(body["Old"]["LastUpdateDate"])
    assert "OtherProperties" in body["New"]
    forged = ploomes.admin("webhooks/send", {"url": url, "count": 3, "forged": True, "concurrency": 3}).json()
    assert forged["statuses"] == [401] * 3 and all(k != "sandbox-webhook-key" for k, _ in received[-3:])
    created = ploomes.admin("webhooks/send", {"url": url, "action": "Create", "count": 2}).json()
    assert created["counts"] == {"200": 2} and all(b["Old"] is None for _, b in received[-2:])
    gone = ploomes.admin("webhooks/send", {"url": url, "action": "Delete", "ids": [target]}).json()
    assert (
        gone["statuses"] == [200]
        and received[-1][1]["New"] is None
        and received[-1][1]["Old"]["Id"] == target
    )
    assert ploomes.state.ploomes.product(target) is None
    assert ploomes.state.stats()["ploomes"]["delivery_statuses"] == {"200": 4, "401": 3}
    assert ploomes.admin("webhooks/send", {"action": "Update"}).status_code == 400  # no url, no webhook


def test_send_webhooks_from_python_to_registered_hooks(
    ploomes: PloomesCaller, receiver: tuple[str, Received]
) -> None:
    url, received = receiver
    hook = {"EntityId": 6, "ActionId": 2, "CallbackUrl": url, "ValidationKey": "sandbox-webhook-key"}
    assert ploomes.http.post("/ploomes/Webhooks", json=hook, headers=KEY).status_code == 200
    ids = ploomes.state.ploomes.pick(4, seed=1)
    result = send_webhooks(ploomes.state, "Update", ids=ids, fields=["custom_field"], concurrency=2)
    assert result["counts"] == {"200": 4} and sorted(result["ids"]) == sorted(ids)
    assert {b["New"]["Id"] for _, b in received} == set(ids)
    omitted = send_webhooks(ploomes.state, "Update", ids=ids[:1], change=False, omit_key=True)
    assert omitted["statuses"] == [401] and received[-1][0] is None
    assert received[-1][1]["Old"] == received[-1][1]["New"]


# ----- oracle --------------------------------------------------------------------------------------------
def test_oracle_rows_follow_the_default_rules(make_ploomes: Callable[..., PloomesCaller]) -> None:
    ploomes = make_ploomes(ploomes_products=40)
    rows = {r["Id"]: r for r in ploomes.page_by_skip(300, expand="OtherProperties")}
    groups = {g["Id"]: g["Name"] for g in ploomes.get("/Products@Groups").json()["value"]}
    families = {f["Id"]: f["Name"] for f in ploomes.get("/Products@Families").json()["value"]}
    oracle = ploomes_oracle(ploomes.state)
    assert list(oracle) == sorted(rows) and all(set(row) == set(ROW_FIELDS) for row in oracle.values())
    for product_id, row in oracle.items():
        served = rows[product_id]
        code = served["Code"] or ""
        kind = (
            "rental" if code.startswith("CIA_LOC_") else "service" if code.startswith("CIA_") else "product"
        )
        assert row["product_type"] == kind and row["active"] is True
        assert row["category"] == groups.get(served["GroupId"]) and row["subcategory"] == families.get(
            served["FamilyId"]
        )
        price = served["UnitPrice"]
        assert row["unit_price"] == (None if price is None else Decimal(repr(price)))
        currency = {1: "BRL", 2: "USD", 3: "EUR", None: None}.get(
            served["CurrencyId"], str(served["CurrencyId"])
        )
        assert row["currency"] == currency and row["unit_of_measure"] == served["MeasurementUnit"]
        assert row["source_updated_at"] == _date(served["LastUpdateDate"]) and row["source_updated_at"].tzinfo
        assert row["description"] == served.get("Description")
        for prop in served["OtherProperties"]:
            slot, value = next((s, prop[s]) for s in SLOTS if prop.get(s) is not None)
            want = str(Decimal(repr(value))) if slot == "DecimalValue" else value
            assert row["custom_fields"][prop["FieldKey"]] == want
    assert any(isinstance(v, str) and "." in v for r in oracle.values() for v in r["custom_fields"].values())


def test_oracle_keeps_served_deleted_products_inactive_and_forgets_unserved_ones(
    make_ploomes: Callable[..., PloomesCaller],
) -> None:
    ploomes = make_ploomes(ploomes_products=30)
    first = ploomes.state.ploomes.ids[0]
    ploomes.products(top=10)  # serves the first 10 by Id
    ploomes.admin("change", {"ids": [first], "fields": ["name"]})  # changed after it was served
    ploomes.admin("delete", {"ids": [first, ploomes.state.ploomes.ids[-1]]})  # the last one was never served
    oracle = ploomes_oracle(ploomes.state)
    assert len(oracle) == 29 and oracle[first]["active"] is False
    assert "(rev." not in oracle[first]["name"]  # the values served last
    assert len(ploomes_oracle(ploomes.state, unserved=False)) == 10
    served = ploomes.admin("oracle").json()
    assert served["count"] == 29 and served["rows"][0]["ploomes_id"] == first
    assert served["rows"][0]["source_updated_at"].endswith("-03:00")
    assert ploomes.http.get("/_sandbox/ploomes/oracle?unserved=false").json()["count"] == 10


def test_compare_reports_wrong_missing_and_unexpected_rows(
    make_ploomes: Callable[..., PloomesCaller],
) -> None:
    ploomes = make_ploomes(ploomes_products=5)
    expected = ploomes_oracle(ploomes.state)
    ids = list(expected)
    rows = [dict(expected[i]) for i in ids[:4]]
    rows[0]["unit_price"] = rows[0]["unit_price"] and rows[0]["unit_price"].quantize(Decimal("0.0001"))
    rows[0]["source_updated_at"] = rows[0]["source_updated_at"].astimezone(UTC)
    rows[0]["version"] = 3  # other columns are ignored
    rows[1]["name"] += "!"
    rows.append({**expected[ids[0]], "ploomes_id": 1})
    report = compare_ploomes_rows(expected, rows)
    assert not report.ok and report.correct == 3
    assert [(i, column) for i, column, _, _ in report.wrong] == [(ids[1], "name")]
    assert report.missing == [ids[4]] and report.unexpected == [1]


# ----- mounting ------------------------------------------------------------------------------------------
def test_settings_banner_and_a_served_sandbox() -> None:
    config = SandboxConfig(products=2, variants=1, ingram_parts=5, ploomes_products=10)
    settings = sandbox_settings("http://h:1", config)
    assert settings["ploomes_base"] == "http://h:1/ploomes"
    assert (settings["ploomes_user_key"], settings["ploomes_webhook_key"]) == (
        "sandbox-user-key",
        "sandbox-webhook-key",
    )
    assert "PLOOMES_BASE=http://h:1/ploomes  PLOOMES_USER_KEY=sandbox-user-key" in banner(
        "http://h:1", config
    )
    with running_sandbox(config) as sb:
        assert sb.ploomes_base == sb.settings()["ploomes_base"]
        answer = httpx.get(
            sb.ploomes_base + "/Products", headers=KEY, params={"$filter": "Id gt 0", "$top": 4}
        )
        assert answer.status_code == 200 and len(answer.json()["value"]) == 4
        assert answer.json()["@odata.nextLink"].startswith(sb.ploomes_base + "/Products?")
        assert httpx.get(sb.url + "/_sandbox/stats").json()["ploomes"]["requests"] == {"GET /Products": 1}
