"""The store dashboard in a real browser: Debian's headless Chromium logs in, adds the sandbox's Sazito store
with its first sync, syncs it again, and finds a low-stock SKU, against `catalog-sync serve` as a real process
whose syncs are Prefect flow runs (a Prefect test server), with no network but loopback.

Driven through Debian's chromedriver by selenium, both named by path, as in ``test_docs_browser``: locally the
test skips without them; in CI (``CATALOG_SYNC_REQUIRE_BROWSER=1``, or ``CI=true``) it fails instead.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sync_core.sandbox.records import SandboxConfig
from sync_core.sandbox.server import SandboxHandle, running_sandbox
from tests.operations.processes import Process, free_port, http_ok, start, wait_until
from tests.service.test_docs_browser import CHROMEDRIVER, CHROMIUM, REQUIRE_BROWSER, _missing

TOKEN = "dashboard-browser-Token-51d0"
KEY_ENV = "STORE_DEMO_KEY"
STORE = "demo"
THRESHOLD = 10  # the sandbox's stock runs 0-60: some items are at or under it
SYNC_TIMEOUT_S = 90
PAGE_TIMEOUT_S = 30
CSS = "css selector"


@pytest.fixture(scope="module")
def chromium() -> None:
    """Skip without Chromium, chromedriver or selenium; fail instead where a browser is required."""
    reason = _missing()
    if reason and REQUIRE_BROWSER:
        pytest.fail(f"a browser is required here (CATALOG_SYNC_REQUIRE_BROWSER or CI): {reason}")
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def sandbox(chromium: None) -> Iterator[SandboxHandle]:
    with running_sandbox(SandboxConfig(products=30, seed=5)) as handle:
        yield handle


@pytest.fixture(scope="module")
def prefect_api(chromium: None) -> Iterator[str]:
    """A Prefect test server for the module; its API URL (serve's syncs are flow runs there)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        url = PREFECT_API_URL.value()
        assert url, "the Prefect test harness gave no API URL"
        yield url


@dataclass
class Service:
    """The running service: its base URL, and its process (for its log)."""

    base: str
    process: Process


@pytest.fixture(scope="module")
def service(
    sandbox: SandboxHandle, prefect_api: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """`catalog-sync serve` on a free loopback port, API_TOKEN set, the store's key in STORE_DEMO_KEY."""
    workdir = tmp_path_factory.mktemp("dashboard-serve")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SAZITO_", "API_TOKEN"))}
    env.update(
        API_TOKEN=TOKEN,
        DATABASE_URL=f"sqlite:///{workdir / 'state.db'}",
        PREFECT_API_URL=prefect_api,
        PREFECT_HOME=str(workdir / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        USE_PREFECT_RATE_LIMITS="false",
        HTTP_RETRY_BACKOFF_MS="5",
        LOG_FILE="",
        **{KEY_ENV: sandbox.sazito_key},
    )
    command = [sys.executable, "-m", "catalog_sync.cli", "serve", "--port", str(port)]
    process = start("serve", command, env=env, cwd=workdir, logs=workdir)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until(lambda: http_ok(f"{base}/dashboard/login"), timeout_s=60, what="serve")
        except AssertionError:
            print(process.tail(80))
            raise
        yield Service(base, process)
    finally:
        process.stop()


@pytest.fixture
def browser(chromium: None, tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium that reaches nothing but loopback (no host resolves but 127.0.0.1, and anything else
    would go to a proxy that is not there), recording every request it makes."""
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
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{free_port()}",  # loopback bypasses it; nothing listens there
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()


class Pages:
    """The browser on the dashboard: finding things, waiting for them, and checking that every page it saw
    loaded only from the service."""

    def __init__(self, driver: Any, base: str) -> None:
        self.driver, self.base = driver, base
        self.events: list[dict[str, Any]] = []  # Chrome's DevTools network events, every page's

    def network(self) -> list[dict[str, Any]]:
        """Every DevTools network event so far (Chrome hands each out once: they are kept here)."""
        self.events += [json.loads(e["message"])["message"] for e in self.driver.get_log("performance")]
        return self.events

    def requested(self) -> list[str]:
        """Every http(s) or ws(s) URL the browser asked for."""
        urls = []
        for event in self.network():
            if event["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
                url = event["params"].get("request", event["params"]).get("url", "")
                if urlsplit(url).scheme in ("http", "https", "ws", "wss"):
                    urls.append(url)
        return urls

    def statuses(self, path: str) -> list[int]:
        """The statuses of the pages loaded from ``path``, in order."""
        return [
            int(event["params"]["response"]["status"])
            for event in self.network()
            if event["method"] == "Network.responseReceived"
            and event["params"].get("type") == "Document"
            and urlsplit(event["params"]["response"]["url"]).path == path
        ]

    def find(self, selector: str) -> Any:
        return self.driver.find_element(CSS, selector)

    def all(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements(CSS, selector))

    def text(self, selector: str) -> str:
        found = self.all(selector)
        return str(found[0].text) if found else ""

    def loaded(self) -> None:
        """After each page: every resource it loaded came from the service's origin, and it refers to
        nothing but the dashboard."""
        origin = urlsplit(self.base).netloc
        resources = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert [r for r in resources if urlsplit(r).netloc != origin] == [], self.driver.current_url
        references = self.driver.execute_script(
            "return [...document.querySelectorAll('[href],[src],[action]')]"
            ".map(e => e.href || e.src || e.action)"
        )
        off = [r for r in references if not (r.startswith(self.base + "/dashboard") or r.startswith("data:"))]
        assert off == [], (self.driver.current_url, off)

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)
        self.loaded()

    def submit(self, element: Any) -> None:
        """Click a submit button and wait for the page it leads to."""
        old = self.find("html")
        element.click()
        wait_for(lambda: _stale(old), what="the next page", timeout_s=PAGE_TIMEOUT_S)
        self.loaded()

    def refresh_until(self, check: Callable[[], Any], *, what: str, timeout_s: float = SYNC_TIMEOUT_S) -> Any:
        """Reload the page until ``check`` answers something truthy (the page also reloads itself)."""

        def reloaded() -> Any:
            found = check()
            if not found:
                self.driver.refresh()
            return found

        found = wait_for(reloaded, what=what, timeout_s=timeout_s, poll_s=1.0)
        self.loaded()
        return found


def _stale(element: Any) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.tag_name  # noqa: B018  (touching it raises once the page is gone)
        return False
    except StaleElementReferenceException:
        return True


def wait_for(check: Callable[[], Any], *, what: str, timeout_s: float, poll_s: float = 0.2) -> Any:
    """``check`` until truthy; the page's own exceptions while it reloads count as not yet."""
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            found = check()
            if found:
                return found
        except WebDriverException:
            pass
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f} s waiting for {what}"
        time.sleep(poll_s)


def test_log_in_add_a_store_sync_it_twice_and_find_low_stock(
    service: Service, sandbox: SandboxHandle, browser: Any, tmp_path: Path
) -> None:
    try:
        walk_through(service.base, sandbox, browser)
    except BaseException:
        browser.save_screenshot(str(tmp_path / "dashboard.png"))
        (tmp_path / "dashboard.html").write_text(browser.page_source)
        print(f"the page as it was: {tmp_path / 'dashboard.png'}, {tmp_path / 'dashboard.html'}")
        print(service.process.tail(80))
        raise


def walk_through(service: str, sandbox: SandboxHandle, browser: Any) -> None:
    """Log in (a wrong token first), add the store with its first sync, sync it again, find low stock,
    log out; every page loads from the service alone."""
    from selenium.webdriver.support.ui import Select

    pages = Pages(browser, service)
    pages.open("/dashboard")
    assert urlsplit(browser.current_url).path == "/dashboard/login"

    pages.find("#token").send_keys("not-the-token")
    pages.submit(pages.find("#login button[type=submit]"))
    assert "wrong API token" in pages.text("#login-error")
    assert pages.statuses("/dashboard/login") == [200, 401]
    browser.get_log("browser")  # the 401 page's "failed to load resource" is expected: drop it

    pages.find("#token").send_keys(TOKEN)
    pages.submit(pages.find("#login button[type=submit]"))
    assert urlsplit(browser.current_url).path == "/dashboard" and pages.text("h1") == "Stores"

    form = pages.find("#add-store")
    pages.find("#store-name").send_keys(STORE)
    Select(pages.find("#store-platform")).select_by_value("sazito")
    pages.find("#store-url").send_keys(f"{sandbox.url}/sazito")
    pages.find("#store-credentials-env").send_keys(KEY_ENV)
    pages.find("#store-threshold").send_keys(str(THRESHOLD))
    assert pages.find("#store-active").is_selected()
    pages.find("#store-sync-now").click()
    pages.submit(form.find_element(CSS, "button[type=submit]"))
    assert pages.text("#flash") == f"store {STORE} added; its first sync started", pages.text(
        "#add-store-error"
    )

    row = f'tr[data-store="{STORE}"]'

    def first_sync() -> int:
        counts = pages.all(f"{row} .counts")
        status = pages.text(f"{row} .status")
        if not counts or status != "success" or "syncing" in pages.find(row).get_attribute("class"):
            return 0
        return int(counts[0].get_attribute("data-created") or 0)

    created = pages.refresh_until(first_sync, what="the first sync's counts on the stores page")
    assert created > 0
    assert int(pages.text(f"{row} .items").replace(",", "")) == created

    pages.submit(pages.find(f"{row} .sync-now"))
    assert pages.text("#flash") == f"sync of {STORE} started"

    pages.open(f"/dashboard/stores/{STORE}")

    def two_syncs() -> list[Any]:
        runs = pages.all("#sync-log tr.run")
        done = len(runs) == 2 and all(r.get_attribute("data-status") == "success" for r in runs)
        return runs if done else []

    newest, first = pages.refresh_until(two_syncs, what="a second sync in the store's log")
    assert newest.get_attribute("data-created") == "0"
    assert int(first.get_attribute("data-created")) == created
    assert f"environment variable {KEY_ENV}" in pages.text("#store-settings")
    assert sandbox.sazito_key not in browser.page_source

    pages.find('nav a[href$="/dashboard/inventory"]').click()
    pages.loaded()
    pages.find("#low-only").click()
    pages.submit(pages.find("#inventory-search button[type=submit]"))
    low_cells = pages.all(f'#inventory td.low[data-store="{STORE}"]')
    assert low_cells, "no low-stock cell with low only"
    assert all("low" in r.get_attribute("class").split() for r in pages.all("#inventory tbody tr"))
    assert int(low_cells[0].find_element(CSS, ".stock").text) <= THRESHOLD
    sku = low_cells[0].find_element("xpath", "..").get_attribute("data-sku")

    search = pages.find("#search")
    search.clear()
    search.send_keys(sku)
    pages.find("#low-only").click()  # off: the search alone finds it
    pages.submit(pages.find("#inventory-search button[type=submit]"))
    rows = pages.all("#inventory tbody tr")
    assert [r.get_attribute("data-sku") for r in rows] == [sku]
    assert rows[0].get_attribute("class") == "low" and pages.all(f'#inventory td.low[data-store="{STORE}"]')

    pages.find('nav a[href$="/dashboard/alerts"]').click()
    pages.loaded()
    assert pages.text("h1") == "Alerts"

    pages.submit(pages.find("#logout button"))
    assert urlsplit(browser.current_url).path == "/dashboard/login" and pages.text("#flash") == "logged out"
    pages.open("/dashboard")
    assert urlsplit(browser.current_url).path == "/dashboard/login"

    urls = pages.requested()
    assert urls and [u for u in urls if urlsplit(u).netloc != urlsplit(service).netloc] == []
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
