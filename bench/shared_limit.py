"""Shared rate budgets: do two workers on one provider connection stay within its limit together, and what
does sharing it through Prefect cost against one worker pacing alone?

    .venv/bin/python -m bench.shared_limit [--products 1000] [--rate-limit 10] [--cases a,b,c,d]
        [--prefect-db postgres|sqlite]

One Prefect server for all cases (on a throw-away PostgreSQL database unless --prefect-db sqlite), and per
case a fresh sandbox (`catalog-sync sandbox --rate-limit 10`: 600 requests a minute, a token bucket of 10 that
refills at 10/s, across both of its APIs; it starts in under a second, and a fresh one gives every case the
same work). Every worker is its own `catalog-sync sync products --full` process with its own SQLite state
store (so two runs' leases do not collide) and the same connections (so they share the Prefect limits
`anar360-requests` and `sazito-requests`), pacing locally at the full 600/min (`RATE_LIMIT_PER_MIN=600`):

    a  one worker, USE_PREFECT_RATE_LIMITS=false: pacing alone, the baseline
    b  one worker, shared limits on
    c  two workers at once, shared limits on
    d  two workers at once, shared limits off: what the shared limit prevents

The Prefect limits are deleted before each case, so the workers create them (at 600/min) themselves. A poller
reads the sandbox's counters every 0.1 s; per case it prints the requests the sandbox received (429s included)
and served, the 429s, the wall time (workers started to last exit), the active time (first to last request
seen), served requests per active second and per second in the steady part (from 10 % to 90 % of them), the
most requests received in any 1 s, 10 s and 60 s window, of both APIs and of Sazito's alone (from the 0.1 s
samples; a run shorter than 60 s fits in one window), and when the 429s and the Anar360 requests came: the
sandbox's one bucket counts Anar360's requests (the runs' other connection, with a budget of its own) with
Sazito's, so where they overlap it answers 429 to a worker pacing alone too. The sandbox serves at most 10 +
10·t requests in any t seconds (20 in 1 s, 110 in 10 s, 610 in 60 s). Then the throughput ratios b/a, c/a and
d/a.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.harness import BIN, ROOT, prefect_server, sandbox
from bench.run import sandbox_env

CASES = {
    "a": ("one worker, pacing alone", 1, False),
    "b": ("one worker, shared limit", 1, True),
    "c": ("two workers, shared limit", 2, True),
    "d": ("two workers, no shared limit", 2, False),
}
LIMITS = ("anar360-requests", "sazito-requests")
POLL_S = 0.1


@dataclass
class Samples:
    """The sandbox's counters over time: (seconds since the case started, received, sazito received,
    429s)."""

    points: list[tuple[float, int, int, int]] = field(default_factory=list)

    def max_in(self, window_s: float, column: int = 1) -> int:
        """The most requests received within any ``window_s`` seconds (between two samples)."""
        best, start = 0, 0
        for end in range(len(self.points)):
            while self.points[end][0] - self.points[start][0] > window_s + 1e-9:
                start += 1
            best = max(best, int(self.points[end][column]) - int(self.points[start][column]))
        return best

    def throttled_at(self) -> str:
        """When the 429s came: spans of samples (gaps under 1 s joined), "<from>-<to>s:<count>"."""
        return _spans((at, throttled) for at, _, _, throttled in self.points)

    def other_api_at(self) -> str:
        """When Anar360 (the run's other connection, on the same sandbox bucket) was called, likewise."""
        return _spans((at, received - sazito) for at, received, sazito, _ in self.points)

    def steady_rate(self, low: float = 0.1, high: float = 0.9) -> float:
        """Requests served per second between the samples where ``low`` and ``high`` of them had been
        served: the rate once the run is going and before its tail, where it is paced."""
        served = [(at, received - throttled) for at, received, _, throttled in self.points]
        total = served[-1][1] if served else 0
        if total < 10:
            return 0.0
        start = next(p for p in served if p[1] >= low * total)
        end = next(p for p in served if p[1] >= high * total)
        return (end[1] - start[1]) / (end[0] - start[0]) if end[0] > start[0] else 0.0

    def active_s(self) -> float:
        """From the sample before the first request to the first sample after the last one."""
        counts = [p[1] for p in self.points]
        if not counts or counts[-1] == 0:
            return 0.0
        first = next(i for i, c in enumerate(counts) if c > 0)
        last = counts.index(counts[-1])
        return self.points[last][0] - self.points[max(0, first - 1)][0]


def _spans(series: Iterable[tuple[float, int]]) -> str:
    """The spans of a growing count: "<from>-<to>s:<growth>", samples less than 1 s apart joined."""
    spans: list[list[float]] = []  # [from, to, growth]
    last = 0
    for at, count in series:
        if count > last:
            if spans and at - spans[-1][1] < 1.0:
                spans[-1][1], spans[-1][2] = at, spans[-1][2] + count - last
            else:
                spans.append([at, at, count - last])
        last = count
    return " ".join(f"{a:.1f}-{b:.1f}s:{n:.0f}" for a, b, n in spans) or "none"


def poll(control: httpx.Client, started: float, stop: threading.Event, samples: Samples) -> None:
    while not stop.is_set():
        stats = control.get("/stats").json()
        sazito = sum(n for route, n in stats["requests"].items() if route.startswith("sazito"))
        samples.points.append(
            (time.perf_counter() - started, stats["requests_total"], sazito, stats["throttled_429"])
        )
        stop.wait(POLL_S)


def reset_limits(api: str) -> None:
    """Delete the shared limits, so the case starts with none (the workers create them)."""
    with httpx.Client(base_url=api, timeout=30) as client:
        for name in LIMITS:
            answer = client.delete(f"/v2/concurrency_limits/{name}")
            if answer.status_code not in (200, 204, 404):
                answer.raise_for_status()


def read_limits(api: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    with httpx.Client(base_url=api, timeout=30) as client:
        for name in LIMITS:
            answer = client.get(f"/v2/concurrency_limits/{name}")
            if answer.status_code == 200:
                data = answer.json()
                found[name] = f"{data['limit']} slots at {data['slot_decay_per_second']}/s"
    return found


def worker_env(url: str, api: str, workdir: Path, index: int, shared: bool, per_min: int) -> dict[str, str]:
    home = workdir / f"worker-{index}"
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        **sandbox_env(url),
        "DATABASE_URL": f"sqlite:///{home / 'state.db'}",
        "LOG_FILE": str(home / "catalog-sync.log"),
        "PREFECT_API_URL": api,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "RATE_LIMIT_PER_MIN": str(per_min),
        "ANAR360_RATE_LIMIT_PER_MIN": str(per_min),
        "SAZITO_RATE_LIMIT_PER_MIN": str(per_min),
        "HTTP_CONCURRENCY": "8",
        "USE_PREFECT_RATE_LIMITS": "true" if shared else "false",
    }


@dataclass
class CaseResult:
    case: str
    title: str
    workers: int
    exit_codes: list[int]
    worker_walls: list[float]
    wall_s: float
    received: int
    throttled: int
    active_s: float
    max_1s: int
    max_10s: int
    max_60s: int
    max_10s_sazito: int
    max_60s_sazito: int
    throttled_at: str
    other_api_at: str
    steady: float
    correct: bool
    limits: dict[str, Any]

    @property
    def served(self) -> int:
        return self.received - self.throttled

    @property
    def rate(self) -> float:
        return self.served / self.active_s if self.active_s else 0.0


def run_case(key: str, args: argparse.Namespace, api: str) -> CaseResult:
    title, workers, shared = CASES[key]
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-shared-{key}-"))
    reset_limits(api)
    with sandbox(args) as (url, _pid), httpx.Client(base_url=f"{url}/_sandbox", timeout=60) as control:
        control.post("/reset-stats").raise_for_status()
        samples, stop = Samples(), threading.Event()
        started = time.perf_counter()
        poller = threading.Thread(target=poll, args=(control, started, stop, samples), daemon=True)
        poller.start()
        processes, ends = [], {}
        for i in range(workers):
            env = worker_env(url, api, workdir, i, shared, args.per_min)
            log = (workdir / f"worker-{i}.out").open("wb")
            command = [str(BIN / "catalog-sync"), "sync", "products", "--full"]
            processes.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            )
        codes = []
        for i, process in enumerate(processes):
            codes.append(process.wait())
            ends[i] = time.perf_counter() - started
        wall = max(ends.values())
        time.sleep(2 * POLL_S)
        stop.set()
        poller.join()
        stats = control.get("/stats").json()
        correct = bool(control.get("/verify").json()["ok"])
    return CaseResult(
        key,
        title,
        workers,
        codes,
        [round(ends[i], 1) for i in range(workers)],
        wall,
        stats["requests_total"],
        stats["throttled_429"],
        samples.active_s(),
        samples.max_in(1.0),
        samples.max_in(10.0),
        samples.max_in(60.0),
        samples.max_in(10.0, column=2),
        samples.max_in(60.0, column=2),
        samples.throttled_at(),
        samples.other_api_at(),
        samples.steady_rate(),
        correct,
        read_limits(api) if shared else {},
    )


HEADER = (
    f"{'case':<32} {'exit':>6} {'wall_s':>7} {'active_s':>8} {'received':>8} {'served':>6} {'429s':>5} "
    f"{'served/s':>8} {'steady/s':>8} {'max1s':>5} {'max10s':>6} {'max60s':>6} {'sazito10s':>9} "
    f"{'sazito60s':>9} {'correct':>7}"
)


def row(r: CaseResult) -> str:
    return (
        f"{r.case + ' ' + r.title:<32} {','.join(map(str, r.exit_codes)):>6} {r.wall_s:>7.1f} "
        f"{r.active_s:>8.1f} {r.received:>8} {r.served:>6} {r.throttled:>5} {r.rate:>8.2f} {r.steady:>8.2f} "
        f"{r.max_1s:>5} "
        f"{r.max_10s:>6} {r.max_60s:>6} {r.max_10s_sazito:>9} {r.max_60s_sazito:>9} "
        f"{'yes' if r.correct else 'NO':>7}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.shared_limit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--rate-limit", type=float, default=10, help="the sandbox's requests/s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", default="a,b,c,d", help="which of a,b,c,d to run, in that order")
    parser.add_argument(
        "--prefect-db",
        choices=["sqlite", "postgres"],
        default="postgres",
        help="the Prefect server's database (postgres: a throw-away database, as a production server)",
    )
    args = parser.parse_args(argv)
    args.latency_ms, args.fault_rate = 0, 0
    args.per_min = int(args.rate_limit * 60)  # every worker paces at the whole limit
    keys = [k.strip() for k in args.cases.split(",") if k.strip()]
    unknown = set(keys) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    print(
        f"bench.shared_limit: {args.products} products x {args.variants} variants, sandbox limit "
        f"{args.rate_limit:g}/s ({args.per_min}/min, both APIs together), each worker paces at "
        f"{args.per_min}/min per connection",
        flush=True,
    )
    began = time.perf_counter()
    results: list[CaseResult] = []
    with prefect_server(args.prefect_db) as api:
        for key in keys:
            result = run_case(key, args, api)
            results.append(result)
            if len(results) == 1:
                print(HEADER)
            print(row(result), flush=True)
            print(f"{'':<4}429s at (seconds from start: count): {result.throttled_at}", flush=True)
            print(f"{'':<4}Anar360 requests at: {result.other_api_at}", flush=True)
            if result.limits:
                print(f"{'':<4}limits made by the workers: {result.limits}", flush=True)
            if len(result.worker_walls) > 1:
                print(f"{'':<4}each worker's wall: {result.worker_walls} s", flush=True)
    print_ratios(results)
    print(f"bench.shared_limit: {time.perf_counter() - began:.0f} s in all")
    return 0


def print_ratios(results: list[CaseResult]) -> None:
    """Each case's throughput against a's (the means when a case ran more than once)."""

    def mean(key: str, value: Callable[[CaseResult], float]) -> float:
        found = [value(r) for r in results if r.case == key]
        return sum(found) / len(found) if found else 0.0

    base_rate, base_steady = mean("a", lambda r: r.rate), mean("a", lambda r: r.steady)
    if not base_rate or not base_steady:
        return
    for key in ("b", "c", "d"):
        if any(r.case == key for r in results):
            print(
                f"throughput {key}/a: {mean(key, lambda r: r.rate) / base_rate:.2f} in served requests per "
                f"active second, {mean(key, lambda r: r.steady) / base_steady:.2f} in steady served/s"
            )


if __name__ == "__main__":
    sys.exit(main())
