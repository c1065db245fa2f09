"""`catalog-sync serve` as a real process: it answers, stops on SIGTERM, and says a taken port in one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from catalog_sync.cli import build_parser
from tests.service.seed import free_port


def serve_command(port: int) -> list[str]:
    return [sys.executable, "-m", "catalog_sync.cli", "serve", "--port", str(port)]


def service_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}", "TMPDIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def test_serve_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8080)


def test_serve_answers_health_until_terminated(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        serve_command(port),
        cwd=tmp_path,
        env=service_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        response = None
        deadline = time.monotonic() + 30
        while response is None and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None, "the service did not answer within 30 s"
        assert response.json()["database"] == "ok"  # 200, or 503 when unconfigured pipelines count
        assert response.headers["x-content-type-options"] == "nosniff"
        assert httpx.get(f"http://127.0.0.1:{port}/products/search").status_code == 200  # a miss
        assert httpx.get(f"http://127.0.0.1:{port}/products/search").status_code == 200  # a hit
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert metrics.count("catalog_sync_database_up 1.0") == 1
        # One worker serves in this process, counting in the directory serve made (set before the app was).
        (directory,) = tmp_path.glob("catalog-sync-metrics-*")
        assert list(directory.glob("counter_*.db"))
        assert 'catalog_sync_read_cache_hits_total{api="products"} 1.0' in metrics
        assert 'catalog_sync_read_cache_misses_total{api="products"} 1.0' in metrics
    finally:
        process.terminate()
        out, err = process.communicate(timeout=15)
    assert b"catalog-sync service on http://127.0.0.1:" in out
    assert process.returncode == 0 and b"Traceback" not in err, err
    assert not directory.exists()  # removed when serve stopped


def test_port_in_use_is_a_one_line_usage_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            serve_command(port),
            cwd=tmp_path,
            env=service_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"catalog-sync: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
