"""Benchmark runner: the same fresh sandbox data for each contender, measured side by side.

    .venv/bin/python -m bench.run --products 20000 --variants 3 [--latency-ms 20] [--rate-limit 10]
        [--fault-rate 0.05] [--contenders catalog-sync,plain,dlt] [--db sqlite|postgres|sqlite,postgres]
        [--scenario full|incremental|noop]

Per run it prints wall seconds, variants/s (linked variants made correct ÷ wall), requests the sandbox received,
variant values written, writes that changed nothing, the contender's peak RSS, and whether the store ended
correct (the sandbox's independent oracle of contracts/sazito.md); then the contender's CPU seconds and its
CPU per variant made correct (cpu_us_per_variant). ``--scenario noop`` measures the fixed cost of a run: after a
full run and a quiet moment, five incremental runs with nothing to change (the median's wall and CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.harness import BIN, prefect_server, process_cpu_s, run_process, sandbox, state_store

CONTENDERS = {
    "catalog-sync": None,  # run through its CLI, below
    "plain": [sys.executable, "-m", "bench.contenders.plain_script"],
    "dlt": [sys.executable, "-m", "bench.contenders.dlt_pipeline"],
}


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


NOOP_RUNS = 5
QUIET_S = 5.0  # after the warm-up: the Prefect server finishes with its events, as a server between runs has


def _noop_runs(
    command: list[str], env: dict[str, str], workdir: Path, extra: dict[str, Any]
) -> tuple[Any, ...]:
    """The fixed cost of a run: incremental runs with nothing to change, NOOP_RUNS of them; the median's
    (exit code, wall, RSS, CPU), every wall in ``extra``."""
    time.sleep(QUIET_S)
    runs = [run_process(command, env, workdir / f"noop-{n}.log") for n in range(NOOP_RUNS)]
    extra["walls_s"] = "/".join(f"{r[1]:.2f}" for r in runs)
    extra["median_cpu_s"] = round(statistics.median(r[3] for r in runs), 2)
    return sorted(runs, key=lambda r: r[1])[len(runs) // 2]


def measure(name: str, args: argparse.Namespace, api: str | None, db: str) -> Result:
    """One contender against a fresh sandbox (and, for catalog-sync, a fresh state store)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    with sandbox(args) as (url, sandbox_pid), state_store(db, workdir) as db_url:
        control = httpx.Client(base_url=f"{url}/_sandbox", timeout=600)
        extra: dict[str, Any] = {"db": db} if name == "catalog-sync" else {}
        if name == "catalog-sync":
            assert api is not None
            env = catalog_sync_env(args, url, db_url, api, workdir)
            command = [str(BIN / "catalog-sync"), "sync", "products"]
            if args.scenario in ("incremental", "noop"):
                code, wall, _, _ = run_process([*command, "--full"], env, workdir / "warmup.log")
                extra["warmup_full_s"] = round(wall, 1)
            if args.scenario == "incremental":
                changed = max(1, round(args.products * args.variants * args.change_fraction))
                control.post("/mutate", json={"variants": changed, "seed": 99}).raise_for_status()
                extra["changed_variants"] = changed
            elif args.scenario == "full":
                command.append("--full")
        else:
            env = {**os.environ, **sandbox_env(url)}
            command = CONTENDERS[name]  # type: ignore[assignment]
        control.post("/reset-stats").raise_for_status()
        sandbox_cpu = process_cpu_s(sandbox_pid)
        if args.scenario == "noop" and name == "catalog-sync":
            code, wall, rss, cpu = _noop_runs(command, env, workdir, extra)
        else:
            code, wall, rss, cpu = run_process(command, env, workdir / "run.log")
        extra["cpu_s"] = round(cpu, 2)
        extra["sandbox_cpu_s"] = round(process_cpu_s(sandbox_pid) - sandbox_cpu, 1)
        stats = control.get("/stats").json()
        verify = control.get("/verify").json()
        if stats["variant_writes"]:  # CPU of the contender's process per variant value it wrote
            extra["cpu_us_per_write"] = round(cpu * 1e6 / stats["variant_writes"])
        if verify["correct"]:  # ... and per variant it made correct (the "CPU per variant")
            extra["cpu_us_per_variant"] = round(cpu * 1e6 / verify["correct"])
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
    parser.add_argument(
        "--db",
        default="sqlite",
        help="catalog-sync's state store: sqlite, postgres or both (sqlite,postgres)",
    )
    parser.add_argument(
        "--scenario",
        choices=["full", "incremental", "noop"],
        default="full",
        help="noop: after a full run, the fixed cost of a run with nothing to change (median of 5)",
    )
    parser.add_argument("--change-fraction", type=float, default=0.01, help="incremental: variants changed")
    parser.add_argument("--concurrency", type=int, default=8, help="catalog-sync HTTP_CONCURRENCY")
    parser.add_argument(
        "--prefect-db",
        choices=["sqlite", "postgres"],
        default="postgres",
        help="the Prefect server's database",
    )
    parser.add_argument("--json", type=Path, help="also append the results as JSON lines to this file")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = set(names) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    if not dbs or set(dbs) - {"sqlite", "postgres"}:
        parser.error(f"--db takes sqlite, postgres or both, not {args.db!r}")
    print(
        f"bench: {args.products} products x {args.variants} variants, latency {args.latency_ms} ms, "
        f"rate limit {args.rate_limit or 'none'}, fault rate {args.fault_rate}, db {args.db}, "
        f"scenario {args.scenario}",
        flush=True,
    )
    results: list[Result] = []
    with prefect_server(args.prefect_db) if "catalog-sync" in names else _nothing() as api:
        for name in names:
            for db in dbs if name == "catalog-sync" else dbs[:1]:
                result = measure(name, args, api, db)
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
