"""The benchmarks' processes: a fresh sandbox, a Prefect server, a throw-away state store, and a contender
run as its own process with its wall time, CPU and peak RSS."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
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
    knobs = {
        "products": args.products,
        "variants": args.variants,
        "latency-ms": args.latency_ms,
        "fault-rate": args.fault_rate,
        "rate-limit": args.rate_limit,
        "seed": args.seed,
    }
    with sandbox_process(knobs) as served:
        yield served


@contextmanager
def sandbox_process(knobs: dict[str, object]) -> Iterator[tuple[str, int]]:
    """A fresh `catalog-sync sandbox` process with these knobs (flag name without dashes → value); yields its
    base URL and pid."""
    port = free_port()
    command = [str(BIN / "catalog-sync"), "sandbox", "--port", str(port)]
    for flag, value in knobs.items():
        command += [f"--{flag}", str(value)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/_sandbox/knobs", 300, "the sandbox")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def prefect_server(db: str = "sqlite") -> Iterator[str]:
    """One Prefect server for all catalog-sync runs, as in production (its start-up is reported apart), on its
    own SQLite file or (``db="postgres"``, as a production server) a throw-away PostgreSQL database."""
    port = free_port()
    home = tempfile.mkdtemp(prefix="bench-prefect-")
    with ExitStack() as stack:
        if db == "postgres":
            url = stack.enter_context(state_store("postgres", Path(home)))
            database = url.replace("postgresql+psycopg://", "postgresql+asyncpg://")
        else:
            database = f"sqlite+aiosqlite:///{home}/prefect.db"
        env = {
            **os.environ,
            "PREFECT_HOME": home,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_DATABASE_CONNECTION_URL": database,
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
            print(f"prefect server ({db}) up in {time.perf_counter() - started:.1f} s at {api}", flush=True)
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
