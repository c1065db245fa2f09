"""Benchmark runner: the same fresh sandbox data for each contender, measured side by side.

    .venv/bin/python -m bench.run --products 20000 --variants 3 [--latency-ms 20] [--rate-limit 10]
        [--fault-rate 0.05] [--contenders catalog-sync,plain,dlt] [--db sqlite|postgres] [--scenario full|incremental]

Per run it prints wall seconds, variants/s (linked variants made correct ÷ wall), requests the sandbox received,
variant values written, writes that changed nothing, the contender's peak RSS, and whether the store ended
correct (the sandbox's independent oracle of contracts/sazito.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONTENDERS = {
    "catalog-sync": None,  # run through its CLI, below
    "plain": [sys.executable, "-m", "bench.contenders.plain_script"],
    "dlt": [sys.executable, "-m", "bench.contenders.dlt_pipeline"],
}
PG_ADMIN_URL = os.environ.get("CATALOG_SYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench: {what} did not come up at {url} within {timeout:.0f} s")


@contextmanager
def sandbox(args: argparse.Namespace) -> Iterator[tuple[str, int]]:
    """A fresh sandbox process with the run's knobs; yields its base URL and pid."""
    port = free_port()
    command = [
        str(BIN / "catalog-sync"),
        "sandbox",
        "--port",
        str(port),
        "--products",
        str(args.products),
        "--variants",
        str(args.variants),
        "--latency-ms",
        str(args.latency_ms),
        "--fault-rate",
        str(args.fault_rate),
        "--rate-limit",
        str(args.rate_limit),
        "--seed",
        str(args.seed),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/_sandbox/knobs", 300, "the sandbox")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def prefect_server() -> Iterator[str]:
    """One Prefect server for all catalog-sync runs, as in production (its start-up is reported apart)."""
    port = free_port()
    home = tempfile.mkdtemp(prefix="bench-prefect-")
    env = {
        **os.environ,
        "PREFECT_HOME": home,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_http(f"{api}/health", 120, "the Prefect server")
        print(f"prefect server up in {time.perf_counter() - started:.1f} s at {api}", flush=True)
        yield api
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def state_store(kind: str, workdir: Path) -> Iterator[str]:
    """A new, empty state store: a SQLite file or a throw-away PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'state.db'}"
        return
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_process(command: list[str], env: dict[str, str], log: Path) -> tuple[int, float, int, float]:
    """Run a contender; return (exit code, wall s, peak RSS in MB, CPU s) of that process."""
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    return os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss // 1024, cpu


def process_cpu_s(pid: int) -> float:
    """CPU seconds a live process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    contender: str
    exit_code: int
    wall_s: float
    variants: int
    requests: int
    writes: int
    noop_writes: int
    rss_mb: int
    correct: bool
    extra: dict[str, Any]

    def row(self) -> str:
        rate = self.variants / self.wall_s if self.wall_s else 0
        return (
            f"{self.contender:<13} {self.exit_code:>4} {self.wall_s:>8.2f} {rate:>10.0f} {self.requests:>9} "
            f"{self.writes:>8} {self.noop_writes:>8} {self.rss_mb:>7} {'yes' if self.correct else 'NO':>8}  "
            + " ".join(f"{k}={v}" for k, v in self.extra.items())
        )


HEADER = (
    f"{'contender':<13} {'exit':>4} {'wall_s':>8} {'variants/s':>10} {'requests':>9} {'writes':>8} "
    f"{'noop_wr':>8} {'rss_mb':>7} {'correct':>8}"
)


def sandbox_env(url: str) -> dict[str, str]:
    return {
        "ANAR360_BASE": f"{url}/anar360/api/360",
        "ANAR360_TOKEN": "sandbox-token",
        "SAZITO_BASE": f"{url}/sazito/api/v1",
        "SAZITO_KEY": "sandbox-key",
    }


def catalog_sync_env(args: argparse.Namespace, url: str, db_url: str, api: str, home: Path) -> dict[str, str]:
    # Pace at the sandbox's published limit when there is one; otherwise the budget is not the bottleneck.
    per_min = int(args.rate_limit * 60) if args.rate_limit else 100_000
    return {
        **os.environ,
        **sandbox_env(url),
        "DATABASE_URL": db_url,
        "PREFECT_API_URL": api,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "RATE_LIMIT_PER_MIN": str(per_min),
        "HTTP_CONCURRENCY": str(args.concurrency),
    }


def measure(name: str, args: argparse.Namespace, api: str | None) -> Result:
    """One contender against a fresh sandbox (and, for catalog-sync, a fresh state store)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    with sandbox(args) as (url, sandbox_pid), state_store(args.db, workdir) as db_url:
        control = httpx.Client(base_url=f"{url}/_sandbox", timeout=600)
        extra: dict[str, Any] = {}
        if name == "catalog-sync":
            assert api is not None
            env = catalog_sync_env(args, url, db_url, api, workdir)
            command = [str(BIN / "catalog-sync"), "sync", "products"]
            if args.scenario == "incremental":
                code, wall, _, _ = run_process([*command, "--full"], env, workdir / "warmup.log")
                extra["warmup_full_s"] = round(wall, 1)
                changed = max(1, round(args.products * args.variants * args.change_fraction))
                control.post("/mutate", json={"variants": changed, "seed": 99}).raise_for_status()
                extra["changed_variants"] = changed
            else:
                command.append("--full")
        else:
            env = {**os.environ, **sandbox_env(url)}
            command = CONTENDERS[name]  # type: ignore[assignment]
        control.post("/reset-stats").raise_for_status()
        sandbox_cpu = process_cpu_s(sandbox_pid)
        code, wall, rss, cpu = run_process(command, env, workdir / "run.log")
        extra["cpu_s"] = round(cpu, 1)
        extra["sandbox_cpu_s"] = round(process_cpu_s(sandbox_pid) - sandbox_cpu, 1)
        stats = control.get("/stats").json()
        verify = control.get("/verify").json()
        if name == "catalog-sync":
            extra["catalogue_reads"] = sum(
                n for route, n in stats["requests"].items() if route.startswith("sazito GET")
            )
        extra["faults"] = stats.get("faults_injected", 0)
        extra["429s"] = stats.get("throttled_429", 0)
        if code != 0:
            extra["log"] = str(workdir / "run.log")
        return Result(
            name,
            code,
            wall,
            verify["correct"],
            stats["requests_total"],
            stats["variant_writes"],
            stats["noop_writes"],
            rss,
            bool(verify["ok"]),
            extra,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument(
        "--rate-limit", type=float, default=0, help="sandbox requests/s before 429 (0 = none)"
    )
    parser.add_argument("--fault-rate", type=float, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--contenders", default="catalog-sync,plain,dlt")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--scenario", choices=["full", "incremental"], default="full")
    parser.add_argument("--change-fraction", type=float, default=0.01, help="incremental: variants changed")
    parser.add_argument("--concurrency", type=int, default=8, help="catalog-sync HTTP_CONCURRENCY")
    parser.add_argument("--json", type=Path, help="also append the results as JSON lines to this file")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = set(names) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    print(
        f"bench: {args.products} products x {args.variants} variants, latency {args.latency_ms} ms, "
        f"rate limit {args.rate_limit or 'none'}, fault rate {args.fault_rate}, db {args.db}, "
        f"scenario {args.scenario}",
        flush=True,
    )
    results: list[Result] = []
    with prefect_server() if "catalog-sync" in names else _nothing() as api:
        for name in names:
            result = measure(name, args, api)
            results.append(result)
            if len(results) == 1:
                print(HEADER)
            print(result.row(), flush=True)
    if args.json:
        with args.json.open("a") as out:
            for r in results:
                out.write(json.dumps({"args": vars(args) | {"json": None}, **r.__dict__}, default=str) + "\n")
    return 0 if all(r.correct for r in results if r.contender == "catalog-sync") else 1


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    sys.exit(main())
