"""What every HTTP connector shares: an owned HttpClient built from settings, and context management."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Self, TypedDict

import httpx
from typing_extensions import Unpack

from sync_core.http.client import AuditSink, BreakerStore, HttpClient, JournalSink, Pacer, ResponseReader
from sync_core.settings import Settings


class Wiring(TypedDict, total=False):
    """The seams a caller may plug into a connector (all optional)."""

    transport: httpx.BaseTransport | None
    audit: AuditSink | None
    breaker_store: BreakerStore | None
    pacer: Pacer | None
    events: JournalSink | None
    sleep: Callable[[float], None] | None


# When this process checked a connection successfully, and when: the CLI checks before it starts a flow (a
# mistake is then a one-line error within a second), and the flow's own check (which deployment runs need)
# reuses that answer instead of asking again.
_checked: dict[str, float] = {}
_checked_lock = threading.Lock()


class HttpConnector:
    """Base of the provider connectors: ``self.http`` is the resilient client; use as a context manager.

    Subclasses implement ``_check``: the cheapest call that proves the address answers and, where the API has
    a harmless call that needs them, that the credentials are accepted.
    """

    name: str
    needs: tuple[str, ...] = ()  # the settings it cannot work without

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
        identity = "\0".join([self.name, base_url, *sorted(f"{k}={v}" for k, v in headers.items())])
        self._identity = hashlib.sha256(identity.encode()).hexdigest()

    def check(self, *, reuse_s: float = 0.0) -> None:
        """The pre-run check (see ``_check``); raises ConnectorError or ConfigError naming the cause.

        With ``reuse_s``, a success of this process's within that many seconds stands for a new check."""
        with _checked_lock:
            last = _checked.get(self._identity)
        if reuse_s and last is not None and time.monotonic() - last < reuse_s:
            return
        self._check()
        with _checked_lock:
            _checked[self._identity] = time.monotonic()

    def _check(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()
