"""``X-Content-Type-Options: nosniff`` on every answer, from a pure ASGI middleware."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.types import Message, Receive, Scope, Send

from catalog_sync.service import create_app
from catalog_sync.service.docs import ASSETS_PATH
from catalog_sync.service.headers import NoSniff
from sync_core.settings import Settings
from tests.service import seed


def test_every_kind_of_answer_says_nosniff(settings: Settings) -> None:
    client = seed.client_for(settings)
    down = seed.client_for(seed.unreachable_settings(settings))
    bundle = f"{ASSETS_PATH}/swagger-ui-bundle.js"
    answers = {
        "json 200": client.get("/health"),
        "search 200": client.get("/search"),
        "runs 200": client.get("/runs"),
        "metrics text": client.get("/metrics"),
        "docs page": client.get("/docs"),
        "openapi": client.get("/openapi.json"),
        "asset": client.get(bundle),
        "asset 304": client.get(bundle, headers={"If-None-Match": client.get(bundle).headers["etag"]}),
        "head": client.head("/docs"),
        "400": client.get("/runs", params={"limit": "x"}),
        "search 400": client.get("/search", params={"starts_at": "x"}),
        "404": client.get("/nope"),
        "405": client.post("/health"),
        "503": down.get("/runs"),
        "health 503": down.get("/health"),
        "search 500": down.get("/search"),
        "redirect": client.get("/runs/", follow_redirects=False),
    }
    for name, response in answers.items():
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], name
    assert answers["asset 304"].status_code == 304 and answers["redirect"].status_code == 307


def test_an_unexpected_500_says_nosniff_too() -> None:
    """Starlette answers it from its outermost middleware: the header must be added outside of that."""

    def broken() -> Settings:
        raise RuntimeError("boom")

    response = TestClient(create_app(broken), raise_server_exceptions=False).get("/runs")
    assert response.status_code == 500 and response.headers["x-content-type-options"] == "nosniff"


def test_it_is_not_base_http_middleware(settings: Settings) -> None:
    app = create_app(lambda: settings)
    assert not any(issubclass(m.cls, BaseHTTPMiddleware) for m in app.user_middleware)  # type: ignore[arg-type]
    assert isinstance(app.build_middleware_stack(), NoSniff)


def test_the_middleware_leaves_the_response_headers_alone() -> None:
    headers = [(b"content-type", b"text/plain")]
    sent: list[Message] = []

    async def app(_scope: Scope, _receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        sent.append(message)

    for _ in range(2):
        asyncio.run(NoSniff(app)({"type": "http"}, receive, send))
    assert headers == [(b"content-type", b"text/plain")]  # a reused header list never grows
    assert sent[0]["headers"] == [(b"content-type", b"text/plain"), (b"x-content-type-options", b"nosniff")]
    assert sent[1] == {"type": "http.response.body", "body": b"ok"}


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
def test_other_scopes_pass_through(kind: str) -> None:
    seen: list[str] = []

    async def app(scope: Scope, _receive: Receive, _send: Send) -> None:
        seen.append(scope["type"])

    async def nothing(*_args: object) -> None:
        return None

    asyncio.run(NoSniff(app)({"type": kind}, nothing, nothing))  # type: ignore[arg-type]
    assert seen == [kind]
