"""What every HTTP connector shares: built from a connection (``sync_core.engine.connections``), an owned
HttpClient named after it, the pre-run check and context management."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypedDict
from urllib.parse import urlsplit

import httpx
from typing_extensions import Unpack

from sync_core import errors
from sync_core.engine.connections import Connection, default_connection
from sync_core.http.client import (
    AuditSink,
    BreakerStore,
    HttpClient,
    JournalSink,
    LanePacer,
    Pacer,
    ResponseReader,
)
from sync_core.settings import Settings, refuse_unknown


class Wiring(TypedDict, total=False):
    """The seams a caller may plug into a connector (all optional)."""

    transport: httpx.BaseTransport | None
    audit: AuditSink | None
    breaker_store: BreakerStore | None
    pacer: Pacer | None
    lane_pacer: LanePacer | None  # a lane's pacer, from its name and rate a minute (see HttpClient)
    events: JournalSink | None
    sleep: Callable[[float], None] | None


# When this process checked a connection successfully, and when: the CLI checks before it starts a flow (a
# mistake is then a one-line error within a second), and the flow's own check (which deployment runs need)
# reuses that answer instead of asking again.
_checked: dict[str, float] = {}
_checked_lock = threading.Lock()


class HttpConnector:
    """Base of the provider connectors: ``self.http`` is the resilient client; use as a context manager.

    A subclass names its ``provider`` and the settings of its default connection: ``base_setting`` (its base
    URL; None when the provider has no default connection, only those of CONNECTIONS), ``secret_setting``
    (its credential, None when it needs none) and ``rate_setting`` (its override of RATE_LIMIT_PER_MIN, if
    any); ``needs`` (the settings a default connection cannot work without) follows from them and from
    ``also_needs`` (any other setting it cannot work without, e.g. an account number).
    It implements ``_check``: the cheapest call that proves the address answers and, where the API has a
    harmless call that needs them, that the credentials are accepted.
    """

    provider: ClassVar[str]
    base_setting: ClassVar[str | None] = None
    secret_setting: ClassVar[str | None] = None
    rate_setting: ClassVar[str | None] = None
    also_needs: ClassVar[tuple[str, ...]] = ()
    # Endpoints paced apart, each at its own rate: lane → the setting of its requests per minute (their
    # shared Prefect limits are '<connection>-<lane>-requests').
    lane_settings: ClassVar[dict[str, str]] = {}
    needs: ClassVar[tuple[str, ...]] = ()
    schemes: ClassVar[tuple[str, ...]] = ("http", "https")  # of the base URLs it can work with

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        named = (cls.base_setting, cls.secret_setting, *cls.also_needs)
        cls.needs = tuple(name for name in named if name is not None)

    @classmethod
    def resolve(cls, settings: Settings, connection: Connection | None) -> Connection:
        """``connection``, or the default one when None; ConfigError when it is another provider's or its
        base URL has a scheme this connector cannot use."""
        refuse_unknown(f"{cls.provider.upper()}_")  # a misspelt provider setting would be left at its default
        connection = connection or default_connection(settings, cls)
        if connection.provider != cls.provider:
            raise errors.ConfigError(
                f"connection {connection.name!r} is a {connection.provider} connection, not a {cls.provider} one"
            )
        scheme = urlsplit(connection.base_url).scheme
        if scheme not in cls.schemes:
            wanted = " or ".join(f"{s}://" for s in cls.schemes)
            raise errors.ConfigError(
                f"connection {connection.name!r}: the base URL must be {wanted}, not {scheme or 'no scheme'}"
            )
        return connection

    @staticmethod
    def _credential(connection: Connection) -> str:
        """The connection's credential; ConfigError naming where it should come from when it has none."""
        if connection.secret is None or not connection.secret.get_secret_value():
            where = connection.secret_name or "its credential"
            raise errors.ConfigError(f"connection {connection.name!r} has no credential: set {where}")
        return connection.secret.get_secret_value()

    def __init__(
        self,
        settings: Settings,
        connection: Connection,
        *,
        headers: dict[str, str],
        reader: ResponseReader,
        lanes: Mapping[str, int] | None = None,
        correlation_header: str | None = None,
        renewable_auth: bool = False,
        **wiring: Unpack[Wiring],
    ) -> None:
        """``lanes``, ``correlation_header`` and ``renewable_auth`` are the HttpClient's (see there)."""
        self.settings, self.connection = settings, connection
        self.http = HttpClient(
            connection.name,
            connection.base_url,
            settings,
            rate_limit_per_min=connection.rate_limit_per_min,
            headers=headers,
            reader=reader,
            lanes=lanes,
            correlation_header=correlation_header,
            renewable_auth=renewable_auth,
            **wiring,
        )
        self._header_identity = sorted(f"{k}={v}" for k, v in headers.items())

    @property
    def _identity(self) -> str:
        """What a check's success is remembered by: the connection's name, address and credentials."""
        parts = [self.connection.name, self.connection.base_url, *self._header_identity]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def check(self, *, reuse_s: float = 0.0) -> None:
        """The pre-run check (see ``_check``); raises ConnectorError or ConfigError naming the cause.

        With ``reuse_s``, a success of this process's within that many seconds stands for a new check."""
        identity = self._identity
        with _checked_lock:
            last = _checked.get(identity)
        if reuse_s and last is not None and time.monotonic() - last < reuse_s:
            return
        self._check()
        with _checked_lock:
            _checked[identity] = time.monotonic()

    def _check(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()
