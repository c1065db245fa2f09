"""Load benchmark of `GET /search`: seed events, start `catalog-sync serve`, drive it on loopback, print figures.

    .venv/bin/python -m bench.search_load [--db sqlite|postgres | --database-url URL] [--events 10000]
        [--workers 2] [--mix varied|hot|uncached] [--connections 32] [--duration 10] [--warmup 2]
        [--loadgen auto|wrk|python] [--threads 1]

The store is a fresh SQLite file (default), a throw-away PostgreSQL database next to CATALOG_SYNC_TEST_PG_URL
(``--db postgres``), or an existing store (``--database-url``: seeded only when its events table is empty, else
measured as it is). Mixes: ``varied`` windows of a day, a week, a month, the whole year and open-ended ones,
day-aligned as a client would ask; ``hot`` one week window, always; ``uncached`` the same widths starting at a
random second, so every request is a distinct window (no response-cache hit). The load generator is ``wrk``
when installed (apt-get install wrk), else a keep-alive HTTP/1.1 client on raw asyncio sockets, itself a
CPU user on the shared cores. Latencies are closed-loop (each connection waits for its answer).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench import search_loadgen
from bench.harness import free_port, state_store
from sync_core.db import get_engine, refresh_statistics, upgrade
from sync_core.tables import Event

YEAR = datetime(2021, 1, 1, tzinfo=UTC)
ARTISTS = ("Camela", "Rosalía", "Vetusta Morla", "Estopa", "Love of Lesbian", "Izal", "Sidonie", "Amaral")
SHOWS = ("en concierto", "Gira 2021", "Acústico", "Tributo", "Sesión vermú", "Noche de jazz")
PLAYS = ("El Rey León", "La Casa de Bernarda Alba", "Hamlet", "Los Miserables", "Mamma Mia!", "Cabaret")
VENUES = ("Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Málaga", "Zaragoza")
# (share, label): share of requests of each kind in the varied and uncached mixes.
WIDTHS = ((0.44, "day"), (0.25, "week"), (0.15, "month"), (0.07, "from"), (0.07, "until"), (0.02, "all"))


def seed_events(url: str, count: int, *, seed: int = 7) -> int:
    """Insert ``count`` online events spread over 2021 when the events table is empty; return the rows it holds."""
    engine = get_engine(url)
    table = Event.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        held = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    if held:
        return held
    rng = random.Random(seed)
    now = datetime.now(UTC)
    rows = [_event_row(rng, n, now) for n in range(count)]
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(table.insert(), rows[start : start + 1000])
    refresh_statistics(url, ("events",))
    return count


def _event_row(rng: random.Random, n: int, now: datetime) -> dict[str, Any]:
    starts = YEAR + timedelta(
        days=rng.randrange(365), hours=rng.randrange(10, 23), minutes=rng.choice((0, 30))
    )
    long = rng.random() < 0.05  # festivals over several days
    ends = starts + (
        timedelta(days=rng.randint(1, 3)) if long else timedelta(minutes=rng.choice((60, 90, 120, 180)))
    )
    kind = rng.random()
    if kind < 0.5:
        title = f"{rng.choice(ARTISTS)} {rng.choice(SHOWS)}"
    elif kind < 0.8:
        title = f"{rng.choice(PLAYS)} - {rng.choice(VENUES)}"
    else:
        title = f"Festival {rng.choice(VENUES)} {n % 97 + 1}"
    prices = sorted(Decimal(rng.randrange(500, 15000)) / 100 for _ in range(rng.randint(1, 5)))
    zones = [
        {"zone_id": str(z), "capacity": rng.randrange(50, 2000), "price": str(p)}
        for z, p in enumerate(prices)
    ]
    return {
        "id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "base_plan_id": str(n // 3 + 1),
        "plan_id": str(n + 1),
        "title": title,
        "organizer_company_id": None,
        "starts_at": starts,
        "ends_at": ends,
        "sell_from": starts - timedelta(days=90),
        "sell_to": starts - timedelta(hours=1),
        "sold_out": rng.random() < 0.1,
        "min_price": prices[0],
        "max_price": prices[-1],
        "zones": zones,
        "fingerprint": hashlib.sha256(f"{n}{title}{starts}".encode()).hexdigest(),
        "first_seen_at": now,
        "last_seen_at": now,
        "last_changed_at": now,
    }


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _window(rng: random.Random, width: str, *, aligned: bool) -> str:
    offset = timedelta(days=rng.randrange(365)) if aligned else timedelta(seconds=rng.randrange(365 * 86400))
    start = YEAR + offset
    if width == "from":  # the last month of events, open at the end
        return f"/search?starts_at={_z(YEAR + timedelta(days=335) + offset % timedelta(days=30))}"
    if width == "until":  # the first month, open at the start
        return f"/search?ends_at={_z(YEAR + timedelta(days=1) + offset % timedelta(days=30))}"
    if width == "all":
        return (
            "/search"
            if rng.random() < 0.5
            else f"/search?starts_at={_z(YEAR)}&ends_at={_z(YEAR.replace(year=2022))}"
        )
    days = {"day": 1, "week": 7, "month": 30}[width]
    return f"/search?starts_at={_z(start)}&ends_at={_z(start + timedelta(days=days))}"


def request_paths(mix: str, *, count: int, seed: int = 11) -> list[str]:
    """The request targets of a mix, in the order they are sent (cycled when a run sends more)."""
    rng = random.Random(seed)
    if mix == "hot":
        return ["/search?starts_at=2021-06-07T00:00:00Z&ends_at=2021-06-14T00:00:00Z"]
    shares, widths = zip(*WIDTHS, strict=True)
    return [_window(rng, rng.choices(widths, shares)[0], aligned=mix == "varied") for _ in range(count)]


@contextmanager
def service(url: str, workers: int, workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`catalog-sync serve` on a free port, answering /search on every worker; terminated on exit."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url}
    command = [
        sys.executable,
        "-m",
        "catalog_sync.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    log = (workdir / "serve.log").open("wb")
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, workdir / "serve.log")
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline, answered = time.monotonic() + 60, 0
    while answered < 20:  # several answers in a row: every worker is likely up
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(
                f"bench: the service did not come up:\n{log.read_text(errors='replace')[-2000:]}"
            )
        try:
            answered = (
                answered + 1
                if httpx.get(f"{base}/search?starts_at=2030-01-01T00:00:00Z", timeout=5).status_code == 200
                else 0
            )
        except httpx.TransportError:
            answered = 0
            time.sleep(0.1)


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its descendants (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


@dataclass
class Config:
    db: str
    events: int
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
            f"config        db={self.db} events={self.events} workers={self.workers} mix={self.mix} "
            f"({self.distinct} distinct paths) loadgen={self.loadgen} threads={self.threads} "
            f"connections={self.connections} duration={self.duration:g}s warmup={self.warmup:g}s "
            f"cores={os.cpu_count()} load={os.getloadavg()[0]:.1f} server={_http_stack()}"
        )


def _http_stack() -> str:
    """uvicorn's HTTP parser and event loop in the service (it inherits this environment): h11+asyncio unless
    httptools and uvloop are installed (``uvicorn[standard]``)."""
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{http}+{'uvloop' if importlib.util.find_spec('uvloop') else 'asyncio'}"


def report(config: Config, result: search_loadgen.LoadResult, server_cpu_s: float) -> str:
    """The figures of one run, one per line."""
    rate = result.requests / result.duration_s if result.duration_s else 0.0
    lines = [
        config.line(),
        f"requests      {result.requests}",
        f"requests/s    {rate:.1f}",
        *(f"latency {name:<5} {result.latency_ms(name):.2f} ms" for name in ("p50", "p90", "p99", "max")),
        f"errors        {result.errors}",
        f"mean bytes    {result.bytes / result.requests if result.requests else 0:.0f}",
        f"server cpu    {server_cpu_s:.1f} s ({server_cpu_s / result.duration_s * 100 if result.duration_s else 0:.0f} % of one core)",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench.search_load", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--db", choices=["sqlite", "postgres"], default="sqlite", help="fresh store (default sqlite)"
    )
    where.add_argument("--database-url", help="an existing store; seeded only when its events table is empty")
    parser.add_argument("--events", type=int, default=10_000, help="events to seed (default 10000)")
    parser.add_argument("--mix", choices=["varied", "hot", "uncached"], default="varied")
    search_loadgen.add_load_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    loadgen = search_loadgen.chosen_loadgen(args)
    paths = request_paths(args.mix, count=50_000 if args.mix == "uncached" else 5_000)
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        workdir = Path(tmp)
        with _store(args, workdir) as (url, db):
            upgrade(url)
            events = seed_events(url, args.events)
            get_engine(url).dispose()
            config = Config(
                db, events, args.workers, args.mix, len(set(paths)), loadgen, args.threads,
                args.connections, args.duration, args.warmup,
            )  # fmt: skip
            print(config.line(), file=sys.stderr, flush=True)
            with service(url, args.workers, workdir) as (base, process):
                run = search_loadgen.run_wrk if loadgen == "wrk" else search_loadgen.run_python
                drive = functools.partial(
                    run, base, paths, connections=args.connections, threads=args.threads, workdir=workdir
                )
                if args.warmup > 0:
                    drive(duration=args.warmup)
                cpu_before = _tree_cpu_s(process.pid)
                result = drive(duration=args.duration)
                server_cpu = _tree_cpu_s(process.pid) - cpu_before
    print(report(config, result, server_cpu), flush=True)
    if result.requests and result.errors:
        print(f"note          {result.errors} error(s); first: {json.dumps(result.first_error)}", flush=True)
    return 0


@contextmanager
def _store(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, str]]:
    if args.database_url:
        yield args.database_url, sa.engine.make_url(args.database_url).get_backend_name()
        return
    with state_store(args.db, workdir) as url:  # postgres: a throw-away database next to PG_ADMIN_URL's
        yield url, args.db


if __name__ == "__main__":
    sys.exit(main())
