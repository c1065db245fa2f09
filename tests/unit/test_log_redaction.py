"""httpx logs every request's URL at INFO (``HTTP Request: GET <url>``): importing the HTTP client installs a
filter that redacts the user info and the secret-looking query values of that URL (found by the secrets scan,
tests/flows/test_secrets_scan.py: a feed URL's password and WooCommerce's query credentials)."""

from __future__ import annotations

import logging

import httpx
import pytest

import sync_core.http.client  # noqa: F401  (installs the filter)
from sync_core.http.redaction import redact_library_logs


def test_httpx_request_lines_carry_no_credentials(caplog: pytest.LogCaptureFixture) -> None:
    redact_library_logs()  # idempotent
    assert len(logging.getLogger("httpx").filters) == len(set(map(type, logging.getLogger("httpx").filters)))
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    url = (
        "http://feeduser:SECRET-pass@shop.test/wc?per_page=5&consumer_key=ck_SECRET&consumer_secret=cs_SECRET"
    )
    with caplog.at_level(logging.INFO, logger="httpx"), httpx.Client(transport=transport) as client:
        client.get(url)
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert len(lines) == 1, lines
    assert "SECRET" not in lines[0] and "feeduser" not in lines[0]
    assert "per_page=5" in lines[0] and "consumer_key=REDACTED" in lines[0] and "shop.test/wc" in lines[0]
