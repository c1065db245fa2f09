"""Ingram Micro sync against its rate limits: how close does `catalog-sync sync ingram` get to the bound the
provider's per-minute limits set?

    .venv/bin/python -m bench.ingram [--parts 1000] [--cases 1w,1w-20ms,2w] [--db postgres|sqlite]
        [--first-rates 600,600] [--later-rates 60,600] [--changes 10] [--prefect-db postgres|sqlite]

For N tracked parts, price and availability (P&A) needs ceil(N/50) calls and details one call per new or
stale part; each endpoint has its own limit a minute, so no run can take less than

    bound = max(P&A calls / P&A rate, details calls / details rate) minutes.

Each case is a first run (every part new: details for all) and a later run on the same state store (details
cached; ``--changes`` parts changed price or stock in between, so only those rows are written):

    1w        one `catalog-sync sync ingram --force` process
    1w-20ms   the same, the sandbox adding 20 ms to every call
    2w        `catalog-sync sync ingram --force --shards 2`: the parent runs in the command's process and starts
              two runs of sync-ingram-shard/ingram-shard, one on each of two `prefect worker start --pool
              catalog-sync --limit 1` processes (`catalog-sync deploy` runs once, its schedules switched off)
    1w-local  (not by default) as 1w with USE_PREFECT_RATE_LIMITS=false: each endpoint paced by the process's
              own token bucket alone, what sharing the budget through Prefect costs

Every run goes against one Prefect server started first (on a throw-away PostgreSQL database unless
--prefect-db sqlite; its start-up is not measured), and against a fresh sandbox process (`catalog-sync
sandbox`, same seed, so the same catalogue) whose P&A and details limits a minute are the run's rates
(``--first-rates`` / ``--later-rates``: P&A,details); the client's INGRAM_PNA_RATE_PER_MIN /
INGRAM_DETAILS_RATE_PER_MIN are set equal to them, and the Prefect limits ingram-pna-requests /
ingram-details-requests are deleted before each run so that the run makes them at its rates. The later run
paces P&A at 60/min, so its bound (20 calls for 1,000 parts) is 20 s.

Per run it prints the wall time (the command's process, start to exit: imports, Prefect and all; for 2w the
parent's process, so the shards' start-up on the workers too), the span from the first to the last Ingram
call the sandbox saw (sampled every 0.1 s), the calls per endpoint the sandbox received (429s included) and
the 429s, the most calls it served in any minute per endpoint, the bound, wall / bound and span / bound, the
rows the run wrote and left unchanged (its run row), and whether the table then equals the sandbox's oracle.
The target is wall <= 1.15 x bound in both runs.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench.harness import BIN, ROOT, prefect_server, run_process, sandbox_process, state_store

PNA_BATCH = 50  # part numbers a P&A call carries (the contract's most, the flow's default)
LIMITS = ("ingram-pna-requests", "ingram-details-requests")
PRICES = ("customer_price", "retail_price", "map_price")
POLL_S = 0.1
TARGET = 1.15
CASES = {  # title, sandbox latency (ms), workers, shared Prefect limits
    "1w": ("one process", 0.0, 1, True),
    "1w-20ms": ("one process, 20 ms latency", 20.0, 1, True),
    "2w": ("two workers, shards=2", 0.0, 2, True),
    "1w-local": ("one process pacing alone (USE_PREFECT_RATE_LIMITS=false)", 0.0, 1, False),
}
DEFAULT_CASES = ("1w", "1w-20ms", "2w")


@dataclass
class Rates:
    pna: int
    details: int

    @classmethod
    def parse(cls, text: str) -> Rates:
        try:
            pna, details = (int(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"give P&A,details calls a minute (e.g. 600,600), not {text!r}"
            ) from None
        if pna < 1 or details < 1:
            raise argparse.ArgumentTypeError("rates must be at least 1 a minute")
        return cls(pna, details)


@dataclass
class RunResult:
    case: str
    run: str
    latency_ms: float
    workers: int
    rates: Rates
    exit_code: int
    wall_s: float
    span_s: float
    calls: dict[str, int]
    throttled: dict[str, int]
    max_per_minute_served: dict[str, int]
    pna_needed: int
    details_needed: int
    pushed: int | None
    unchanged: int | None
    correct: bool
    notes: list[str] = field(default_factory=list)

    @property
    def bound_s(self) -> float:
        return 60 * max(self.pna_needed / self.rates.pna, self.details_needed / self.rates.details)

    @property
    def ratio(self) -> float:
        return self.wall_s / self.bound_s if self.bound_s else math.inf

    @property
    def span_ratio(self) -> float:
        return self.span_s / self.bound_s if self.bound_s else math.inf


HEADER = (
    f"{'case':<8} {'run':<6} {'rates/min':>9} {'exit':>4} {'wall_s':>7} {'span_s':>7} {'pna':>4} {'det':>5} "
    f"{'token':>5} {'429s':>5} {'pna/min':>7} {'det/min':>7} {'bound_s':>7} {'wall/bd':>7} {'span/bd':>7} "
    f"{'pushed':>6} {'unchgd':>6} {'oracle':>6}"
)


def row(r: RunResult) -> str:
    def count(value: int | None) -> str:
        return "-" if value is None else str(value)

    return (
        f"{r.case:<8} {r.run:<6} {f'{r.rates.pna},{r.rates.details}':>9} {r.exit_code:>4} {r.wall_s:>7.1f} "
        f"{r.span_s:>7.1f} {r.calls['pna']:>4} {r.calls['details']:>5} {r.calls['token']:>5} "
        f"{sum(r.throttled.values()):>5} {r.max_per_minute_served['pna']:>7} "
        f"{r.max_per_minute_served['details']:>7} {r.bound_s:>7.1f} {r.ratio:>7.2f} {r.span_ratio:>7.2f} "
        f"{count(r.pushed):>6} {count(r.unchanged):>6} {'yes' if r.correct else 'NO':>6}"
    )


@contextmanager
def ingram_sandbox(args: argparse.Namespace, rates: Rates, latency_ms: float) -> Iterator[str]:
    """A fresh sandbox process (the same seed: the same catalogue) limited to ``rates`` a minute; its URL."""
    knobs = {
        "products": 2,
        "variants": 1,
        "fever-base-plans": 6,
        "seed": args.seed,
        "latency-ms": latency_ms,
        "ingram-parts": args.parts,
        "ingram-pna-rate-per-min": rates.pna,
        "ingram-details-rate-per-min": rates.details,
    }
    with sandbox_process(knobs) as (url, _):
        yield url


def client_env(url: str, db_url: str, api: str, home: Path, rates: Rates) -> dict[str, str]:
    """A catalog-sync process's environment: the sandbox's Ingram settings, the run's rates, the server."""
    from sync_core.sandbox.records import SandboxConfig
    from sync_core.sandbox.server import sandbox_settings

    ingram = {
        k.upper(): v for k, v in sandbox_settings(url, SandboxConfig()).items() if k.startswith("ingram_")
    }
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "INGRAM_"))},
        **ingram,
        "INGRAM_PNA_RATE_PER_MIN": str(rates.pna),
        "INGRAM_DETAILS_RATE_PER_MIN": str(rates.details),
        "DATABASE_URL": db_url,
        "LOG_FILE": str(home / "catalog-sync.log"),
        "PREFECT_API_URL": api,
        "PREFECT_HOME": str(home / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "CATALOG_SYNC_HOME": str(ROOT),
    }


def prefect_call(api: str, call: Any) -> Any:
    """``await call(client)`` with a Prefect client of the server at ``api``."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def run() -> Any:
        async with get_client() as client:
            return await call(client)

    with temporary_settings(updates={PREFECT_API_URL: api}):
        return asyncio.run(run())


def reset_limits(api: str) -> None:
    """Delete the Ingram limits, so the run makes them at its own rates."""
    with httpx.Client(base_url=api, timeout=30) as client:
        for name in LIMITS:
            answer = client.delete(f"/v2/concurrency_limits/{name}")
            if answer.status_code not in (200, 204, 404):
                answer.raise_for_status()


def deploy(api: str, workdir: Path, db_url: str) -> None:
    """`catalog-sync deploy` (pool, limits, deployments), then every schedule off: only the bench's runs
    reach the workers."""
    env = client_env("http://127.0.0.1:9", db_url, api, workdir, Rates(60, 60))
    done = subprocess.run(
        [str(BIN / "catalog-sync"), "deploy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise SystemExit(
            f"bench: catalog-sync deploy failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )

    async def switch_off(client: Any) -> None:
        for deployment in await client.read_deployments():
            for schedule in deployment.schedules:
                await client.update_deployment_schedule(deployment.id, schedule.id, active=False)

    prefect_call(api, switch_off)


@contextmanager
def workers(count: int, env: dict[str, str], workdir: Path) -> Iterator[list[str]]:
    """``count`` process workers of the catalog-sync pool, each taking one run at a time (``--limit 1``, so
    that each takes one shard); their names once all have started."""
    names = [f"bench-worker-{n}" for n in range(1, count + 1)]
    started: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for name in names:
            log = workdir / f"{name}.log"
            with log.open("wb") as out:
                command = [str(BIN / "prefect"), "worker", "start", "--pool", "catalog-sync", "--name", name]
                process = subprocess.Popen(
                    [*command, "--limit", "1"],
                    cwd=workdir,
                    env=env | {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_LOGGING_LEVEL": "INFO"},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            started.append((process, log))
        deadline = time.monotonic() + 120
        for (process, log), name in zip(started, names, strict=True):
            while f"Worker '{name}' started" not in log.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"bench: worker {name} did not start; see {log}")
                time.sleep(0.2)
        yield names
    finally:
        for process, _ in started:
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process, _ in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


def shard_workers(api: str, since: float) -> dict[str, int]:
    """Which worker started the shard runs created after ``since`` (epoch s): runs per worker name, from
    each run's own log line "Worker '<name>' submitting flow run"."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        LogFilter,
        LogFilterFlowRunId,
    )

    async def read(client: Any) -> dict[str, int]:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["ingram-shard"]))
        )
        counts: dict[str, int] = {}
        for run in runs:
            if run.created is None or run.created.timestamp() < since:
                continue
            logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
            names = [
                m.group(1) for log in logs if (m := re.match(r"Worker '([^']+)' submitting", log.message))
            ]
            key = names[0] if names else "?"
            counts[key] = counts.get(key, 0) + 1
        return counts

    found: dict[str, int] = prefect_call(api, read)
    return found


class Poller:
    """Samples the sandbox's Ingram call count every POLL_S: when calls began and when they stopped."""

    def __init__(self, control: httpx.Client) -> None:
        self.control = control
        self.points: list[tuple[float, int]] = []
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(2 * POLL_S)
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            stats = self.control.get("/stats").json()["ingram"]
            calls = sum(stats[name]["calls"] for name in ("token", "pna", "details"))
            self.points.append((time.perf_counter() - self.started, calls))
            self._stop.wait(POLL_S)

    def span_s(self) -> float:
        """From the sample before the first call to the first sample with the final count."""
        counts = [c for _, c in self.points]
        if not counts or counts[-1] == 0:
            return 0.0
        first = next(i for i, c in enumerate(counts) if c > 0)
        last = counts.index(counts[-1])
        return self.points[last][0] - self.points[max(0, first - 1)][0]


def table_rows(db_url: str) -> list[dict[str, Any]]:
    from sqlmodel import select

    from sync_core.db import session_scope
    from sync_core.pipelines.ingram.tables import IngramProduct

    with session_scope(db_url) as session:
        return [row.model_dump() for row in session.exec(select(IngramProduct))]


def matches_oracle(control: httpx.Client, db_url: str, parts: list[str]) -> bool:
    """The table checked against the sandbox's oracle of the tracked parts (prices back to Decimal)."""
    from sync_core.sandbox.ingram_oracle import compare_ingram_rows

    expected = control.post("/ingram/oracle", json={"parts": parts, "details": True}).json()["rows"]
    for wanted in expected.values():
        for name in PRICES:
            wanted[name] = Decimal(wanted[name])
    report = compare_ingram_rows(expected, table_rows(db_url))
    if not report.ok:
        print(f"    oracle: {report.to_json()}", flush=True)
    return report.ok


def last_run_counts(db_url: str) -> tuple[int | None, int | None]:
    """(pushed, unchanged) of the newest run of the pipeline (the parent's when sharded)."""
    from sync_core.engine.runs import recent_runs

    runs = recent_runs(db_url, limit=1, pipeline="ingram-catalogue")
    return (runs[0].pushed, runs[0].unchanged) if runs else (None, None)


def track(db_url: str, parts: list[str], workdir: Path) -> None:
    """`catalog-sync ingram track --file` of the parts."""
    path = workdir / "parts.txt"
    path.write_text("\n".join(parts) + "\n")
    env = {**os.environ, "DATABASE_URL": db_url, "LOG_FILE": ""}
    done = subprocess.run(
        [str(BIN / "catalog-sync"), "ingram", "track", "--file", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: ingram track failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def measure(
    case: str,
    run: str,
    args: argparse.Namespace,
    api: str,
    db_url: str,
    workdir: Path,
    rates: Rates,
    parts: list[str],
    changes: int,
    details_needed: int,
) -> RunResult:
    """One run of ``case``: a fresh sandbox at ``rates`` (``changes`` parts changed first), the Prefect limits
    reset, the command (with its workers for 2w), then the sandbox's figures and the oracle."""
    _, latency_ms, count, shared = CASES[case]
    home = workdir / f"{case}-{run}"
    home.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    with ExitStack() as stack:
        url = stack.enter_context(ingram_sandbox(args, rates, latency_ms))
        control = stack.enter_context(httpx.Client(base_url=f"{url}/_sandbox", timeout=120))
        if changes:
            control.post("/ingram/change", json={"parts": changes, "seed": 7}).raise_for_status()
        env = client_env(url, db_url, api, home, rates) | {"USE_PREFECT_RATE_LIMITS": str(shared).lower()}
        command = [str(BIN / "catalog-sync"), "sync", "ingram", "--force"]
        reset_limits(api)
        if count > 1:
            stack.enter_context(workers(count, env, home))
            command += ["--shards", str(count)]
        since = time.time()
        control.post("/reset-stats").raise_for_status()
        with Poller(control) as poller:
            code, wall, _, _ = run_process(command, env, home / "run.log")
        stats = control.get("/stats").json()["ingram"]
        correct = matches_oracle(control, db_url, parts)
        if count > 1:
            notes.append(f"shards by worker: {shard_workers(api, since)}")
    if code != 0:
        notes.append(f"exit {code}: see {home / 'run.log'}")
    pushed, unchanged = last_run_counts(db_url)
    pna_needed = sum(math.ceil(len(parts[n - 1 :: count]) / PNA_BATCH) for n in range(1, count + 1))
    return RunResult(
        case=case,
        run=run,
        latency_ms=latency_ms,
        workers=count,
        rates=rates,
        exit_code=code,
        wall_s=wall,
        span_s=poller.span_s(),
        calls={name: stats[name]["calls"] for name in ("token", "pna", "details")},
        throttled={name: stats[name]["throttled_429"] for name in ("token", "pna", "details")},
        max_per_minute_served={name: stats[name]["max_per_minute_served"] for name in ("pna", "details")},
        pna_needed=pna_needed,
        details_needed=details_needed,
        pushed=pushed,
        unchanged=unchanged,
        correct=correct,
        notes=notes,
    )


def run_case(case: str, args: argparse.Namespace, api: str, workdir: Path) -> list[RunResult]:
    """The first run (details for all known parts), then the later run (details cached) of ``case``, on one
    fresh state store."""
    results = []
    (workdir / case).mkdir(parents=True, exist_ok=True)
    with state_store(args.db, workdir / case) if args.db == "postgres" else _sqlite(workdir / case) as db_url:
        from sync_core.db import upgrade

        upgrade(db_url)
        with ingram_sandbox(args, args.first_rates, 0.0) as url, httpx.Client(base_url=url) as http:
            listed = http.get("/_sandbox/ingram/parts", params={"unknown": args.unknown}).json()
        known = listed["parts"][: args.parts]
        parts = known + listed["unknown"]
        track(db_url, parts, workdir / case)
        for run, rates, changes, details in (
            ("first", args.first_rates, 0, len(known)),
            ("later", args.later_rates, args.changes, 0),
        ):
            result = measure(case, run, args, api, db_url, workdir, rates, parts, changes, details)
            results.append(result)
            print(row(result), flush=True)
            for note in result.notes:
                print(f"{'':<4}{note}", flush=True)
    return results


@contextmanager
def _sqlite(workdir: Path) -> Iterator[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    yield f"sqlite:///{workdir / 'state.db'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingram",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--parts", type=int, default=1000, help="known parts tracked (default 1000)")
    parser.add_argument("--unknown", type=int, default=0, help="unknown parts tracked besides (default 0)")
    parser.add_argument(
        "--cases",
        default=",".join(DEFAULT_CASES),
        help=f"of {', '.join(CASES)} (default {','.join(DEFAULT_CASES)})",
    )
    parser.add_argument(
        "--first-rates", type=Rates.parse, default=Rates(600, 600), help="P&A,details a minute (600,600)"
    )
    parser.add_argument(
        "--later-rates", type=Rates.parse, default=Rates(60, 600), help="P&A,details a minute (60,600)"
    )
    parser.add_argument("--changes", type=int, default=10, help="parts changed before the later run (10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres", help="the state store")
    parser.add_argument("--prefect-db", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    if "2w" in args.cases and args.db != "postgres":
        parser.error("2w needs --db postgres (the workers share the state store)")
    print(
        f"bench.ingram: {args.parts} known + {args.unknown} unknown parts; first run at {args.first_rates.pna} "
        f"P&A / {args.first_rates.details} details a minute, later run at {args.later_rates.pna} / "
        f"{args.later_rates.details} ({args.changes} parts changed); target wall <= {TARGET} x bound",
        flush=True,
    )
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingram-"))
    results: list[RunResult] = []
    with prefect_server(args.prefect_db) as api:
        if "2w" in args.cases:
            deploy(api, workdir, "sqlite:///" + str(workdir / "deploy.db"))
        print(HEADER, flush=True)
        for case in args.cases:
            results += run_case(case, args, api, workdir)
    met = [r for r in results if r.ratio <= TARGET]
    print(
        f"bench.ingram: {len(met)} of {len(results)} runs within {TARGET} x bound; all correct: "
        f"{all(r.correct for r in results)}; {time.perf_counter() - began:.0f} s in all"
    )
    if results and all(r.correct and r.exit_code == 0 for r in results):
        shutil.rmtree(workdir, ignore_errors=True)
        return 0
    print(f"bench.ingram: logs kept in {workdir}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
