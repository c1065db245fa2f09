"""Load benchmark of the products read API: seed Ploomes products, start `catalog-sync serve`, drive it, print
figures and the answer cache's hit ratio from /metrics.

    .venv/bin/python -m bench.products_search [--db sqlite|postgres | --database-url URL] [--products 12000]
        [--workers 2] [--mix varied|uncached] [--connections 32] [--duration 10] [--warmup 2]
        [--loadgen auto|wrk|python] [--threads 1]

The store is a fresh SQLite file (default), a throw-away PostgreSQL database next to CATALOG_SYNC_TEST_PG_URL
(``--db postgres``), or an existing store (``--database-url``: seeded only when its products table is empty).
Products are Portuguese-named, with accents: rentals (``CIA_LOC_``), services and own products (``CIA_``),
Atlas compressor parts (``ATL-``) and Ingram IT products (``ING-``), in 16 categories. Mixes: ``varied``, what
a catalogue screen asks (see ``request_paths``: words with and without accents, categories, types, pages,
single products, the category list), 5,000 targets cycled; ``uncached`` the same kinds of searches, each
distinct (every /products/search answer is computed). Load generation and latency figures as in
bench/search_load.py (wrk when installed, closed loop).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from bench import search_loadgen
from bench.harness import state_store
from bench.search_load import _http_stack, _tree_cpu_s, service
from catalog_sync.service.folding import fold
from sync_core.db import get_engine, refresh_statistics, upgrade
from sync_core.pipelines.ploomes.tables import PloomesProduct

PRODUCTS: sa.Table = PloomesProduct.__table__  # type: ignore[attr-defined]

RENTALS = (
    "Andaime Tubular", "Betoneira 400 L", "Compressor de Ar 20 pcm", "Gerador Diesel 150 kVA",
    "Plataforma Elevatória 12 m", "Martelete Rompedor 10 kg", "Container Almoxarifado", "Rolo Compactador",
    "Escoramento Metálico", "Caminhão Munck", "Gerador Silenciado 80 kVA", "Compressor Portátil 750 pcm",
    "Torre de Iluminação", "Cortadora de Piso", "Placa Vibratória", "Guincho de Coluna",
)  # fmt: skip
SERVICES = (
    "Manutenção Preventiva", "Manutenção Corretiva", "Instalação", "Calibração", "Visita Técnica",
    "Inspeção de Segurança", "Treinamento de Operação", "Retífica", "Revisão Geral", "Diagnóstico Elétrico",
)  # fmt: skip
SERVICE_OBJECTS = (
    "de Compressor", "de Gerador", "de Elevador", "de Ar-Condicionado", "de Quadro Elétrico",
    "de Bomba Hidráulica", "de Secador de Ar", "de Rede Lógica", "de Servidor", "de Nobreak",
)  # fmt: skip
ATLAS = (
    "Filtro de Óleo", "Filtro de Ar", "Separador Ar/Óleo", "Kit de Manutenção 4000 h", "Válvula de Admissão",
    "Óleo Roto-Inject Fluid 20 L", "Correia de Transmissão", "Sensor de Temperatura", "Elemento Separador",
    "Válvula Termostática", "Rolamento do Motor", "Purgador Eletrônico", "Compressor Parafuso GA",
)  # fmt: skip
INGRAM = (
    "Notebook Dell Latitude 5440", "Monitor LG 27\" 4K", "Switch Cisco Catalyst 9200 24 portas",
    "Licença Microsoft 365 Business", "SSD Kingston NVMe 1 TB", "Cabo de Rede Cat6 305 m",
    "Nobreak APC 3 kVA", "Impressora HP LaserJet Pro", "Access Point Ubiquiti U6", "Servidor Dell PowerEdge",
    "Teclado e Mouse sem Fio Logitech", "Webcam Logitech Full HD", "Memória DDR5 16 GB", "Firewall Fortinet 60F",
)  # fmt: skip
OWN = (
    "Conexão Rápida 1/2\"", "Mangueira de Ar Comprimido", "Engate Rápido", "Manômetro 0-16 bar",
    "Reservatório de Ar 500 L", "Pistola de Limpeza", "Regulador de Pressão", "Tubulação de Alumínio",
)  # fmt: skip
# (category, subcategories): the Ploomes groups and families.
CATEGORIES = {
    "rental": (("Locação de Equipamentos", ("Construção", "Energia", "Ar Comprimido")),
               ("Locação de Máquinas", ("Elevação", "Compactação")), ("Andaimes e Escoramentos", ("Andaimes",))),
    "service": (("Serviços de Manutenção", ("Preventiva", "Corretiva")), ("Instalação", ("Elétrica", "Mecânica")),
                ("Assistência Técnica", ("Campo", "Oficina")), ("Treinamentos", ("Operação",))),
    "atlas": (("Atlas", ("Filtros", "Kits", "Lubrificantes", "Compressores")), ("Peças e Acessórios", ("Atlas",))),
    "ingram": (("Ingram", ("Notebooks", "Redes", "Licenças", "Periféricos")), ("Informática", ("Servidores",)),
               ("Energia e Nobreaks", ("Nobreaks",))),
    "own": (("Ar Comprimido", ("Conexões", "Reservatórios")), ("Ferramentas Pneumáticas", ("Pistolas",))),
}  # fmt: skip
DETAILS = (
    "Garantia de 12 meses.", "Entrega em até 5 dias úteis.", "Inclui mão de obra e deslocamento.",
    "Preço por diária; mínimo de 7 dias.", "Produto importado; sujeito a disponibilidade.",
    "Atendimento em São Paulo, Curitiba e Belo Horizonte.", "Compatível com a linha GA 11-30.",
    "Nota fiscal com ICMS e IPI destacados.", "Certificado de calibração RBC.",
)  # fmt: skip
START = datetime(2021, 1, 1, tzinfo=UTC)


def _product(rng: random.Random, n: int, now: datetime) -> dict[str, Any]:
    kind = rng.choices(("rental", "service", "atlas", "ingram", "own"), (0.18, 0.2, 0.27, 0.25, 0.1))[0]
    model = rng.randrange(10, 9999)
    if kind == "rental":
        name, product_type, code = f"Locação de {rng.choice(RENTALS)}", "rental", f"CIA_LOC_{n:05d}"
        name += rng.choice(("", " - diária", " - mensal", f" {model}"))
    elif kind == "service":
        name, product_type, code = (
            f"{rng.choice(SERVICES)} {rng.choice(SERVICE_OBJECTS)}",
            "service",
            f"CIA_{n:05d}",
        )
        name += rng.choice(("", " - por hora", f" (contrato {model})"))
    elif kind == "atlas":
        name, product_type, code = (
            f"{rng.choice(ATLAS)} {model}",
            "product",
            f"ATL-{rng.randrange(10**9):09d}",
        )
    elif kind == "ingram":
        name, product_type, code = (
            f"{rng.choice(INGRAM)} {model}",
            "product",
            f"ING-{rng.randrange(10**7):07d}",
        )
    else:
        name, product_type, code = f"{rng.choice(OWN)} {model}", "product", f"CIA_{n:05d}"
    category, subcategories = rng.choice(CATEGORIES[kind])
    created = START + timedelta(days=rng.randrange(1500), seconds=rng.randrange(86400))
    price = Decimal(rng.randrange(990, 2_500_000)) / 100
    return {
        "ploomes_id": 400_000 + n * 7,
        "name": name,
        "code": code if rng.random() > 0.02 else None,
        "description": " ".join(rng.sample(DETAILS, rng.randint(1, 3))) if rng.random() > 0.1 else None,
        "product_type": product_type,
        "category": category if rng.random() > 0.03 else None,
        "subcategory": rng.choice(subcategories),
        "group_id": hash(category) % 1000,
        "family_id": rng.randrange(1, 60),
        "unit_price": price if rng.random() > 0.05 else None,
        "currency": "USD" if kind == "ingram" and rng.random() < 0.3 else "BRL",
        "unit_of_measure": {"rental": "diária", "service": "hora"}.get(product_type, "un"),
        "custom_fields": {
            "NCM": f"{rng.randrange(8400, 8599)}.{rng.randrange(10, 99)}.{rng.randrange(10, 99)}",
            "Marca": {"atlas": "Atlas Copco", "ingram": rng.choice(("Dell", "Cisco", "HP", "LG"))}.get(kind, "CIA"),
            "Prazo de entrega (dias)": rng.randint(1, 30),
        },
        "source_created_at": created,
        "source_updated_at": created + timedelta(days=rng.randrange(300)),
        "active": rng.random() < 0.92,
        "version": rng.randint(1, 6),
        "fingerprint": hashlib.sha256(f"{n}{name}{price}".encode()).hexdigest(),
        "first_seen_at": now,
        "last_changed_at": now,
        "last_synced_at": now,
    }  # fmt: skip


def seed_products(url: str, count: int, *, seed: int = 7) -> int:
    """Insert ``count`` products when the table is empty; return the rows it holds."""
    engine = get_engine(url)
    with engine.connect() as conn:
        held = int(conn.execute(sa.select(sa.func.count()).select_from(PRODUCTS)).scalar_one())
    if held:
        return held
    rng, now = random.Random(seed), datetime.now(UTC)
    rows = [_product(rng, n, now) for n in range(count)]
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(PRODUCTS.insert(), rows[start : start + 1000])
    refresh_statistics(url, ("ploomes_products",))
    return count


# What people type: words with and without accents, in any case, parts of codes.
WORDS = (
    "locação", "locacao", "LOCAÇÃO", "manutenção", "manutencao", "MANUTENCAO", "preventiva", "compressor",
    "gerador", "filtro", "óleo", "oleo", "notebook", "dell", "cisco", "switch", "andaime", "betoneira",
    "válvula", "valvula", "nobreak", "licença", "instalação", "instalacao", "calibração", "elétrico",
    "eletrico", "monitor", "ssd", "kit", "cia_loc", "atl-", "ing-", "CIA_LOC_001", "diária", "plataforma",
    "separador", "treinamento", "visita técnica", "ar comprimido", "rede", "servidor", "hora", "mensal",
)  # fmt: skip
PAIRS = ("locação gerador", "manutenção compressor", "filtro de ar", "notebook dell", "locacao de andaime",
         "manutencao preventiva", "kit de manutenção", "switch cisco", "instalação de servidor")  # fmt: skip
CATEGORY_QUERIES = (
    "Atlas", "atlas", "Ingram", "Locação de Equipamentos", "locacao de equipamentos", "Serviços de Manutenção",
    "servicos de manutencao", "Informática", "informatica", "Instalação", "Peças e Acessórios", "Ar Comprimido",
    "Andaimes e Escoramentos", "Treinamentos", "Energia e Nobreaks", "Assistência Técnica",
)  # fmt: skip
KINDS = (
    (0.30, "word"), (0.10, "pair"), (0.14, "category"), (0.08, "type"), (0.10, "word+filter"),
    (0.08, "page"), (0.10, "id"), (0.05, "categories"), (0.05, "all"),
)  # fmt: skip


def _target(rng: random.Random, kind: str, ids: Sequence[int]) -> str:
    params: dict[str, Any] = {}
    if kind == "id":
        return f"/products/{rng.choice(ids)}"
    if kind == "categories":
        return "/products/categories"
    if kind in ("word", "word+filter"):
        params["q"] = rng.choice(WORDS)
    if kind == "pair":
        params["q"] = rng.choice(PAIRS)
    if kind == "category" or (kind == "word+filter" and rng.random() < 0.5):
        params["category"] = rng.choice(CATEGORY_QUERIES)
    if kind == "type" or (kind == "word+filter" and "category" not in params):
        params["type"] = rng.choice(("service", "rental", "product"))
    if kind in ("type", "category") and rng.random() < 0.5:
        params["active"] = "true"
    if kind == "page":
        params["offset"] = rng.randrange(0, 12_000, 50)
    elif rng.random() < 0.3:
        params["offset"] = rng.choice((20, 50, 100))
    if rng.random() < 0.4:
        params["limit"] = rng.choice((10, 20, 100, 200))
    return "/products/search" + (f"?{urlencode(params)}" if params else "")


def request_paths(
    mix: str, ids: Sequence[int], names: Sequence[str], *, count: int, seed: int = 11
) -> list[str]:
    """The request targets of a mix, in the order they are sent (cycled when a run sends more)."""
    rng = random.Random(seed)
    if mix == "uncached":
        return _distinct_searches(rng, names, count)
    shares, kinds = zip(*KINDS, strict=True)
    return [_target(rng, rng.choices(kinds, shares)[0], ids) for _ in range(count)]


def _distinct_searches(rng: random.Random, names: Sequence[str], count: int) -> list[str]:
    """``count`` searches, each for another text: 3 to 8 characters from a product's name, as typed (accents
    or not, any case), sometimes with a type: no answer and no list of matches is ever reused."""
    seen: set[str] = set()
    paths: list[str] = []
    while len(paths) < count:
        name = rng.choice(names)
        start = rng.randrange(max(1, len(name) - 3))
        text = name[start : start + rng.randint(3, 8)].strip()
        if len(fold(text)) < 3:
            continue
        text = text.upper() if rng.random() < 0.2 else text.lower()
        params: dict[str, Any] = {"q": text}
        if rng.random() < 0.2:
            params["type"] = rng.choice(("service", "rental", "product"))
        key = f"{fold(text)}|{params.get('type')}"
        if key not in seen:
            seen.add(key)
            paths.append("/products/search?" + urlencode(params))
    return paths


def cache_counts(base: str) -> dict[str, float]:
    """hits, misses, reloads and hit_ratio of the products cache, from /metrics (every worker)."""
    text = httpx.get(f"{base}/metrics", timeout=30).text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("catalog_sync_read_cache_") and sample.labels.get("api") == "products":
                counts[sample.name.removeprefix("catalog_sync_read_cache_").removesuffix("_total")] = (
                    sample.value
                )
    return counts


@dataclass
class Config:
    db: str
    products: int
    workers: int
    mix: str
    distinct: int
    loadgen: str
    threads: int
    connections: int
    duration: float
    warmup: float

    def line(self) -> str:
        return (
            f"config        db={self.db} products={self.products} workers={self.workers} mix={self.mix} "
            f"({self.distinct} distinct paths) loadgen={self.loadgen} threads={self.threads} "
            f"connections={self.connections} duration={self.duration:g}s warmup={self.warmup:g}s "
            f"cores={os.cpu_count()} load={os.getloadavg()[0]:.1f} "
            f"server={_http_stack()}"
        )


def report(
    config: Config,
    result: search_loadgen.LoadResult,
    cpu_s: float,
    before: dict[str, float],
    after: dict[str, float],
) -> str:
    rate = result.requests / result.duration_s if result.duration_s else 0.0
    hits, misses = (after.get(k, 0) - before.get(k, 0) for k in ("hits", "misses"))
    lines = [
        config.line(),
        f"requests      {result.requests}",
        f"requests/s    {rate:.1f}",
        *(f"latency {name:<5} {result.latency_ms(name):.2f} ms" for name in ("p50", "p90", "p99", "max")),
        f"errors        {result.errors}",
        f"mean bytes    {result.bytes / result.requests if result.requests else 0:.0f}",
        f"server cpu    {cpu_s:.1f} s ({cpu_s / result.duration_s * 100 if result.duration_s else 0:.0f} % of one core)",
        f"cache         measured run: {hits:.0f} hits, {misses:.0f} misses, hit ratio "
        f"{hits / (hits + misses) if hits + misses else 0:.3f}; since start (/metrics): hit ratio "
        f"{after.get('hit_ratio', 0):.3f}, {after.get('reloads', 0):.0f} reloads",
    ]  # fmt: skip
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench.products_search", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--db", choices=["sqlite", "postgres"], default="sqlite", help="fresh store (default sqlite)"
    )
    where.add_argument(
        "--database-url", help="an existing store; seeded only when its products table is empty"
    )
    parser.add_argument("--products", type=int, default=12_000, help="products to seed (default 12000)")
    parser.add_argument("--mix", choices=["varied", "uncached"], default="varied")
    search_loadgen.add_load_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    loadgen = search_loadgen.chosen_loadgen(args)
    with tempfile.TemporaryDirectory(prefix="products-bench-") as tmp:
        workdir = Path(tmp)
        with _store(args, workdir) as (url, db):
            upgrade(url)
            products = seed_products(url, args.products)
            with get_engine(url).connect() as conn:
                rows = conn.execute(sa.select(PRODUCTS.c.ploomes_id, PRODUCTS.c.name)).all()
            get_engine(url).dispose()
            ids, names = [int(row[0]) for row in rows], [row[1] for row in rows]
            paths = request_paths(args.mix, ids, names, count=50_000 if args.mix == "uncached" else 5_000)
            config = Config(
                db, products, args.workers, args.mix, len(set(paths)), loadgen, args.threads,
                args.connections, args.duration, args.warmup,
            )  # fmt: skip
            print(config.line(), file=sys.stderr, flush=True)
            with service(url, args.workers, workdir) as (base, process):
                _wait_loaded(base)
                run = search_loadgen.run_wrk if loadgen == "wrk" else search_loadgen.run_python
                drive = functools.partial(
                    run, base, connections=args.connections, threads=args.threads, workdir=workdir
                )
                if args.warmup > 0:  # from the middle of the list: the measured run starts on paths not sent
                    half = len(paths) // 2
                    drive(paths[half:] + paths[:half], duration=args.warmup)
                before = cache_counts(base)
                cpu_before = _tree_cpu_s(process.pid)
                result = drive(paths, duration=args.duration)
                server_cpu = _tree_cpu_s(process.pid) - cpu_before
                after = cache_counts(base)
                rss = _workers_rss_mb(process.pid)
    print(report(config, result, server_cpu, before, after), flush=True)
    print(f"worker rss    {', '.join(f'{mb:.0f}' for mb in rss)} MB", flush=True)
    if result.requests and result.errors:
        print(f"note          {result.errors} error(s); first: {json.dumps(result.first_error)}", flush=True)
    return 0


def _workers_rss_mb(pid: int) -> list[float]:
    """Resident memory of the workers (Linux /proc), in MB: the children of ``pid`` but multiprocessing's
    resource tracker, or ``pid`` itself when it serves alone."""
    children = [c for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]
    sizes = []
    for process in children or [str(pid)]:
        if "resource_tracker" in Path(f"/proc/{process}/cmdline").read_text(errors="replace"):
            continue
        status = Path(f"/proc/{process}/status").read_text()
        rss = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), "0")
        sizes.append(int(rss) / 1024)
    return sizes


def _wait_loaded(base: str) -> None:
    """Until the copy is read by the workers (each loads it on its first products request)."""
    started = time.monotonic()
    for _ in range(20):  # new connections: spread over the workers
        httpx.get(f"{base}/products/categories", timeout=60).raise_for_status()
    print(f"loaded        products answered within {time.monotonic() - started:.1f} s", file=sys.stderr)


@contextmanager
def _store(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, str]]:
    if args.database_url:
        yield args.database_url, sa.engine.make_url(args.database_url).get_backend_name()
        return
    with state_store(args.db, workdir) as url:
        yield url, args.db


if __name__ == "__main__":
    sys.exit(main())
