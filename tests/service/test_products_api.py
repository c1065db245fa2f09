"""`/products/search`, `/products/categories`, `/products/{id}`: folding, filters, paging, errors, freshness,
read-cache metrics; on SQLite and PostgreSQL (the ``settings`` fixture)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.multiprocess import MultiProcessCollector

from catalog_sync.service import create_app
from catalog_sync.service.folding import fold
from catalog_sync.service.read_cache_counters import MULTIPROCESS_DIR, read_cache_totals
from sync_core.db import get_engine
from sync_core.errors import ConfigError
from sync_core.pipelines.ploomes import read_index
from sync_core.pipelines.ploomes.read_index import ProductIndex
from sync_core.pipelines.ploomes.read_snapshot import build_snapshot
from sync_core.pipelines.ploomes.tables import PloomesProduct
from sync_core.settings import Settings
from sync_core.tables import SyncRun, utcnow
from tests.service import seed
from tests.service.test_metrics import by, scrape

PRODUCTS: sa.Table = PloomesProduct.__table__  # type: ignore[attr-defined]
SYNCED = datetime(2026, 11, 26, 21, 0, 3, 512000, tzinfo=UTC)


def product(url: str, ploomes_id: int, name: str, **values: Any) -> int:
    """Insert one product as a sync would leave it; ``values`` override the columns."""
    now = utcnow()
    row: dict[str, Any] = {
        "ploomes_id": ploomes_id,
        "name": name,
        "code": f"CIA_{ploomes_id:04d}",
        "description": None,
        "product_type": "product",
        "category": None,
        "subcategory": None,
        "group_id": None,
        "family_id": None,
        "unit_price": Decimal("10.00"),
        "currency": "BRL",
        "unit_of_measure": "un",
        "custom_fields": {},
        "source_created_at": None,
        "source_updated_at": None,
        "active": True,
        "version": 1,
        "fingerprint": f"fp{ploomes_id}",
        "first_seen_at": now,
        "last_changed_at": now,
        "last_synced_at": SYNCED,
        **values,
    }
    with get_engine(url).begin() as conn:
        conn.execute(PRODUCTS.insert(), [row])
    return ploomes_id


def change(url: str, ploomes_id: int, **values: Any) -> None:
    """A sync's rewrite of a product: a new last_changed_at, the version up."""
    values = {"last_changed_at": utcnow(), "version": PRODUCTS.c.version + 1, **values}
    with get_engine(url).begin() as conn:
        conn.execute(PRODUCTS.update().where(PRODUCTS.c.ploomes_id == ploomes_id).values(**values))


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return seed.client_for(settings)


def found(client: TestClient, **params: Any) -> list[int]:
    response = client.get("/products/search", params=params)
    assert response.status_code == 200, response.text
    return [p["ploomes_id"] for p in response.json()["data"]["products"]]


def test_a_product_answers_every_field(settings: Settings, client: TestClient) -> None:
    product(
        settings.database_url,
        401234,
        "Locação de Andaime Tubular 1,5 m",
        code="CIA_LOC_0042",
        description="Andaime galvanizado, diária",
        product_type="rental",
        category="Locação",
        subcategory="Andaimes",
        unit_price=Decimal("189.9000"),
        unit_of_measure="diária",
        custom_fields={"Marca": "Atlas", "Peso": 12.5},
        source_created_at=datetime(2024, 3, 5, 14, 20, tzinfo=UTC),
        source_updated_at=datetime(2026, 10, 1, 12, 0, 12, tzinfo=UTC),
        version=3,
    )
    expected = {
        "ploomes_id": 401234,
        "name": "Locação de Andaime Tubular 1,5 m",
        "code": "CIA_LOC_0042",
        "description": "Andaime galvanizado, diária",
        "product_type": "rental",
        "category": "Locação",
        "subcategory": "Andaimes",
        "unit_price": 189.9,
        "currency": "BRL",
        "unit_of_measure": "diária",
        "custom_fields": {"Marca": "Atlas", "Peso": 12.5},
        "source_created_at": "2024-03-05T14:20:00Z",
        "source_updated_at": "2026-10-01T12:00:12Z",
        "active": True,
        "version": 3,
        "last_synced_at": "2026-11-26T21:00:03.512000Z",
    }
    response = client.get("/products/search")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == {
        "data": {"products": [expected], "total": 1, "limit": 50, "offset": 0},
        "error": None,
    }
    assert '"unit_price":189.9,' in response.text  # a JSON number, exact as stored
    one = client.get("/products/401234")
    assert one.status_code == 200 and one.json() == {"data": {"product": expected}, "error": None}


@pytest.mark.parametrize(
    ("stored", "price"), [("1200.0000", "1200.0"), ("0.0999", "0.0999"), ("12345678.1234", "12345678.1234")]
)
def test_prices_are_exact_decimal_numbers(
    settings: Settings, client: TestClient, stored: str, price: str
) -> None:
    product(settings.database_url, 1, "Priced", unit_price=Decimal(stored))
    product(settings.database_url, 2, "Unpriced", unit_price=None)
    text = client.get("/products/search").text
    assert f'"unit_price":{price},' in text and '"unit_price":null,' in text


def test_search_ignores_case_and_accents_both_ways(settings: Settings, client: TestClient) -> None:
    url = settings.database_url
    locacao = product(url, 1, "Locação de Betoneira 400 L")
    manutencao = product(url, 2, "manutencao preventiva de elevador")
    eletrica = product(url, 3, "Instalação", code="ING-77", description="Serviço de rede ELÉTRICA")
    product(url, 4, "Parafuso sextavado", code="ATL-0001")
    assert found(client, q="locacao") == [locacao]
    assert found(client, q="LOCAÇÃO") == [locacao]
    assert found(client, q="MANUTENÇÃO") == [manutencao]
    assert found(client, q="Manutenção  Preventiva") == [manutencao]  # whitespace runs are one space
    assert found(client, q="eletrica") == [eletrica]  # in the description
    assert found(client, q="ing-7") == [eletrica]  # in the code
    assert found(client, q="ção") == [eletrica, locacao, manutencao]  # "cao" in each; ordered by name
    assert found(client, q="instalacao ing") == []  # a match never spans two fields
    assert found(client, q="nothing like it") == []
    assert found(client, q="  ") == [eletrica, locacao, manutencao, 4]  # blank: no text filter


def test_fold() -> None:
    assert fold("  MANUTENÇÃO\tElétrica\n") == "manutencao eletrica"
    assert fold("Straße Ａｔｌａｓ") == "strasse atlas"  # casefold and NFKD's compatibility forms
    assert fold("a\x00b\x01 c") == "a b c"


def test_filters_narrow_the_search(settings: Settings, client: TestClient) -> None:
    url = settings.database_url
    rental = product(url, 1, "Andaime", product_type="rental", category="Locação")
    rental_off = product(url, 2, "Andaime velho", product_type="rental", category="LOCAÇÃO", active=False)
    longer = product(url, 3, "Betoneira", product_type="rental", category="Locação de Máquinas")
    service = product(url, 4, "Montagem de andaime", product_type="service", category="Serviços")
    product(url, 5, "Parafuso", product_type="product", category=None)
    assert found(client, category="locacao") == [rental, rental_off]  # whole category, folded
    assert found(client, category="Locação de máquinas") == [longer]
    assert found(client, type="rental") == [rental, rental_off, longer]
    assert found(client, active="true", type="rental") == [rental, longer]
    assert found(client, active="FALSE") == [rental_off]
    assert found(client, q="andaime") == [rental, rental_off, service]
    assert found(client, q="andaime", type="service") == [service]
    assert found(client, q="andaime", category="LOCACAO", active="true") == [rental]
    assert found(client, q="andaime", category="nope") == []
    assert found(client, category="", type="", active="") == [rental, rental_off, longer, service, 5]
    assert found(client, color="red") == [rental, rental_off, longer, service, 5]  # unknown: ignored


def test_paging_and_order(settings: Settings, client: TestClient) -> None:
    url = settings.database_url
    names = ["beta", "Álamo", "alamo", "Zeta", "ébano", "Cedro", "alamo"]
    for n, name in enumerate(names, start=10):
        product(url, 100 - n, name, category="Madeira")
    # By folded name, then the name as written (code points: "alamo" before "Álamo"), then ploomes_id.
    expected = [84, 88, 89, 90, 85, 86, 87]  # alamo, alamo, Álamo, beta, Cedro, ébano, Zeta
    assert found(client, limit=200) == expected
    page = client.get("/products/search", params={"limit": 3, "offset": 3}).json()["data"]
    assert [p["ploomes_id"] for p in page["products"]] == expected[3:6]
    assert (page["total"], page["limit"], page["offset"]) == (7, 3, 3)
    last = client.get("/products/search", params={"q": "É", "limit": 2, "offset": 2}).json()["data"]
    assert [p["ploomes_id"] for p in last["products"]] == [86, 87] and last["total"] == 4  # no alamo
    beyond = client.get("/products/search", params={"offset": 50}).json()["data"]
    assert beyond == {"products": [], "total": 7, "limit": 50, "offset": 50}


def test_categories_count_products_types_and_active(settings: Settings, client: TestClient) -> None:
    url = settings.database_url
    product(url, 1, "a", category="Atlas", product_type="product")
    product(url, 2, "b", category="Atlas", product_type="product", active=False)
    product(url, 3, "c", category="ATLAS", product_type="service")
    product(url, 4, "d", category="Locação", product_type="rental")
    product(url, 5, "e", category=None, product_type="service")
    response = client.get("/products/categories")
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "categories": [
                {"category": "Atlas", "products": 3, "active": 2, "types": {"service": 1, "product": 2}},
                {"category": "Locação", "products": 1, "active": 1, "types": {"rental": 1}},
                {"category": None, "products": 1, "active": 1, "types": {"service": 1}},
            ]
        },
        "error": None,
    }
    assert '"types":{"service":1,"product":2}' in response.text  # in the order service, rental, product


def test_empty_store_answers_empty(client: TestClient) -> None:
    assert client.get("/products/search").json() == {
        "data": {"products": [], "total": 0, "limit": 50, "offset": 0},
        "error": None,
    }
    assert client.get("/products/categories").json() == {"data": {"categories": []}, "error": None}


def test_by_id_and_not_found(settings: Settings, client: TestClient) -> None:
    product(settings.database_url, 7, "Sete", active=False)
    assert client.get("/products/7").json()["data"]["product"]["name"] == "Sete"  # inactive too
    missing = client.get("/products/8")
    assert missing.status_code == 404
    assert missing.json() == {"data": None, "error": {"code": "not_found", "message": "no product 8"}}
    for bad in ("abc", "7.0", "1e3", "99999999999999999999"):
        refused = client.get(f"/products/{bad}")
        assert refused.status_code == 400
        assert refused.json() == {
            "data": None,
            "error": {"code": "invalid_parameter", "message": f"ploomes_id must be an integer, not {bad!r}"},
        }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit must be an integer from 1 to 200, not '0'"),
        ("limit=201", "limit must be an integer from 1 to 200, not '201'"),
        ("limit=ten", "limit must be an integer from 1 to 200, not 'ten'"),
        ("limit=-1", "limit must be an integer from 1 to 200, not '-1'"),
        ("offset=-1", "offset must be an integer of 0 or more, not '-1'"),
        ("offset=1.5", "offset must be an integer of 0 or more, not '1.5'"),
        ("type=Service", "type must be one of service, rental, product, not 'Service'"),
        ("active=yes", "active must be true or false, not 'yes'"),
        ("q=" + "x" * 201, "q must be at most 200 characters long"),
        ("category=" + "x" * 201, "category must be at most 200 characters long"),
        ("q=a&q=b", "q is given 2 times; give it once"),
        ("limit=5&limit=5", "limit is given 2 times; give it once"),
    ],
)
def test_bad_parameters_answer_400_in_the_envelope(client: TestClient, query: str, message: str) -> None:
    response = client.get(f"/products/search?{query}")
    assert response.status_code == 400
    assert response.json() == {"data": None, "error": {"code": "invalid_parameter", "message": message}}


def test_an_unreachable_store_answers_500_in_the_envelope(settings: Settings) -> None:
    client = seed.client_for(seed.unreachable_settings(settings))
    for path in ("/products/search", "/products/categories", "/products/1"):
        response = client.get(path)
        assert response.status_code == 500
        assert response.json() == {
            "data": None,
            "error": {
                "code": "internal_error",
                "message": "the product store is unavailable; try again shortly",
            },
        }
        assert "secretpw" not in response.text


def test_invalid_settings_answer_500_in_the_envelope() -> None:
    def broken() -> Settings:
        raise ConfigError("invalid setting DATABASE_URL: nope")

    client = TestClient(create_app(broken))
    for path in ("/products/search?q=a", "/products/categories", "/products/1"):
        response = client.get(path)
        assert response.status_code == 500
        assert response.json() == {
            "data": None,
            "error": {
                "code": "internal_error",
                "message": "the service's settings are invalid; its log says which",
            },
        }
        assert "nope" not in response.text


def test_a_change_shows_at_the_next_version_check(settings: Settings, client: TestClient) -> None:
    url = settings.database_url
    now = [1000.0]
    index = ProductIndex(lambda: settings, clock=lambda: now[0])
    client.app.state.products = index  # type: ignore[attr-defined]
    first = product(url, 1, "Andaime")
    assert found(client, q="andaime") == [first]
    change(url, first, name="Betoneira")
    added = product(url, 2, "Andaime novo")
    now[0] += read_index.VERSION_CHECK_S - 0.01
    assert found(client, q="andaime") == [first]  # before the check is due: the copy (and its cache)
    now[0] += 0.01
    assert found(client, q="andaime") == [added]
    assert client.get("/products/1").json()["data"]["product"]["version"] == 2

    change(url, added, active=False)  # a later batch: the same row count, a newer last_changed_at
    now[0] += read_index.VERSION_CHECK_S
    assert found(client, q="andaime", active="false") == [added]


def test_a_write_that_leaves_the_version_alone_shows_within_max_age(
    settings: Settings, client: TestClient
) -> None:
    now = [1000.0]
    client.app.state.products = ProductIndex(lambda: settings, clock=lambda: now[0])  # type: ignore[attr-defined]
    product(settings.database_url, 1, "Antes")
    assert client.get("/products/1").json()["data"]["product"]["name"] == "Antes"
    with get_engine(settings.database_url).begin() as conn:  # no last_changed_at: the version stays
        conn.execute(PRODUCTS.update().values(name="Depois", last_synced_at=SYNCED + timedelta(hours=1)))
    now[0] += read_index.MAX_AGE_S - 1
    assert client.get("/products/1").json()["data"]["product"]["name"] == "Antes"
    now[0] += 1
    # This request starts reading the table in a thread and is answered from the copy it has.
    assert client.get("/products/1").json()["data"]["product"]["name"] == "Antes"
    deadline = time.monotonic() + 10
    while client.get("/products/1").json()["data"]["product"]["name"] == "Antes":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert (
        client.get("/products/1").json()["data"]["product"]["last_synced_at"] == "2026-11-26T22:00:03.512000Z"
    )


def test_metrics_count_the_answer_cache(settings: Settings, client: TestClient) -> None:
    product(settings.database_url, 1, "Andaime")

    def counts() -> tuple[float, float, float]:
        samples = scrape(client)
        return tuple(  # type: ignore[return-value]
            by(samples, f"catalog_sync_read_cache_{name}_total", api="products")[()]
            for name in ("hits", "misses", "reloads")
        )

    before = counts()
    assert not [name for name, _labels in scrape(client) if name.endswith("_created")]  # as before Counters
    found(client, q="andaime metrics")  # a miss (and the first read of the table: a reload)
    found(client, q="ANDAIME   metrics")  # the same query, folded: a hit
    found(client, q="andaime metrics", limit=5)  # another page: a miss
    client.get("/products/1")  # no answer cache: neither
    after = counts()
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 2, 1]
    ratio = by(scrape(client), "catalog_sync_read_cache_hit_ratio", api="products")[()]
    assert 0 < ratio < 1


def test_run_records_per_second_is_the_last_finished_run(settings: Settings) -> None:
    start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def run(
        pipeline: str, fetched: int, seconds: float | None, *, offset_h: int, status: str = "success"
    ) -> None:
        began = start + timedelta(hours=offset_h)
        finished = None if seconds is None else began + timedelta(seconds=seconds)
        with get_engine(settings.database_url).begin() as conn:
            conn.execute(
                SyncRun.__table__.insert(),  # type: ignore[attr-defined]
                [
                    {
                        "pipeline": pipeline,
                        "scope": "full",
                        "status": status,
                        "started_at": began,
                        "finished_at": finished,
                        "fetched": fetched,
                    }
                ],
            )

    run("sync-ploomes", 100, 10, offset_h=0)
    run("sync-ploomes", 1200, 8, offset_h=1, status="partial")  # the last finished: 150 a second
    run("sync-ploomes", 5, None, offset_h=2, status="running")
    run("sync-ingram", 10, 4, offset_h=0, status="failed")
    run("sync-fever", 3, 0, offset_h=0)  # no time taken: no rate
    samples = scrape(seed.client_for(settings))
    assert by(samples, "catalog_sync_run_records_per_second") == {
        ("sync-ingram",): 2.5,
        ("sync-ploomes",): 150,
    }


def test_counters_sum_every_worker_of_the_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Processes that count with PROMETHEUS_MULTIPROC_DIR set are summed from their files, after they exited
    too (`serve` replacing a worker must not make a counter go down)."""
    count = (
        "from catalog_sync.service.read_cache_counters import read_cache_counters as c\n"
        "products, other = c('products'), c('other')\n"
        "products.hit(); products.hit(); products.miss(); products.reload(); other.miss()\n"
    )
    for _ in range(2):
        env = {**os.environ, MULTIPROCESS_DIR: str(tmp_path)}
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=60)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2  # one file per process
    monkeypatch.setenv(MULTIPROCESS_DIR, str(tmp_path))
    assert read_cache_totals() == {
        "other": {"hits": 0, "misses": 2, "reloads": 0},
        "products": {"hits": 4, "misses": 2, "reloads": 2},
    }


def test_openapi_describes_the_products_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    search = spec["paths"]["/products/search"]["get"]
    assert [p["name"] for p in search["parameters"]] == ["q", "category", "type", "active", "limit", "offset"]
    assert {"200", "400", "500", "default"} <= set(search["responses"])
    assert spec["paths"]["/products/{ploomes_id}"]["get"]["parameters"][0]["schema"] == {"type": "integer"}
    by_id = set(spec["paths"]["/products/{ploomes_id}"]["get"]["responses"])
    assert {"200", "400", "404", "500", "default"} <= by_id
    assert "/products/categories" in spec["paths"]
    assert (
        "decimal number"
        in spec["components"]["schemas"]["ProductOut"]["properties"]["unit_price"]["description"]
    )


def test_two_workers_share_their_counters(tmp_path: Path) -> None:
    """`serve --workers 2`: every new connection is one request; /metrics counts them all, whichever worker
    answers it, from the directory `serve` made for them (and removes when it stops)."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    port = seed.free_port()
    command = [sys.executable, "-m", "catalog_sync.cli", "serve", "--port", str(port), "--workers", "2"]
    env = {**os.environ, "DATABASE_URL": url, "TMPDIR": str(tmp_path)}  # where serve makes its directory
    env.pop(MULTIPROCESS_DIR, None)
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            try:
                httpx.get(f"{base}/products/categories", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        answered = 0
        for n in range(30):  # each on a new connection: the kernel spreads them over both workers
            response = httpx.get(f"{base}/products/search", params={"q": f"x{n % 10}"}, timeout=5)
            answered += response.status_code == 200
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        (directory,) = tmp_path.glob("catalog-sync-metrics-*")
        answers_per_file = [
            sum(
                sample.value
                for metric in MultiProcessCollector.merge([str(path)])
                for sample in metric.samples
                if sample.name.startswith(("catalog_sync_read_cache_hits", "catalog_sync_read_cache_misses"))
            )
            for path in directory.glob("counter_*.db")
        ]
        assert len([n for n in answers_per_file if n]) == 2  # both workers answered some
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert answered == 30
    hits = next(
        x for x in metrics.splitlines() if x.startswith('catalog_sync_read_cache_hits_total{api="products"}')
    )
    misses = next(
        x
        for x in metrics.splitlines()
        if x.startswith('catalog_sync_read_cache_misses_total{api="products"}')
    )
    assert float(hits.split()[-1]) + float(misses.split()[-1]) == 30
    assert float(misses.split()[-1]) >= 10  # every distinct query, at least once
    assert 'catalog_sync_read_cache_hit_ratio{api="products"}' in metrics
    assert process.returncode == 0 and b"Traceback" not in err, err
    assert not directory.exists()  # removed when serve stopped


def test_searches_agree_with_a_plain_substring_test() -> None:
    """The trigram lookup finds exactly what testing every product's folded fields finds."""
    rng = random.Random(5)
    words = [
        "Locação",
        "manutenção",
        "ÓLEO",
        "filtro",
        "Ar",
        "ar-condicionado",
        "Ação",
        "a",
        "São",
        "cão",
        "x",
    ]
    rows = []
    for n in range(400):
        rows.append(
            {
                "ploomes_id": n,
                "name": " ".join(rng.choices(words, k=rng.randint(1, 4))),
                "code": rng.choice([None, f"CIA_LOC_{n}", f"ATL-{n:05d}", f"ING-{n}"]),
                "description": rng.choice([None, "", " ".join(rng.choices(words, k=3))]),
                "product_type": rng.choice(["service", "rental", "product"]),
                "category": rng.choice([None, "Locação", "LOCACAO", "Atlas"]),
                "subcategory": None,
                "unit_price": None,
                "currency": None,
                "unit_of_measure": None,
                "custom_fields": {},
                "source_created_at": None,
                "source_updated_at": None,
                "active": rng.random() < 0.8,
                "version": 1,
                "last_synced_at": SYNCED,
            }
        )
    snapshot = build_snapshot((), rows, 0.0)
    order = [orjson.loads(f)["ploomes_id"] for f in snapshot.fragments]
    by_id = {row["ploomes_id"]: row for row in rows}
    queries = [
        "a",
        "ar",
        "ca",
        "cao",
        "acao",
        "ao c",
        "loc",
        "locacao",
        "o manut",
        "cia_loc_1",
        "atl-000",
        "zz",
    ]
    for q in queries:
        for wanted in [(None, None, None), ("locacao", None, None), (None, "rental", True)]:
            expected = [
                pid
                for pid in order
                if any(q in fold(by_id[pid][f] or "") for f in ("name", "code", "description"))
                and (wanted[0] is None or fold(by_id[pid]["category"] or "") == wanted[0])
                and (wanted[1] is None or by_id[pid]["product_type"] == wanted[1])
                and (wanted[2] is None or by_id[pid]["active"] == wanted[2])
            ]
            body = orjson.loads(snapshot.search((q, *wanted, 200, 0)))["data"]
            assert [p["ploomes_id"] for p in body["products"]] == expected[:200], (q, wanted)
            assert body["total"] == len(expected)
