"""Runs that go wrong, as a user of the command line sees them: providers that never end, drip, repeat a
page, or answer something that is not the feed. Each ends within its bound, exit 1, one line on stderr
naming the cause, and no traceback anywhere on the terminal."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import get_current_settings
from sqlmodel import select

from sync_core.db import session_scope
from sync_core.engine.runs import recent_runs
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle
from sync_core.tables import ExternalRequest, SyncRun
from tests.conftest import _truncate
from tests.flows.conftest import sandbox_env

pytestmark = pytest.mark.e2e
FEED_HEAD = b'<?xml version="1.0"?><planList version="1.0"><output>'
BASE_PLAN = b'<base_plan base_plan_id="1" sell_mode="online" title="t"></base_plan>'
XHTML = b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>Maintenance</body></html>'


@pytest.fixture
def db_url(_sqlite_url: str) -> str:
    """SQLite only: these runs are about the providers' side; the store behaves alike on both (tests/store)."""
    _truncate(_sqlite_url)
    return _sqlite_url


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=120, variants=1, seed=5, fever_base_plans=10)


@contextmanager
def feed_server(body: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """An HTTP server whose GET answers 200 and writes the body ``body`` makes (HEAD: headers only)."""

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            self.do_HEAD()
            with contextlib.suppress(OSError):  # the client gave up: as it should
                body(self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/events"
    finally:
        server.shutdown()
        server.server_close()


def endless(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(FEED_HEAD)
    while True:
        handler.wfile.write(BASE_PLAN * 1000)


def dripping(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(FEED_HEAD)
    while True:
        handler.wfile.write(b" " * 100)
        handler.wfile.flush()
        time.sleep(1)


def run_cli(
    sandbox: SandboxHandle, db_url: str, cwd: Path, args: list[str], **env: str
) -> tuple[int, str, str]:
    environment = {
        **os.environ,
        **sandbox_env(sandbox, db_url),
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "HTTP_RETRIES": "1",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "catalog_sync.cli", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done.returncode, done.stdout, done.stderr


def assert_one_line_failure(code: int, out: str, err: str, *fragments: str) -> str:
    assert code == 1, (out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("catalog-sync: run failed: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_a_feed_that_never_ends_stops_at_its_size_bound(
    sync_env: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    with feed_server(endless) as url:
        started = time.monotonic()
        code, out, err = run_cli(
            sync_env, db_url, tmp_path, ["sync", "events"], FEVER_PROVIDER_URL=url, FEED_MAX_MB="2"
        )
    assert_one_line_failure(
        code, out, err, "fever: GET /api/events answered more than 2.0 MiB", "FEED_MAX_MB"
    )
    assert time.monotonic() - started < 60
    assert recent_runs(db_url)[0].status == "failed"


def test_a_dripping_feed_stops_at_its_deadline(sync_env: SandboxHandle, db_url: str, tmp_path: Path) -> None:
    with feed_server(dripping) as url:
        started = time.monotonic()
        code, out, err = run_cli(
            sync_env, db_url, tmp_path, ["sync", "events"], FEVER_PROVIDER_URL=url, FEED_DEADLINE_S="3"
        )
    assert_one_line_failure(
        code, out, err, "fever: GET /api/events did not finish within 3 s", "FEED_DEADLINE_S"
    )
    assert time.monotonic() - started < 60


def test_an_xhtml_page_instead_of_the_feed_is_an_error_not_an_empty_sync(
    sync_env: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    with feed_server(lambda handler: handler.wfile.write(XHTML)) as url:
        code, out, err = run_cli(sync_env, db_url, tmp_path, ["sync", "events"], FEVER_PROVIDER_URL=url)
    assert_one_line_failure(code, out, err, "not the events feed", "root element <html")


def test_a_file_that_is_not_xml_is_named_in_one_line(
    sync_env: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    plain = tmp_path / "feed.txt"
    plain.write_text("hello, this is not XML\n")
    code, out, err = run_cli(sync_env, db_url, tmp_path, ["sync", "events", "--url", plain.as_uri()])
    assert_one_line_failure(code, out, err, "fever: ", "XML")


def test_a_supplier_stuck_on_a_page_is_stopped_at_the_repeat(
    sync_env: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    sync_env.state.configure(anar360_stuck_page=2)
    started = time.monotonic()
    code, out, err = run_cli(sync_env, db_url, tmp_path, ["sync", "products", "--full"])
    assert_one_line_failure(
        code, out, err, "anar360: the product listing repeats itself: pages 2 and ", "never end"
    )
    assert time.monotonic() - started < 90
    run = recent_runs(db_url)[0]
    assert run.status == "failed" and "repeats itself" in (run.error or "")


def test_credentials_in_the_feed_url_are_used_and_shown_nowhere(
    sync_env: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    sample = (Path(__file__).parents[1] / "fixtures" / "fever" / "fever_response_2.xml").read_bytes()
    wanted = "Basic " + base64.b64encode(b"feeder:s3cret-pw").decode()

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(sample if handler.headers.get("Authorization") == wanted else b"<denied/>")

    with feed_server(answer) as url:
        secret_url = url.replace("http://", "http://feeder:s3cret-pw@")
        code, out, err = run_cli(
            sync_env, db_url, tmp_path, ["sync", "events"], FEVER_PROVIDER_URL=secret_url
        )
    assert code == 0, (out, err)
    assert recent_runs(db_url)[0].fetched > 0  # the credentials were sent: the feed was read
    log = (tmp_path / "var" / "catalog-sync.log").read_text()
    with session_scope(db_url) as session:
        audit = " ".join(f"{r.url} {r.error}" for r in session.exec(select(ExternalRequest)))
        flow_run_id = session.exec(select(SyncRun)).one().flow_run_id
    parameters = asyncio.run(_parameters(flow_run_id))
    for place in (out, err, log, audit, str(parameters)):
        assert "s3cret-pw" not in place
    assert parameters == {
        "url": None,
        "connections": None,
    }  # FEVER_PROVIDER_URL stays in the worker's settings


async def _parameters(flow_run_id: str | None) -> dict[str, object]:
    async with get_client() as client:
        return dict((await client.read_flow_run(UUID(flow_run_id))).parameters)
