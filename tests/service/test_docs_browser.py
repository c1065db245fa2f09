"""`/docs` in a real browser with no network but loopback: Debian's headless Chromium must render every operation.

Driven through Debian's chromedriver by selenium, both named by path (selenium then never downloads a browser
or a driver). Locally the test skips without them; in CI (``CATALOG_SYNC_REQUIRE_BROWSER=1``, or ``CI=true``)
it fails instead: `.ci/run` installs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.service.seed import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REQUIRE_BROWSER = os.environ.get("CATALOG_SYNC_REQUIRE_BROWSER") == "1" or os.environ.get("CI") == "true"
OPERATIONS = [
    "/search",
    "/health",
    "/runs",
    "/failures",
    "/metrics",
    "/pipelines/{name}/runs",
    "/items/{pipeline}/{key}",
    "/products/search",
    "/products/categories",
    "/products/{ploomes_id}",
    "/webhooks/ploomes",
    "/stores",  # get and post
    "/stores",
    "/stores/{name}/enable",
    "/stores/{name}/disable",
    "/stores/{name}",  # delete and get
    "/stores/{name}",
    "/stores/{name}/sync",
    "/inventory",
    "/alerts",
]
RENDER_TIMEOUT_S = 60


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is missing (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def chromium() -> None:
    """Skip without Chromium, chromedriver or selenium; fail instead where a browser is required."""
    reason = _missing()
    if reason and REQUIRE_BROWSER:
        pytest.fail(f"a browser is required here (CATALOG_SYNC_REQUIRE_BROWSER or CI): {reason}")
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def service(chromium: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`catalog-sync serve` as a real process on a free loopback port; its base URL."""
    workdir = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{workdir / 'state.db'}"}
    command = [sys.executable, "-m", "catalog_sync.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                httpx.get(f"{base}/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the service did not answer within 30 s"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=15)


@pytest.fixture
def browser(chromium: None, tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium that resolves no host but 127.0.0.1, recording every request it makes."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(RENDER_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked the network for (Chrome's DevTools events); chrome:// and data: left out."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            url = message["params"].get("request", message["params"]).get("url", "")
            if urlsplit(url).scheme in ("http", "https", "ws", "wss"):
                urls.append(url)
    return urls


def test_docs_render_every_operation_offline(service: str, browser: Any) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{service}/docs")
    try:
        paths = WebDriverWait(browser, RENDER_TIMEOUT_S).until(
            lambda driver: driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
        )
    except TimeoutException:
        console = [e["message"] for e in browser.get_log("browser")]
        pytest.fail(
            f"/docs showed no operation within {RENDER_TIMEOUT_S} s; "
            f"requests: {requested_urls(browser)}; console: {console}"
        )
    assert [path.text for path in paths] == OPERATIONS
    assert browser.find_element(By.CSS_SELECTOR, ".info .title").text.startswith("catalog-sync operations")
    assert "OAS 3.1" in browser.find_element(By.CSS_SELECTOR, ".info").text
    assert not browser.find_elements(By.CSS_SELECTOR, ".errors-wrapper")  # e.g. "no valid version field"

    urls = requested_urls(browser)
    assert f"{service}/openapi.json" in urls and any(u.endswith("/swagger-ui-bundle.js") for u in urls)
    assert [u for u in urls if urlsplit(u).netloc != urlsplit(service).netloc] == []
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
