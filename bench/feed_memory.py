"""Peak memory and time of the events feed pipeline, per feed shape, each run in a fresh process.

    .venv/bin/python -m bench.feed_memory [--mb 50] [--shapes many-base-plans,huge-base-plan,...]
        [--parse-only] [--src DIR]

Each shape is written (streaming) to a temporary file of about ``--mb`` MB, then a child process parses it
through ``store_feed`` into a temporary SQLite database (``--parse-only``: ``parse_feed`` alone) and reports
its own peak RSS (``ru_maxrss``) and the time taken. ``--src DIR`` imports ``sync_core`` from DIR instead,
e.g. an older commit's: ``git archive HEAD sync_core | tar -x -C DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PLAN_ATTRS = (
    'plan_start_date="2021-06-30T21:00:00" plan_end_date="2021-06-30T22:00:00" '
    'sell_from="2020-07-01T00:00:00" sell_to="2021-06-30T20:00:00" sold_out="false"'
)
WIDE_PLAN_ZONES = 4_000  # just under the parser's zone cap (5,000): the widest plans it still stores
HEADER = (
    f"{'shape':<16} {'file_MB':>8} {'plans':>9} {'events':>9} {'quarant':>8} {'wall_s':>7} {'cpu_s':>6} "
    f"{'rss0_MB':>8} {'peak_MB':>8}"
)


class Budget:
    """Bytes written so far against the target size."""

    def __init__(self, target: int) -> None:
        self.target, self.written = target, 0

    def left(self) -> bool:
        return self.written < self.target


def _base(base_id: int) -> str:
    return f'<base_plan base_plan_id="{base_id}" sell_mode="online" title="Event {base_id}" organizer_company_id="1">'


def _plan_open(plan_id: int) -> str:
    return f'<plan plan_id="{plan_id}" {PLAN_ATTRS}>'


def _zones(start: int, count: int) -> str:
    return "".join(
        f'<zone zone_id="{z}" capacity="{z % 500}" price="{10 + z % 90}.50" name="Zone {z}" numbered="true"/>'
        for z in range(start, start + count)
    )


def _plan(plan_id: int, zones: int = 3) -> str:
    return _plan_open(plan_id) + _zones(0, zones) + "</plan>"


def many_base_plans(budget: Budget) -> Iterator[str]:
    """Base plans of two plans of three zones each: the usual shape."""
    base_id = 0
    while budget.left():
        yield _base(base_id) + _plan(0) + _plan(1) + "</base_plan>"
        base_id += 1


def huge_base_plan(budget: Budget) -> Iterator[str]:
    """One base plan holding every plan (three zones each)."""
    yield _base(0)
    plan_id = 0
    while budget.left():
        yield _plan(plan_id)
        plan_id += 1
    yield "</base_plan>"


def wide_plans(budget: Budget) -> Iterator[str]:
    """Base plans of one plan with WIDE_PLAN_ZONES zones each."""
    base_id = 0
    while budget.left():
        yield _base(base_id) + _plan_open(0)
        for start in range(0, WIDE_PLAN_ZONES, 1_000):
            yield _zones(start, 1_000)
        yield "</plan></base_plan>"
        base_id += 1


def many_zones(budget: Budget) -> Iterator[str]:
    """One plan holding every zone."""
    yield _base(0) + _plan_open(0)
    start = 0
    while budget.left():
        yield _zones(start, 1_000)
        start += 1_000
    yield "</plan></base_plan>"


SHAPES: dict[str, Callable[[Budget], Iterator[str]]] = {
    "many-base-plans": many_base_plans,
    "huge-base-plan": huge_base_plan,
    "wide-plans": wide_plans,
    "many-zones": many_zones,
}


def write_feed(path: Path, shape: str, size_bytes: int) -> int:
    """Write a feed of ``shape`` of about ``size_bytes`` to ``path``, chunk by chunk; return its size."""
    budget = Budget(size_bytes)
    with path.open("w", encoding="utf-8") as f:
        f.write('<planList version="1.0"><output>')
        for chunk in SHAPES[shape](budget):
            budget.written += f.write(chunk)
        f.write("</output></planList>")
    return path.stat().st_size


def child(path: Path, parse_only: bool) -> dict[str, Any]:
    """Parse (and store) the feed at ``path`` in this process; its figures."""
    import resource
    from collections import Counter

    import sync_core
    from sync_core.mapping.fever_events import FeedEvent, parse_feed
    from sync_core.pipelines.fever_events import store_feed

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu_started = time.perf_counter(), time.process_time()
    with path.open("rb") as f, tempfile.TemporaryDirectory() as tmp:
        if parse_only:
            stats: Counter[str] = Counter()
            events = sum(isinstance(item, FeedEvent) for item in parse_feed(f, stats))
            plans, quarantined = stats["plans"], stats["plans"] - stats["offline"] - events
        else:
            from sync_core.db import upgrade

            url = f"sqlite:///{tmp}/events.db"
            upgrade(url)
            result = store_feed(url, f, retry_base_s=60)
            plans, events, quarantined = result.plans, result.events, result.quarantined
    return {
        "plans": plans,
        "events": events,
        "quarantined": quarantined,
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu_started,
        "rss0_kb": rss0,
        "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "sync_core": str(Path(sync_core.__file__).parent),
    }


def measure(path: Path, *, parse_only: bool, src: Path | None) -> dict[str, Any]:
    """Run :func:`child` on ``path`` in a fresh interpreter; its figures."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in (src, ROOT) if p))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(path)]
    done = subprocess.run(
        command + (["--parse-only"] if parse_only else []), env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed on {path.name}:\n{done.stderr.strip()}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=50.0, help="size of each generated feed, in MB")
    parser.add_argument(
        "--shapes", default=",".join(SHAPES), help="comma-separated, from: " + ", ".join(SHAPES)
    )
    parser.add_argument("--parse-only", action="store_true", help="parse_feed alone, no database")
    parser.add_argument("--src", type=Path, help="import sync_core from this directory instead")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.parse_only)))
        return 0
    shapes = [s for s in args.shapes.split(",") if s]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; choose from {', '.join(SHAPES)}")
    print(f"{'parse_feed' if args.parse_only else 'store_feed into SQLite'}, ~{args.mb:g} MB per feed")
    print(HEADER)
    for shape in shapes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{shape}.xml"
            size = write_feed(path, shape, int(args.mb * 1_000_000))
            r = measure(path, parse_only=args.parse_only, src=args.src)
        print(
            f"{shape:<16} {size / 1e6:>8.1f} {r['plans']:>9,} {r['events']:>9,} {r['quarantined']:>8,} "
            f"{r['wall_s']:>7.1f} {r['cpu_s']:>6.1f} {r['rss0_kb'] / 1024:>8.0f} {r['peak_kb'] / 1024:>8.0f}",
            flush=True,
        )
    print(f"sync_core from {r['sync_core']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
