"""What every HTTP connector shares: an owned HttpClient built from settings, and context management."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self, TypedDict

import httpx
from typing_extensions import Unpack

from sync_core.http import AuditSink, BreakerStore, EventSink, HttpClient, Pacer, ResponseReader
from sync_core.settings import Settings


class Wiring(TypedDict, total=False):
    """The seams a caller may plug into a connector (all optional)."""

    transport: httpx.BaseTransport | None
    audit: AuditSink | None
    breaker_store: BreakerStore | None
    pacer: Pacer | None
    events: EventSink | None
    sleep: Callable[[float], None] | None


class HttpConnector:
    """Base of the provider connectors: ``self.http`` is the resilient client; use as a context manager."""

    name: str

    def __init__(
        self,
        settings: Settings,
        *,
        base_url: str,
        headers: dict[str, str],
        reader: ResponseReader,
        **wiring: Unpack[Wiring],
    ) -> None:
        self.settings = settings
        self.http = HttpClient(self.name, base_url, settings, headers=headers, reader=reader, **wiring)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()
