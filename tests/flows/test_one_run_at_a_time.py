"""Two `catalog-sync sync products --full` started at once on one store: one runs, the other waits for it
(then finds nothing to write) or, with `--wait 0`, refuses in one line; never both writing.

The sandbox holds every write call after the two pre-run key checks (one empty bulk update each), so the run
that takes the lease is stuck writing until the test has seen the other one wait or refuse."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prefect.settings import get_current_settings

from sync_core.engine.runs import recent_runs
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle
from sync_core.sandbox.verify import expected_writes, verify_store
from tests.flows.conftest import sandbox_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=60, variants=3, seed=21, in_sync_fraction=0.0)


class Cli:
    """A `catalog-sync sync products --full` process whose output is collected as it comes."""

    def __init__(self, sandbox: SandboxHandle, db_url: str, cwd: Path, *args: str) -> None:
        env = {
            **os.environ,
            **sandbox_env(sandbox, db_url),
            "HTTP_CONCURRENCY": "2",
            "PREFECT_API_URL": str(get_current_settings().api.url),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "catalog_sync.cli", "sync", "products", "--full", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None and self.process.stderr is not None
        self.out.extend(self.process.stdout)
        self.err = self.process.stderr.read()

    def said(self, text: str) -> bool:
        return any(text in line for line in self.out)

    def finish(self) -> int:
        code = self.process.wait(timeout=300)
        self._reader.join(timeout=30)
        return code


def wait_for(condition: object, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_two_full_syncs_at_once_make_exactly_the_needed_writes(
    sync_env: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    state, needed = sync_env.state, expected_writes(sync_env.state)
    state.hold_writes(after=2)
    both = [Cli(sync_env, db_url, tmp_path) for _ in range(2)]
    try:
        wait_for(lambda: any(c.said("waiting up to 600 s for it to end") for c in both), "one run to wait")
        assert [r.status for r in recent_runs(db_url)] == ["running"]  # the other holds the lease
    finally:
        state.release_writes()
    assert [c.finish() for c in both] == [0, 0], [(c.out, c.err) for c in both]
    stats = state.stats()
    assert stats["variant_writes"] == needed and stats["noop_writes"] == 0
    assert max(stats["variant_write_counts"].values()) <= 2  # one price and one stock write at most
    assert verify_store(state).ok
    assert sorted(r.pushed for r in recent_runs(db_url)) == [0, needed]  # the one that waited had none left
    assert all(c.said("pages 3/3: pushed ") for c in both)  # progress on the terminal, batch by batch


def test_with_wait_0_the_second_refuses_in_one_line_and_does_nothing(
    sync_env: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    state = sync_env.state
    state.hold_writes(after=2)
    both = [Cli(sync_env, db_url, tmp_path, "--wait", "0") for _ in range(2)]
    try:
        wait_for(lambda: any(c.process.poll() is not None for c in both), "one run to give up")
    finally:
        state.release_writes()
    codes = [c.finish() for c in both]
    assert sorted(codes) == [0, 75], [(c.out, c.err) for c in both]
    refused = both[codes.index(75)]
    assert (
        len(refused.err.strip().splitlines()) == 1 and "Traceback" not in "".join(refused.out) + refused.err
    )
    assert refused.err.startswith("catalog-sync: not run: another anar360-sazito run is going: run ")
    assert refused.err.strip().endswith("try again later, or pass --wait SECONDS")
    assert len(recent_runs(db_url)) == 1  # the refused one opened no run
    assert verify_store(state).ok
