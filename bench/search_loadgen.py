"""Load generators for bench/search_load.py: wrk with a Lua request list, or keep-alive asyncio sockets.

Both send GET requests over ``connections`` keep-alive HTTP/1.1 connections to a loopback service for
``duration`` seconds, cycling through a list of request targets, and count a non-200 answer or a broken
connection as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

WRK_SCRIPT = """
local file = %(paths)s
local reqs, n, at = {}, 0, 0
local started = 0
setup = function(thread)
  thread:set("id", started)
  started = started + 1
end
init = function(args)
  for line in io.lines(file) do
    n = n + 1
    reqs[n] = wrk.format("GET", line)
  end
  at = ((id or 0) * 7919) %% n
end
request = function()
  at = at %% n + 1
  return reqs[at]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "errors": %%d, "non_200": %%d, ' ..
    '"p50": %%d, "p90": %%d, "p99": %%d, "max": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class LoadResult:
    """What a load run measured; latencies in milliseconds by name (p50, p90, p99, max)."""

    requests: int
    duration_s: float
    bytes: int
    errors: int
    latencies_ms: dict[str, float]
    first_error: str | None = None

    def latency_ms(self, name: str) -> float:
        return self.latencies_ms.get(name, 0.0)


def run_wrk(
    base: str, paths: Sequence[str], *, connections: int, duration: float, threads: int, workdir: Path
) -> LoadResult:
    """One wrk run; raises SystemExit when wrk fails or prints no figures."""
    paths_file = workdir / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    script = workdir / "search.lua"
    script.write_text(WRK_SCRIPT % {"paths": json.dumps(str(paths_file))})
    command = [
        "wrk", f"-t{threads}", f"-c{max(connections, threads)}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
        "-s", str(script), base,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(
            f"bench: wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}"
        )
    data = json.loads(line.removeprefix("WRKJSON "))
    errors = int(data["errors"]) + int(data["non_200"])
    return LoadResult(
        requests=int(data["requests"]),
        duration_s=int(data["duration_us"]) / 1e6,
        bytes=int(data["bytes"]),
        errors=errors,
        latencies_ms={name: int(data[name]) / 1000 for name in ("p50", "p90", "p99", "max")},
        first_error=f"{data['non_200']} non-2xx answers, {data['errors']} socket errors" if errors else None,
    )


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    bytes: int = 0
    errors: int = 0
    first_error: str | None = None

    def error(self, what: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or what


def run_python(
    base: str, paths: Sequence[str], *, connections: int, duration: float, threads: int, workdir: Path
) -> LoadResult:
    """One run of the asyncio generator (``threads`` and ``workdir`` are wrk's; unused here)."""
    split = urlsplit(base)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    tally = _Tally()
    started = time.perf_counter()
    asyncio.run(_drive(host, port, paths, connections, started + duration, tally))
    elapsed = time.perf_counter() - started
    ordered = sorted(tally.latencies)

    def pick(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else 0.0

    return LoadResult(
        requests=len(ordered) + tally.errors,
        duration_s=elapsed,
        bytes=tally.bytes,
        errors=tally.errors,
        latencies_ms={"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "max": pick(1.0)},
        first_error=tally.first_error,
    )


async def _drive(
    host: str, port: int, paths: Sequence[str], connections: int, deadline: float, tally: _Tally
) -> None:
    requests = [f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode() for path in paths]
    step = max(1, len(requests) // max(1, connections))
    await asyncio.gather(
        *(_connection(host, port, requests, n * step, deadline, tally) for n in range(connections))
    )


async def _connection(
    host: str, port: int, requests: Sequence[bytes], at: int, deadline: float, tally: _Tally
) -> None:
    """Sequential requests on one keep-alive connection until the deadline; reconnects after an error."""
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            at = (at + 1) % len(requests)
            sent = time.perf_counter()
            writer.write(requests[at])
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            length = _content_length(head)
            body = await asyncio.wait_for(reader.readexactly(length), timeout=10)
            status = int(head[9:12])
        except (
            TimeoutError,
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ) as exc:
            tally.error(f"{type(exc).__name__}: {exc}")
            if writer is not None:
                writer.close()
            writer = None
            continue
        if status != 200:
            tally.error(f"HTTP {status}: {body[:200]!r}")
            continue
        tally.latencies.append(time.perf_counter() - sent)
        tally.bytes += len(head) + len(body)
    if writer is not None:
        writer.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError("answer without Content-Length")


def add_load_options(parser: argparse.ArgumentParser, *, workers: int = 2) -> None:
    """The options every read-API load bench takes: service workers, connections, time, load generator."""
    parser.add_argument("--workers", type=int, default=workers, help=f"`serve --workers` (default {workers})")
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent keep-alive connections (default 32)"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of the same load before (default 2)"
    )
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")


def chosen_loadgen(args: argparse.Namespace) -> str:
    """wrk when asked or (auto) installed, else the Python generator; SystemExit when wrk is asked, missing."""
    loadgen: str = args.loadgen if args.loadgen != "auto" else ("wrk" if shutil.which("wrk") else "python")
    if loadgen == "wrk" and not shutil.which("wrk"):
        raise SystemExit("bench: wrk is not installed (apt-get install wrk), use --loadgen python")
    return loadgen
