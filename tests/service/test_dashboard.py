"""The store dashboard through the app (TestClient): login by form or HTTP Basic, the cookie's flags and
signature, CSRF, the add form's refusals as 4xx pages with the reason, every page rendering, and no page
referring to anything off the server."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from sync_core.db import session_scope
from sync_core.engine.runs import finish_run, start_run
from sync_core.errors import ConfigError
from sync_core.pipelines.stores import alerts, integrations, launch, views
from sync_core.pipelines.stores.dashboard import session as dash_session
from sync_core.pipelines.stores.tables import InventoryItem
from sync_core.settings import Settings
from sync_core.tables import SyncRun, utcnow
from tests.service.seed import client_for

TOKEN = "dash-Token-0f9c2a7e41"
KEY_ENV = "DASHBOARD_TEST_STORE_KEY"
REFERENCES = re.compile(
    r"""\b(?:href|src|action|srcset|formaction|poster|data)\s*=\s*["']([^"']*)["']""", re.I
)


@pytest.fixture
def dash(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with API_TOKEN, and the env var a store's credentials name."""
    monkeypatch.setenv(KEY_ENV, "store-secret")
    return settings.model_copy(update={"api_token": SecretStr(TOKEN)})


@pytest.fixture
def client(dash: Settings) -> Iterator[TestClient]:
    with client_for(dash) as client:
        yield client


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """launch.start_sync replaced by a recorder: no flow runs here (the browser test runs real ones)."""
    calls: list[str] = []

    def start_sync(settings: Settings, name: str, strategy: str = "auto") -> bool:
        if not integrations.get(settings.database_url, name).active:
            raise ConfigError(f"store {name!r} is disabled: enable it first")
        calls.append(name)
        return True

    monkeypatch.setattr(launch, "start_sync", start_sync)
    return calls


def log_in(client: TestClient) -> None:
    answer = client.post("/dashboard/login", data={"token": TOKEN}, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def add_store(settings: Settings, name: str = "shop", url: str = "http://shop.test", **fields: Any) -> None:
    """A Sazito store whose key is in KEY_ENV, added as every way in adds one."""
    new = integrations.NewIntegration(
        name=name, platform="sazito", store_url=url, credentials_env=KEY_ENV, **fields
    )
    integrations.add(settings, new)


def seed(settings: Settings) -> None:
    """Two stores, items (some low), a finished sync of "shop" and its open alerts."""
    url = settings.database_url
    add_store(settings, "shop", threshold=5)
    add_store(settings, "outlet", "http://outlet.test", threshold=2)
    now = utcnow()
    rows = [
        ("shop", "SKU-1", "Blue mug", 3, "12.50"),
        ("shop", "SKU-2", "Red mug <b>", 40, "9"),
        ("outlet", "SKU-1", "Blue mug", 30, "11"),
        ("outlet", "SKU-3", "Green mug", 1, "7.25"),
    ]
    with session_scope(url) as session:
        for store, sku, title, stock, price in rows:
            session.add(
                InventoryItem(
                    item_key=f"{store}/{sku}",
                    integration=store,
                    product_id=sku,
                    variant_id=sku,
                    sku=sku,
                    title=title,
                    price=Decimal(price),
                    stock=stock,
                    managed=True,
                    first_seen_at=now,
                    last_changed_at=now,
                    last_synced_at=now,
                )
            )
    run_id = start_run(url, pipeline=views.run_key_of("shop"), scope="full")
    with session_scope(url) as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        run.summary = {
            "created": 2,
            "updated": 0,
            "unchanged": 0,
            "removed": 0,
            "failed": 1,
            "strategy": "full",
        }
        session.add(run)
    finish_run(url, run_id=run_id, status="partial", error="1 item failed: SKU-9 <script>")
    alerts.check(url, 5)


# --- login -----------------------------------------------------------------------------------------------


def test_pages_redirect_to_the_login_with_the_page_to_come_back_to(client: TestClient) -> None:
    for path in ("/dashboard", "/dashboard/inventory?search=mug&low=1", "/dashboard/alerts"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/dashboard/login?next=%2Fdashboard")
    login = client.get("/dashboard/login?next=/dashboard/inventory%3Fsearch%3Dmug")
    assert login.status_code == 200
    assert 'value="/dashboard/inventory?search=mug"' in login.text
    assert '<label for="token">' in login.text and 'id="token"' in login.text


def test_a_right_token_sets_a_signed_http_only_strict_cookie_and_goes_back(client: TestClient) -> None:
    answer = client.post(
        "/dashboard/login", data={"token": TOKEN, "next": "/dashboard/alerts"}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/alerts"
    cookie = answer.headers["set-cookie"]
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "path=/dashboard" in flags
    assert "secure" not in flags  # plain http here: a Secure cookie would never come back
    assert "max-age=43200" in flags
    value = cookie.split(";")[0].split("=", 1)[1]
    assert TOKEN not in value and TOKEN.lower() not in value.lower()
    assert client.get("/dashboard").status_code == 200


def test_the_cookie_is_secure_over_https(dash: Settings) -> None:
    with TestClient(client_for(dash).app, base_url="https://testserver") as client:
        answer = client.post("/dashboard/login", data={"token": TOKEN}, follow_redirects=False)
    assert "secure" in [part.strip().lower() for part in answer.headers["set-cookie"].split(";")]


def test_a_wrong_token_is_a_401_page_with_the_reason_and_sets_nothing(client: TestClient) -> None:
    answer = client.post("/dashboard/login", data={"token": "nope", "next": "/dashboard"})
    assert answer.status_code == 401
    assert "wrong API token" in answer.text and 'id="login"' in answer.text
    assert "set-cookie" not in answer.headers
    empty = client.post("/dashboard/login", data={"token": " "})
    assert empty.status_code == 400 and "enter the API token" in empty.text


def test_without_api_token_the_login_page_says_the_dashboard_needs_it(settings: Settings) -> None:
    with client_for(settings) as client:
        page = client.get("/dashboard/login")
        assert page.status_code == 503 and "needs API_TOKEN" in page.text and 'id="login"' not in page.text
        assert client.post("/dashboard/login", data={"token": "x"}).status_code == 503
        assert (
            client.get("/dashboard", follow_redirects=False)
            .headers["location"]
            .startswith("/dashboard/login")
        )


def test_login_never_redirects_off_the_dashboard(client: TestClient) -> None:
    for target in (
        "https://evil.test/",
        "//evil.test/dashboard",
        "/docs",
        "/dashboard-x",
        "/dashboard/\\evil",
    ):
        answer = client.post(
            "/dashboard/login", data={"token": TOKEN, "next": target}, follow_redirects=False
        )
        assert answer.headers["location"] == "/dashboard", target


def test_forged_stale_or_foreign_cookies_are_refused(client: TestClient, dash: Settings) -> None:
    key = dash_session.session_key(TOKEN.encode())
    other = dash_session.session_key(b"another-token-123456")
    now = utcnow().timestamp()
    good = dash_session.new_session(key, now)
    assert dash_session.session_valid(key, good, now)
    assert not dash_session.session_valid(other, good, now)  # API_TOKEN changed: everyone logged out
    assert not dash_session.session_valid(key, good, now + timedelta(hours=12, seconds=1).total_seconds())
    assert not dash_session.session_valid(key, good[:-1] + ("0" if good[-1] != "0" else "1"), now)
    assert not dash_session.session_valid(
        key, str(int(good.split(".")[0]) + 1) + good[good.index(".") :], now
    )
    for value in ("", "garbage", "1.2.3", good + "0", dash_session.new_session(other, now)):
        client.cookies.set(dash_session.COOKIE, value, path="/dashboard")
        answer = client.get("/dashboard", follow_redirects=False)
        assert answer.status_code == 303, value
        client.cookies.clear()
    client.cookies.set(dash_session.COOKIE, "1.2.3", path="/dashboard")
    assert "expired=1" in client.get("/dashboard", follow_redirects=False).headers["location"]


def test_http_basic_with_the_token_as_password_is_a_login(client: TestClient) -> None:
    def basic(password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"anyone:{password}".encode()).decode()}

    assert client.get("/dashboard", headers=basic(TOKEN)).status_code == 200
    wrong = client.get("/dashboard", headers=basic("nope"))
    assert wrong.status_code == 401 and "wrong API token" in wrong.text
    assert wrong.headers["www-authenticate"].startswith("Basic")
    malformed = client.get("/dashboard", headers={"Authorization": "Basic !!!"})
    assert malformed.status_code == 401


def test_logout_needs_the_csrf_token_and_clears_the_cookie(client: TestClient) -> None:
    log_in(client)
    page = client.get("/dashboard")
    assert client.post("/dashboard/logout", data={"csrf": "0" * 64}).status_code == 403
    answer = client.post("/dashboard/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login?done=logged-out"
    assert (
        'catalog_sync_dashboard=""' in answer.headers["set-cookie"]
        or "max-age=0" in answer.headers["set-cookie"].lower()
    )
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


# --- changes ---------------------------------------------------------------------------------------------


def test_every_change_needs_the_sessions_csrf_token(
    client: TestClient, dash: Settings, started: list[str]
) -> None:
    add_store(dash)
    log_in(client)
    token = csrf_of(client.get("/dashboard").text)
    fields = {"name": "other", "platform": "sazito", "url": "http://o.test", "credentials_env": KEY_ENV}
    for path, data in (
        ("/dashboard/stores", fields),
        ("/dashboard/stores/shop/sync", {}),
        ("/dashboard/stores/shop/disable", {}),
        ("/dashboard/stores/shop/remove", {"confirm": "shop"}),
    ):
        for csrf in ({}, {"csrf": token[:-1] + ("0" if token[-1] != "0" else "1")}):
            answer = client.post(path, data=data | csrf)
            assert answer.status_code == 403 and "CSRF" in answer.text, path
    assert [row.name for row in integrations.integrations(dash.database_url)] == ["shop"]
    assert integrations.get(dash.database_url, "shop").active and started == []
    # Another session's token is not this one's.
    with client_for(dash) as second:
        log_in(second)
        assert csrf_of(second.get("/dashboard").text) != token


def test_adding_a_store_redirects_with_a_message(
    client: TestClient, dash: Settings, started: list[str]
) -> None:
    log_in(client)
    token = csrf_of(client.get("/dashboard").text)
    form = {
        "csrf": token,
        "name": "main-shop",
        "platform": "sazito",
        "url": "http://main.test/",
        "credentials_env": KEY_ENV,
        "threshold": "12",
        "active": "1",
        "sync_now": "1",
    }
    answer = client.post("/dashboard/stores", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard?done=added-syncing&store=main-shop"
    row = integrations.get(dash.database_url, "main-shop")
    assert (row.store_url, row.low_stock_threshold, row.active, row.auto_sync) == (
        "http://main.test",
        12,
        True,
        False,
    )
    assert started == ["main-shop"]
    page = client.get(answer.headers["location"])
    assert "store main-shop added; its first sync started" in page.text
    assert 'data-store="main-shop"' in page.text


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"name": "Bad Name"}, 400, "store name 'Bad Name' must be"),
        ({"platform": "magento"}, 400, "unknown platform"),
        ({"url": "ftp://x"}, 400, "store URL must be http(s)"),
        ({"threshold": "lots"}, 400, "threshold must be a whole number"),
        ({"credentials_block": "a-block"}, 400, "give the credentials as one of"),
        ({"credentials_env": "UNSET_DASHBOARD_VAR_X"}, 400, "UNSET_DASHBOARD_VAR_X is not set"),
        ({"name": "shop"}, 409, "already exists"),
    ],
)
def test_a_refused_store_is_the_form_again_with_the_reason_and_its_values(
    client: TestClient, dash: Settings, started: list[str], change: dict[str, str], status: int, reason: str
) -> None:
    add_store(dash)
    log_in(client)
    form = {
        "csrf": csrf_of(client.get("/dashboard").text),
        "name": "new-one",
        "platform": "sazito",
        "url": "http://new.test",
        "credentials_env": KEY_ENV,
        "threshold": "7",
        "auto_sync": "1",
    } | change
    answer = client.post("/dashboard/stores", data=form)
    assert answer.status_code == status
    error = re.search(r'id="add-store-error">([^<]*)<', answer.text)
    assert error and reason in error.group(1).replace("&#39;", "'"), answer.text
    assert f'value="{form["url"]}"' in answer.text and f'value="{form["threshold"]}"' in answer.text
    assert re.search(r'id="store-auto-sync" name="auto_sync" value="1" checked', answer.text)
    assert not re.search(r'id="store-active" name="active" value="1" checked', answer.text)
    assert [row.name for row in integrations.integrations(dash.database_url)] == ["shop"]
    assert started == []


def test_sync_enable_disable_and_remove(client: TestClient, dash: Settings, started: list[str]) -> None:
    add_store(dash)
    log_in(client)
    token = csrf_of(client.get("/dashboard").text)

    def post(path: str, **data: str) -> Any:
        return client.post(f"/dashboard/stores/{path}", data={"csrf": token} | data, follow_redirects=False)

    answer = post("shop/sync")
    assert answer.headers["location"] == "/dashboard?done=sync-started&store=shop" and started == ["shop"]
    assert "sync of shop started" in client.get(answer.headers["location"]).text
    assert (
        post("shop/disable", back="store").headers["location"]
        == "/dashboard/stores/shop?done=disabled&store=shop"
    )
    assert not integrations.get(dash.database_url, "shop").active
    refused = post("shop/sync")
    assert refused.status_code == 409 and "is disabled" in refused.text and started == ["shop"]
    assert post("shop/enable").status_code == 303 and integrations.get(dash.database_url, "shop").active
    assert post("nope/sync").status_code == 404 and post("nope/enable").status_code == 404
    unconfirmed = post("shop/remove", confirm="shop2")
    assert unconfirmed.status_code == 400 and "type the store&#39;s name (shop)" in unconfirmed.text
    assert integrations.find(dash.database_url, "shop") is not None
    removed = post("shop/remove", confirm="shop")
    assert removed.headers["location"] == "/dashboard?done=removed&store=shop"
    assert integrations.find(dash.database_url, "shop") is None


def test_forms_must_be_small_url_encoded_utf8(client: TestClient) -> None:
    log_in(client)
    assert client.post("/dashboard/stores", json={"name": "x"}).status_code == 415
    assert client.post("/dashboard/stores", data={"x": "y" * 20_000}).status_code == 413
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post("/dashboard/stores", content=b"name=%ff", headers=headers).status_code == 400


# --- pages -----------------------------------------------------------------------------------------------


def test_the_stores_page_shows_each_store_with_its_last_sync(client: TestClient, dash: Settings) -> None:
    seed(dash)
    log_in(client)
    page = client.get("/dashboard")
    assert page.status_code == 200
    row = re.search(r'<tr data-store="shop".*?</tr>', page.text, re.S)
    assert row, page.text
    assert 'data-created="2"' in row.group(0) and "status-partial" in row.group(0)
    assert "SKU-9 &lt;script&gt;" in row.group(0)  # autoescaped
    assert 'class="sync-now"' in row.group(0) and 'id="add-store"' in page.text
    assert re.search(r'<tr data-store="outlet".*?never synced', page.text, re.S)
    assert 'http-equiv="refresh"' not in page.text


def test_a_syncing_store_shows_it_and_the_page_refreshes(client: TestClient, dash: Settings) -> None:
    add_store(dash)
    start_run(dash.database_url, pipeline=views.run_key_of("shop"), scope="full")
    log_in(client)
    page = client.get("/dashboard")
    assert "syncing…" in page.text and '<meta http-equiv="refresh" content="3">' in page.text
    assert re.search(r'class="sync-now" disabled', page.text)


def test_the_store_page_shows_its_settings_and_sync_log(client: TestClient, dash: Settings) -> None:
    seed(dash)
    log_in(client)
    page = client.get("/dashboard/stores/shop")
    assert page.status_code == 200
    assert f"environment variable {KEY_ENV}" in page.text and "store-secret" not in page.text
    run = re.search(r'<tr class="run status-partial error".*?</tr>', page.text, re.S)
    assert run and 'class="num failed bad">1<' in run.group(0)
    assert 'id="confirm-remove"' in page.text
    missing = client.get("/dashboard/stores/nope")
    assert missing.status_code == 404 and "no store integration named" in missing.text


def test_the_inventory_highlights_low_stock_and_pages(client: TestClient, dash: Settings) -> None:
    seed(dash)
    log_in(client)
    page = client.get("/dashboard/inventory")
    assert page.status_code == 200
    mug = re.search(r'<tr class="low" data-sku="SKU-1">.*?</tr>', page.text, re.S)
    assert mug, page.text
    assert re.search(r'<td class="num low" data-store="shop" title="price 12.50; low at 5', mug.group(0))
    assert re.search(r'<td class="num" data-store="outlet"', mug.group(0))
    assert re.search(r'<tr class="" data-sku="SKU-2">', page.text) and "Red mug &lt;b&gt;" in page.text
    low = client.get("/dashboard/inventory?low=1")
    assert re.findall(r'data-sku="(SKU-\d)"', low.text) == ["SKU-1", "SKU-3"]
    found = client.get("/dashboard/inventory?search=green")
    assert re.findall(r'data-sku="(SKU-\d)"', found.text) == ["SKU-3"] and 'value="green"' in found.text
    assert client.get("/dashboard/inventory?page=abc").status_code == 400
    assert client.get("/dashboard/inventory?search=" + "x" * 201).status_code == 400
    assert "Nothing to show" in client.get("/dashboard/inventory?page=9").text


def test_the_inventory_links_its_pages(
    client: TestClient, dash: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_core.pipelines.stores.dashboard import pages

    seed(dash)
    monkeypatch.setattr(pages, "PER_PAGE", 2)
    log_in(client)
    first = client.get("/dashboard/inventory?search=mug")
    assert (
        'href="/dashboard/inventory?search=mug&amp;low=&amp;page=2"' in first.text
        and 'rel="prev"' not in first.text
    )
    second = client.get("/dashboard/inventory?search=mug&page=2")
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text


def test_the_alerts_page_shows_open_and_resolved_alerts(client: TestClient, dash: Settings) -> None:
    seed(dash)
    with session_scope(dash.database_url) as session:
        item = session.get(InventoryItem, "outlet/SKU-3")
        assert item is not None
        item.stock = 50
        session.add(item)
    alerts.check(dash.database_url, 5)
    log_in(client)
    page = client.get("/dashboard/alerts")
    assert page.status_code == 200
    opened = re.search(r'id="open-alerts".*?</table>', page.text, re.S)
    resolved = re.search(r'id="resolved-alerts".*?</table>', page.text, re.S)
    assert opened and 'data-store="shop" data-sku="SKU-1"' in opened.group(0)
    assert resolved and 'data-store="outlet" data-sku="SKU-3"' in resolved.group(0)


def test_no_page_refers_to_anything_off_the_server(client: TestClient, dash: Settings) -> None:
    seed(dash)
    pages = {"/dashboard/login": client.get("/dashboard/login")}
    log_in(client)
    for path in (
        "/dashboard",
        "/dashboard/stores/shop",
        "/dashboard/inventory",
        "/dashboard/alerts",
        "/dashboard/x",
    ):
        pages[path] = client.get(path)
    for path, answer in pages.items():
        assert answer.headers["content-type"].startswith("text/html"), path
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["cache-control"] == "no-store"
        references = REFERENCES.findall(answer.text)
        assert references, path
        off = [r for r in references if not (r.startswith("/dashboard") or r in ("data:,", "#"))]
        assert off == [], (path, off)
        assert "<script" not in answer.text and "@import" not in answer.text, path
    css = client.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "url(" not in css.text and "@import" not in css.text and "http" not in css.text


def test_the_pages_are_not_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert [p for p in paths if p.startswith("/dashboard")] == []
    assert "/stores" in paths
