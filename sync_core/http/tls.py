"""One TLS context per process for every client: building one (reading the CA bundle) costs tens of
milliseconds, and a run makes a client per connection, the pre-run check another."""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def shared_tls_context() -> ssl.SSLContext:
    """What ``httpx.Client(verify=True)`` would build, built once."""
    return httpx.create_ssl_context()
