"""`/docs` without a CDN: the page names only the service's own assets, served versioned and cached."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from catalog_sync.service import create_app
from catalog_sync.service.docs import ASSETS_PATH
from sync_core.settings import Settings
from tests.service import seed


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return seed.client_for(settings)


def asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)


def test_docs_page_loads_only_its_own_assets(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    urls = asset_urls(response.text)
    assert sorted(urls) == [
        f"{ASSETS_PATH}/favicon.png",
        f"{ASSETS_PATH}/swagger-ui-bundle.js",
        f"{ASSETS_PATH}/swagger-ui.css",
    ]
    assert "http://" not in response.text and "https://" not in response.text  # no CDN, no validator
    assert "url: '/openapi.json'" in response.text


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("swagger-ui-bundle.js", "javascript"),  # text/ or application/javascript: both run under nosniff
        ("swagger-ui.css", "text/css"),
        ("favicon.png", "image/png"),
    ],
)
def test_assets_are_served_with_long_caching_and_revalidation(
    client: TestClient, name: str, media_type: str
) -> None:
    response = client.get(f"{ASSETS_PATH}/{name}")
    assert response.status_code == 200 and media_type in response.headers["content-type"]
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert len(response.content) > 1000
    again = client.get(f"{ASSETS_PATH}/{name}", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_the_bundle_is_swagger_ui_5(client: TestClient) -> None:
    """Swagger UI 4 says OpenAPI 3.1 "does not specify a valid version field"; FastAPI writes 3.1."""
    bundle = client.get(f"{ASSETS_PATH}/swagger-ui-bundle.js").text
    [swagger_ui] = set(re.findall(r'PACKAGE_VERSION:"(\d+)\.\d+\.\d+"', bundle))
    assert int(swagger_ui) >= 5
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")


def test_asset_errors_use_the_envelope(client: TestClient) -> None:
    missing = client.get(f"{ASSETS_PATH}/nothing.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/docs/assets/0.0.0/swagger-ui.css").status_code == 404  # only the current version
    refused = client.post(f"{ASSETS_PATH}/swagger-ui.css")
    assert refused.status_code == 405 and refused.json()["error"]["code"] == "method_not_allowed"


def test_no_redoc_page_and_no_oauth_redirect() -> None:
    """ReDoc 2 always loads its logo from cdn.redoc.ly, so it is not served; nothing else of FastAPI's is."""
    client = TestClient(create_app())
    for path in ("/redoc", "/docs/oauth2-redirect"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
