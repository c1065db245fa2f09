"""Ploomes connector against respx routes built from the contract's examples (tests/fixtures/ploomes): a small
OData server that filters, orders and pages products the way the contract says Ploomes does."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from pydantic import SecretStr

from sync_core import errors
from sync_core.connectors.ploomes import (
    ALL_READ,
    BadRecord,
    Family,
    Group,
    Keyset,
    PloomesCatalog,
    ProductPage,
    ProductRecord,
)
from sync_core.connectors.ploomes_wire import read_product
from sync_core.engine.connections import Connection, default_connection
from sync_core.http.client import RequestRecord
from sync_core.settings import Settings
from tests.fakes import FakeTime

BASE = "https://public-api2.ploomes.test"
KEY = "uk-Very-Secret-7f3a9c"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "ploomes"
BRT = timezone(timedelta(hours=-3))


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def product(n: int, updated: str = "2026-11-20T10:00:00-03:00", **changes: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "Id": n,
        "Name": f"Product {n}",
        "Code": f"P-{n}",
        "GroupId": 7,
        "FamilyId": 3,
        "MeasurementUnit": "UN",
        "CurrencyId": 1,
        "UnitPrice": Decimal("10.5"),
        "CreateDate": "2026-01-02T09:00:00-03:00",
        "LastUpdateDate": updated,
        "OtherProperties": [],
    }
    found.update(changes)
    return found


class ListAudit:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def record(self, rec: RequestRecord) -> None:
        self.records.append(rec)

    def dumped(self) -> str:
        return json.dumps([asdict(r) for r in self.records], default=str)


_LITERAL = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def when(text: str) -> tuple[datetime, int]:
    """The server's reading of a date-time: UTC to the microsecond, and the nanoseconds past it."""
    found = _LITERAL.fullmatch(text)
    if found is None:
        raise ValueError(text)
    frac = (found[2] or "").ljust(9, "0")
    at = datetime.fromisoformat(f"{found[1]}.{frac[:6]}{found[3].replace('Z', '+00:00')}")
    return at.astimezone(UTC), int(frac[6:9])


class FakePloomes:
    """Serves /Products with $filter (Id/GroupId/LastUpdateDate with eq, gt, ge joined by and), $orderby,
    $top (at most ``cap``) and $expand; a literal without an offset is a 400, as the contract says."""

    def __init__(self, products: list[dict[str, Any]], *, cap: int = 300) -> None:
        self.products, self.cap = products, cap
        self.queries: list[dict[str, str]] = []
        self.raw: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["User-Key"] == KEY
        query = request.url.query.decode()
        self.raw.append(query)
        params = dict(parse_qsl(query, keep_blank_values=True))  # '+' reads as a space, %2B as '+'
        self.queries.append(params)
        items = list(self.products)
        for clause in params.get("$filter", "").split(" and ") if params.get("$filter") else []:
            name, op, value = clause.split(" ")
            try:
                items = [i for i in items if self._holds(i, name, op, value)]
            except ValueError:
                return httpx.Response(400, json={"error": {"message": f"bad literal {value}"}})
        order = params.get("$orderby", "Id")
        if order == "LastUpdateDate,Id":
            items.sort(key=lambda i: (when(i["LastUpdateDate"]), i["Id"]))
        else:
            assert order == "Id"
            items.sort(key=lambda i: i["Id"])
        top = min(int(params.get("$top", 300)), self.cap)
        skip = int(params.get("$skip", 0))
        page = items[skip : skip + top]
        if params.get("$expand") != "OtherProperties":
            page = [{k: v for k, v in i.items() if k != "OtherProperties"} for i in page]
        return answer(page)

    @staticmethod
    def _holds(item: dict[str, Any], name: str, op: str, value: str) -> bool:
        if name == "LastUpdateDate":
            have, want = when(item[name]), when(value)
        else:
            have, want = item[name], int(value)
        return {"eq": have == want, "gt": have > want, "ge": have >= want}[op]

    def filters(self) -> list[str]:
        return [q["$filter"] for q in self.queries]


def answer(items: list[Any], link: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"@odata.context": f"{BASE}/$metadata#Products", "value": items}
    if link:
        body["@odata.nextLink"] = link
    return httpx.Response(200, content=json.dumps(body, default=str).encode())


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        _env_file=None,
        ploomes_base=BASE + "/",
        ploomes_user_key=KEY,
        ploomes_rate_per_s=1000,
        http_retries=2,
        http_retry_backoff_ms=0,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE, assert_all_called=False)


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def connector(
    router: respx.MockRouter, audit: ListAudit, clock: FakeTime, settings: Settings | None = None, **kw: Any
) -> PloomesCatalog:
    return PloomesCatalog(
        settings or make_settings(),
        transport=httpx.MockTransport(router.handler),
        audit=audit,
        sleep=clock.sleep,
        **kw,
    )


@pytest.fixture
def ploomes(router: respx.MockRouter, audit: ListAudit, clock: FakeTime) -> Iterator[PloomesCatalog]:
    with connector(router, audit, clock) as source:
        yield source


def serve(router: respx.MockRouter, server: FakePloomes) -> respx.Route:
    return router.get(path="/Products").mock(side_effect=server)


def read_all(ploomes: PloomesCatalog, keyset: Keyset, **kw: Any) -> tuple[list[ProductPage], list[int]]:
    """Every page of a read, going on from each page's token (as a job that persists it does)."""
    pages: list[ProductPage] = []
    current: Keyset | None = keyset
    while current is not None:
        pages.append(ploomes.product_page(current, **kw))
        nxt = pages[-1].next
        current = Keyset.from_token(nxt.to_token()) if nxt is not None else None
        assert current == nxt
        assert len(pages) < 50
    return pages, [p.id for page in pages for p in page.products]


# --- settings and construction ---


def test_the_default_connection_is_paced_by_the_rate_a_second() -> None:
    assert default_connection(make_settings(ploomes_rate_per_s=2), PloomesCatalog).rate_limit_per_min == 120
    assert default_connection(make_settings(ploomes_rate_per_s=0.5), PloomesCatalog).rate_limit_per_min == 30
    conn = default_connection(make_settings(), PloomesCatalog)
    assert (conn.name, conn.base_url, conn.secret_name) == ("ploomes", BASE, "PLOOMES_USER_KEY")


def test_missing_settings_are_named_in_one_line() -> None:
    with pytest.raises(errors.ConfigError) as info:
        PloomesCatalog(Settings(_env_file=None))  # type: ignore[call-arg]
    assert str(info.value).startswith("missing setting: PLOOMES_BASE, PLOOMES_USER_KEY")
    assert "\n" not in str(info.value)


# --- groups, families, actions: nextLink, else $top/$skip ---


def test_check_reads_every_group_page_and_groups_costs_no_second_call(
    ploomes: PloomesCatalog, router: respx.MockRouter
) -> None:
    link = f"{BASE}/Products@Groups?$skiptoken=Opaque%2FToken%3D%3D&$top=2"
    route = router.get(path="/Products@Groups").mock(
        side_effect=[
            answer([{"Id": 1, "Name": "Bikes"}, {"Id": 2, "Name": "Parts"}], link=link),
            answer([{"Id": 3, "Name": "Tools"}, {"Name": "no id"}]),
            answer([]),
        ]
    )
    ploomes.check()
    assert route.call_count == 3
    first, second, third = (call.request for call in route.calls)
    assert first.url.params["$top"] == "300" and first.url.params["$skip"] == "0"
    # The opaque link is followed as given (httpx writes its query in its own, equivalent, encoding).
    assert second.url.copy_with(query=None) == httpx.URL(link).copy_with(query=None)
    assert list(second.url.params.multi_items()) == [("$skiptoken", "Opaque/Token=="), ("$top", "2")]
    # No link, but as long as the linked page (what the server serves): $skip goes on, and finds the end.
    assert (third.url.path, third.url.params["$skip"], third.url.params["$top"]) == (
        "/Products@Groups",
        "4",
        "300",
    )
    assert all(call.request.headers["User-Key"] == KEY for call in route.calls)
    assert ploomes.groups(max_age_s=60) == [Group(1, "Bikes"), Group(2, "Parts"), Group(3, "Tools")]
    assert route.call_count == 3


def test_a_run_that_reuses_the_command_lines_check_reuses_its_groups(
    router: respx.MockRouter, audit: ListAudit, clock: FakeTime
) -> None:
    route = router.get(path="/Products@Groups").mock(
        side_effect=[answer([{"Id": 7, "Name": "Atlas"}]), answer([])]
    )
    with connector(router, audit, clock) as preflight:
        preflight.check()
    assert route.call_count == 2  # the page, and the probe that says it was the last
    with connector(router, audit, clock) as run:  # the flow's own connector, in the same process
        run.check(reuse_s=120)
        assert run.groups(max_age_s=120) == [Group(7, "Atlas")]
    assert route.call_count == 2
    with connector(router, audit, clock) as fresh:  # no age given: read again
        route.side_effect = [answer([{"Id": 7, "Name": "Atlas"}, {"Id": 8, "Name": "Peças"}]), answer([])]
        assert fresh.groups() == [Group(7, "Atlas"), Group(8, "Peças")]
    assert route.call_count == 4


def test_groups_page_with_skip_when_the_server_serves_fewer(
    ploomes: PloomesCatalog, router: respx.MockRouter
) -> None:
    groups = [{"Id": n, "Name": f"G{n}"} for n in range(1, 6)]
    route = router.get(path="/Products@Groups").mock(side_effect=FakePloomes(groups, cap=2))
    assert [g.id for g in ploomes.groups()] == [1, 2, 3, 4, 5]
    # 2 of 300 is unsure, the next page (2 more) proves 2 is what it serves, 1 of 2 is the last.
    assert [call.request.url.params["$skip"] for call in route.calls] == ["0", "2", "4"]
    assert {call.request.url.params["$top"] for call in route.calls} == {"300"}


def test_a_short_first_page_is_decided_by_one_more_request(
    ploomes: PloomesCatalog, router: respx.MockRouter
) -> None:
    route = router.get(path="/Products@Families").mock(
        side_effect=FakePloomes([{"Id": 4, "Name": "Road", "GroupId": 1}, {"Id": 5, "Name": "X"}])
    )
    assert ploomes.families() == [Family(4, "Road", 1), Family(5, "X", None)]
    assert [call.request.url.params["$skip"] for call in route.calls] == ["0", "2"]  # the probe is empty


def test_a_next_link_to_another_host_is_not_followed(
    ploomes: PloomesCatalog, router: respx.MockRouter
) -> None:
    router.get(path="/Webhooks@Actions").respond(
        200, json={"value": [{"Id": 1, "Name": "Create"}], "@odata.nextLink": "https://evil.test/next"}
    )
    with pytest.raises(errors.PermanentError, match="evil.test.*not followed"):
        ploomes.webhook_actions()


def test_webhook_actions(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    actions = [{"Id": 1, "Name": "Create"}, {"Id": 2, "Name": "Update"}, {"Id": 3, "Name": "Delete"}]
    router.get(path="/Webhooks@Actions").mock(side_effect=FakePloomes(actions))
    assert ploomes.webhook_actions() == actions


# --- products by Id (full read) ---


def test_a_full_read_pages_by_id(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    server = FakePloomes([product(n) for n in range(650, 0, -1)])
    serve(router, server)
    pages, ids = read_all(ploomes, Keyset("id"))
    assert ids == list(range(1, 651))
    assert [len(p.products) for p in pages] == [300, 300, 50]
    assert server.filters() == ["Id gt 0", "Id gt 300", "Id gt 600"]
    assert pages[0].next == Keyset("id", after_id=300) and pages[-1].next is None
    assert {(q["$orderby"], q["$top"], q["$expand"]) for q in server.queries} == {
        ("Id", "300", "OtherProperties")
    }
    assert all("$skip" not in q for q in server.queries)


def test_a_group_is_filtered(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    server = FakePloomes([product(1, GroupId=7), product(2, GroupId=8), product(3, GroupId=7)])
    serve(router, server)
    _, ids = read_all(ploomes, Keyset("id"), group_id=7)
    assert ids == [1, 3]
    assert (
        server.raw[0]
        == "%24filter=Id+gt+0+and+GroupId+eq+7&%24orderby=Id&%24top=300&%24expand=OtherProperties"
    )


def test_a_served_size_below_top_is_learned(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    server = FakePloomes([product(n) for n in range(1, 251)], cap=100)
    serve(router, server)
    first = ploomes.product_page(Keyset("id"))
    # 100 of 300 asked: unsure, so the same call probes; 100 more prove the server serves 100.
    assert [p.id for p in first.products] == list(range(1, 201)) and first.next == Keyset("id", 200)
    second = ploomes.product_page(first.next)
    assert [p.id for p in second.products] == list(range(201, 251)) and second.next is None
    assert server.filters() == ["Id gt 0", "Id gt 100", "Id gt 200"]
    again = ploomes.product_page(Keyset("id"))  # known now: a page of 100 is a full page, no probe
    assert len(again.products) == 100 and again.next == Keyset("id", 100) and len(server.queries) == 4


def test_a_short_last_page_costs_one_probe(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    server = FakePloomes([product(n) for n in range(1, 41)])
    serve(router, server)
    page = ploomes.product_page(Keyset("id"))
    assert len(page.products) == 40 and page.next is None
    assert server.filters() == ["Id gt 0", "Id gt 40"]


def test_a_page_with_a_next_link_is_never_the_last(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    route = serve(router, FakePloomes([]))
    route.side_effect = [answer([product(1), product(2)], link=f"{BASE}/Products?$skip=2"), answer([])]
    page = ploomes.product_page(Keyset("id"), page_size=50)
    assert page.next == Keyset("id", 2) and route.call_count == 1  # the link is a signal, not followed
    assert ploomes.product_page(page.next, page_size=50).next is None
    assert route.calls.last.request.url.params["$filter"] == "Id gt 2"


# --- products by LastUpdateDate (incremental) ---


def test_an_incremental_read_drops_what_it_read_at_equal_dates(
    ploomes: PloomesCatalog, router: respx.MockRouter
) -> None:
    # One instant written in three offsets: the keyset compares aware values, not text.
    t2 = ["2026-11-20T10:00:00-03:00", "2026-11-20T13:00:00Z", "2026-11-20T16:00:00+03:00"]
    items = [
        product(1, "2026-11-20T09:00:00-03:00"),
        product(2, "2026-11-20T12:30:00Z"),
        product(3, t2[0]),
        product(4, t2[1]),
        product(5, t2[2]),
        product(6, "2026-11-21T00:00:00Z"),
        product(7, "2026-11-20T21:00:00-03:00"),  # the same instant as 6
    ]
    server = FakePloomes(items)
    serve(router, server)
    pages, ids = read_all(
        ploomes, Keyset("updated", since=datetime(2026, 11, 20, 8, 0, tzinfo=BRT)), page_size=4
    )
    assert sorted(ids) == [1, 2, 3, 4, 5, 6, 7] and len(ids) == 7  # each once
    assert [[p.id for p in page.products] for page in pages] == [[1, 2, 3, 4], [5, 6], [7]]
    assert pages[0].next == Keyset("updated", 4, datetime(2026, 11, 20, 13, 0, tzinfo=UTC))
    assert server.filters() == [
        "LastUpdateDate ge 2026-11-20T08:00:00-03:00",
        "LastUpdateDate ge 2026-11-20T10:00:00-03:00",
        "LastUpdateDate ge 2026-11-21T00:00:00Z",
    ]
    assert {q["$orderby"] for q in server.queries} == {"LastUpdateDate,Id"}
    assert all(
        p.updated_at is not None and p.updated_at.utcoffset() is not None for pg in pages for p in pg.products
    )


def test_more_than_a_page_at_one_date_is_read_by_id(
    ploomes: PloomesCatalog, router: respx.MockRouter
) -> None:
    tie = "2026-11-20T10:00:00.1234567-03:00"  # seven digits, as .NET writes them
    later = "2026-11-20T10:00:00.1234568-03:00"  # one tick on: the same microsecond, a later instant
    items = [product(n, "2026-11-19T10:00:00-03:00") for n in range(1000, 1010)]
    items += [product(n, tie) for n in range(1, 701)]
    items += [product(n, later) for n in range(701, 706)]
    server = FakePloomes(items)
    serve(router, server)
    pages, ids = read_all(ploomes, Keyset("updated", since=datetime(2026, 11, 1, tzinfo=UTC)))
    assert sorted(ids) == sorted(i["Id"] for i in items) and len(ids) == len(items)
    assert server.filters() == [
        "LastUpdateDate ge 2026-11-01T00:00:00Z",
        f"LastUpdateDate ge {tie}",  # 300 at the tie date: 291..300 are new, and it cannot get past
        f"LastUpdateDate eq {tie} and Id gt 300",
        f"LastUpdateDate eq {tie} and Id gt 600",  # 100: the tie is read
        f"LastUpdateDate gt {tie}",
    ]
    assert [len(p.products) for p in pages] == [300, 10, 300, 100, 5]
    assert [server.queries[i]["$orderby"] for i in (2, 3, 4)] == ["Id", "Id", "LastUpdateDate,Id"]
    tied = pages[1].next
    assert tied is not None and (tied.tie, tied.after_id, tied.since_literal) == (True, 300, tie)
    assert pages[3].next is not None and pages[3].next.after_id == ALL_READ
    assert pages[3].next.to_token() == f"updated:{ALL_READ}:{tie}"


def test_a_plus_offset_reaches_the_server_as_2b(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    server = FakePloomes([product(1, "2026-11-20T06:00:00-03:00"), product(2, "2026-11-20T20:00:00+03:00")])
    serve(router, server)
    plus3 = timezone(timedelta(hours=3))
    page = ploomes.product_page(Keyset("updated", since=datetime(2026, 11, 20, 12, 0, tzinfo=plus3)))
    # 12:00+03:00 is 06:00-03:00: both are at or after it; a '+' sent raw would read as a space (a 400).
    assert [p.id for p in page.products] == [1, 2]
    assert server.raw[0].startswith("%24filter=LastUpdateDate+ge+2026-11-20T12%3A00%3A00%2B03%3A00&")
    assert server.queries[0]["$filter"] == "LastUpdateDate ge 2026-11-20T12:00:00+03:00"


def test_keyset_tokens_round_trip() -> None:
    since = datetime(2026, 11, 20, 10, 0, 0, 250000, tzinfo=BRT)
    for keyset in (
        Keyset("id"),
        Keyset("id", after_id=42),
        Keyset("updated", since=since),
        Keyset("updated", 9, since, tie=True),
        Keyset("updated", ALL_READ, datetime(2026, 1, 1, tzinfo=UTC)),
        Keyset("updated", 3, since_literal="2026-11-20T10:00:00.1234567-03:00"),
    ):
        token = keyset.to_token()
        assert Keyset.from_token(token) == keyset and Keyset.from_token(token).to_token() == token
    assert Keyset("updated", 5, since).to_token() == "updated:5:2026-11-20T10:00:00.250000-03:00"
    assert (
        Keyset("updated", since=datetime(2026, 1, 1, tzinfo=UTC)).to_token()
        == "updated:0:2026-01-01T00:00:00Z"
    )
    for bad in ("", "id:", "id:-1", "updated:1:2026-11-20T10:00:00", "tie:1", "skip:3"):
        with pytest.raises(ValueError):
            Keyset.from_token(bad)
    with pytest.raises(ValueError, match="aware"):
        Keyset("updated", since=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        Keyset("id", since=since)


# --- reading products ---


def test_the_contract_product_answer(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    router.get(path="/Products").respond(200, content=(FIXTURES / "products.json").read_bytes())
    page = ploomes.product_page(Keyset("id"), page_size=2)
    assert page.bad == [] and page.next == Keyset("id", 1002)
    first, second = page.products
    assert first == ProductRecord(
        id=1001,
        name="Bicicleta Aro 29",
        code="BIC-29",
        description="Quadro de alumínio",
        group_id=12,
        family_id=4,
        measurement_unit="UN",
        currency_id=1,
        unit_price=Decimal("1899.90"),
        created_at=datetime(2026, 1, 5, 9, 30, tzinfo=BRT),
        updated_at=datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=BRT),
        other_properties={
            "product_4F1A_text": "Vermelho",
            "product_4F1A_int": 0,
            "product_4F1A_decimal": "12.50",
            "product_4F1A_date": "2026-12-01T00:00:00-03:00",
            "product_4F1A_bool": False,
            "product_4F1A_object": {"Id": 31, "Name": "Caloi"},
            "product_4F1A_empty": None,
        },
    )
    assert (
        second.description is None and second.unit_price == Decimal("0.1") and second.other_properties == {}
    )
    assert str(first.unit_price) == "1899.90"


def test_prices_are_exact_decimals() -> None:
    for given, exact in ((19.9, "19.9"), (0.1, "0.1"), (100, "100"), (Decimal("1234567890.123456789"), None)):
        found = read_product(product(1, UnitPrice=given))
        assert isinstance(found, ProductRecord)
        assert found.unit_price == Decimal(exact or str(given)) and isinstance(found.unit_price, Decimal)
    body = json.loads('{"Action": "Update", "New": {"Id": 8, "Name": "N", "UnitPrice": 19.9}, "Old": null}')
    new = read_product(body["New"])  # a webhook body decoded with floats still reads exactly
    assert isinstance(new, ProductRecord) and str(new.unit_price) == "19.9" and new.updated_at is None


def test_bad_records_do_not_stop_the_page(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    items = [
        product(1),
        {k: v for k, v in product(2).items() if k != "Id"},
        product(3, "2026-13-01T00:00:00-03:00"),
        product(4, "2026-11-20T10:00:00"),  # no offset
        product(5, UnitPrice="lots"),
        product(6, Name=None),
        "garbage",
        product(7),
    ]
    router.get(path="/Products").mock(side_effect=[answer(items), answer([])])
    page = ploomes.product_page(Keyset("id"))
    assert [p.id for p in page.products] == [1, 7] and page.next is None
    assert [(b.id, b.reason) for b in page.bad] == [
        (None, "no-id"),
        (3, "bad-date"),
        (4, "bad-date"),
        (5, "bad-field"),
        (6, "bad-field"),
        (None, "not-an-object"),
    ]
    assert page.bad[1].message.startswith("LastUpdateDate:") and page.bad[3].message.startswith("UnitPrice:")


def test_products_by_id(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    server = FakePloomes([product(5), product(9, "not a date")])
    route = serve(router, server)
    found = ploomes.products_by_id([5, 6, 5, 9])
    assert route.call_count == 3 and list(found) == [5, 6, 9]
    assert isinstance(found[5], ProductRecord) and found[5].name == "Product 5"
    assert found[6] is None  # Ploomes has no such product
    assert isinstance(found[9], BadRecord) and found[9].reason == "bad-date"
    assert server.queries[0] == {"$filter": "Id eq 5", "$expand": "OtherProperties"}
    with pytest.raises(ValueError):
        ploomes.products_by_id(["5"])  # type: ignore[list-item]


# --- failures ---


def test_a_refused_user_key_names_its_setting(
    ploomes: PloomesCatalog, router: respx.MockRouter, audit: ListAudit
) -> None:
    route = router.get(path="/Products@Groups").respond(401, text=f"<html>bad key {KEY}</html>")
    with pytest.raises(errors.AuthError) as info:
        ploomes.check()
    assert str(info.value) == (
        "ploomes refused the User-Key: GET /Products@Groups answered HTTP 401; check PLOOMES_USER_KEY"
    )
    assert info.value.status == 401 and route.call_count == 1
    assert KEY not in audit.dumped()


def test_a_named_connection_names_its_secret(
    router: respx.MockRouter, audit: ListAudit, clock: FakeTime
) -> None:
    conn = Connection("ploomes", "crm-b", BASE, SecretStr(KEY), 600, "CRM_B_KEY")
    router.get(path="/Products").respond(401)
    with connector(router, audit, clock, connection=conn) as ploomes, pytest.raises(errors.AuthError) as info:
        ploomes.product_page(Keyset("id"))
    assert str(info.value) == "crm-b refused the User-Key: GET /Products answered HTTP 401; check CRM_B_KEY"


def test_a_429_waits_as_retry_after_says(
    ploomes: PloomesCatalog, router: respx.MockRouter, clock: FakeTime
) -> None:
    route = router.get(path="/Products").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, text="slow down"),
            answer([product(1)]),
            answer([]),
        ]
    )
    page = ploomes.product_page(Keyset("id"))
    assert [p.id for p in page.products] == [1] and route.call_count == 3
    (waited,) = clock.slept
    assert 7 <= waited <= 8 and ploomes.http.throttled == 1


def test_an_unreachable_base_is_one_clear_line(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    router.get(path="/Products@Groups").mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(errors.TransientError) as info:
        ploomes.check()
    message = str(info.value)
    assert message == f"ploomes: cannot reach {BASE} (connection refused) after 3 attempts"
    assert "\n" not in message


def test_an_answer_without_a_value_list_is_transient(
    ploomes: PloomesCatalog, router: respx.MockRouter
) -> None:
    router.get(path="/Products").respond(200, json={"error": "?"})
    with pytest.raises(errors.TransientError, match="without a value list"):
        ploomes.product_page(Keyset("id"))


# --- webhooks ---


def test_register_webhook(router: respx.MockRouter, clock: FakeTime) -> None:
    audit = ListAudit()
    route = router.post("/Webhooks").respond(
        200,
        json={"value": [{"Id": 77, "EntityId": 10, "ActionId": 2, "CallbackUrl": "https://me.test/hook"}]},
    )
    settings = make_settings(audit_bodies=True, audit_body_max_chars=100_000)
    with connector(router, audit, clock, settings) as ploomes:
        made = ploomes.register_webhook(
            callback_url="https://me.test/hook", validation_key="vk-Secret-123", entity_id=10, action_id=2
        )
    assert made["Id"] == 77
    request = route.calls.last.request
    assert request.headers["User-Key"] == KEY and request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "EntityId": 10,
        "ActionId": 2,
        "CallbackUrl": "https://me.test/hook",
        "ValidationKey": "vk-Secret-123",
    }
    assert "vk-Secret-123" not in audit.dumped() and KEY not in audit.dumped()


def test_a_failed_registration_is_not_resent(ploomes: PloomesCatalog, router: respx.MockRouter) -> None:
    route = router.post("/Webhooks").respond(503)
    with pytest.raises(errors.TransientError):
        ploomes.register_webhook(
            callback_url="https://me.test/h", validation_key="vk-1234", entity_id=1, action_id=1
        )
    assert route.call_count == 1  # it may have arrived: a second one would register it twice


def test_a_relative_next_link_is_followed_on_the_base(
    ploomes: PloomesCatalog, router: respx.MockRouter
) -> None:
    route = router.get(path="/Products@Families").mock(
        side_effect=[answer([{"Id": 1, "Name": "A"}], link="Products@Families?$skip=1&$top=1"), answer([])]
    )
    assert ploomes.families() == [Family(1, "A", None)]
    later = route.calls.last.request.url
    assert (later.host, later.params["$skip"], later.params["$top"]) == ("public-api2.ploomes.test", "1", "1")


def test_answers_that_contradict_the_keyset_stop_the_read(
    ploomes: PloomesCatalog, router: respx.MockRouter
) -> None:
    at = "2026-11-20T10:00:00-03:00"
    router.get(path="/Products").mock(side_effect=lambda request: answer([product(1, at), product(2, at)]))
    past = Keyset("updated", ALL_READ, since_literal=at)  # every product at `at` is read: gt
    with pytest.raises(
        errors.PermanentError, match="gt 2026-11-20T10:00:00-03:00 answered products at that very"
    ):
        ploomes.product_page(past, page_size=2)
    older = Keyset("updated", since=datetime(2026, 11, 21, tzinfo=UTC))
    with pytest.raises(errors.PermanentError, match="only older products"):
        ploomes.product_page(older, page_size=2)
