"""`catalog-sync sync products` shows its progress: plain lines on stdout when it is not on a terminal (no
``\\r`` anywhere, stderr empty on success), a bar on stderr when stderr is one; the per-batch log line stays."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from prefect.settings import get_current_settings

from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle
from tests.conftest import _truncate
from tests.flows.conftest import sandbox_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def db_url(_sqlite_url: str) -> str:
    _truncate(_sqlite_url)
    return _sqlite_url


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=60, variants=1, seed=8)  # 3 pages of 25, one batch each


def sync_products(sandbox: SandboxHandle, db_url: str, cwd: Path, **streams: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        **sandbox_env(sandbox, db_url),
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "SYNC_PAGES_PER_BATCH": "1",
        "TERM": "xterm",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "catalog_sync.cli", "sync", "products", "--full"],
        cwd=cwd,
        env=env,
        text=True,
        **{"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **streams},  # type: ignore[arg-type]
    )


def test_not_on_a_terminal_progress_is_plain_lines(
    sync_env: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    out, err = sync_products(sync_env, db_url, tmp_path).communicate(timeout=180)
    assert "\r" not in out + err and err == "", (out, err)
    progress = [line for line in out.splitlines() if line.startswith("progress anar360-sazito: ")]
    assert progress and progress[0].startswith("progress anar360-sazito: 1/3 pages 33% · "), out
    assert progress[-1].startswith("progress anar360-sazito: 3/3 pages 100% · ") and "done in" in progress[-1]
    assert "pages 3/3: pushed " in out  # the batch's own line stays


def test_on_a_terminal_stderr_shows_a_bar_finished_before_the_summary(
    sync_env: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    leader, follower = pty.openpty()
    process = sync_products(sync_env, db_url, tmp_path, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the other end closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    out, _ = process.communicate(timeout=180)
    reader.join(timeout=10)
    os.close(leader)
    terminal = b"".join(chunks).decode()
    assert process.returncode == 0, (out, terminal)
    assert "\r" not in out and "pages 3/3: pushed " in out  # stdout is not the terminal: no bar there
    assert "\r\x1b[K[#######.............] 1/3 pages 33% · " in terminal
    assert (
        terminal.rstrip("\r\n").splitlines()[-1].startswith("\x1b[K[####################] 3/3 pages 100% · ")
        and "done in" in terminal
    )
