"""What the WooCommerce connector sends and reads (contract: /work/shared/contracts/woocommerce.md): the API
base and credentials of a connection, its answers' error bodies, the route index, dates, and the read's
position (its token).

Answers are decoded with exact decimals; ``*_gmt`` dates carry no ``Z`` and are read as UTC.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from sync_core import errors
from sync_core.engine.connections import Connection

API_PATH = "/wp-json/wc/v3"
PER_PAGE = 100  # the most the API serves a page; more is refused, not capped
PRODUCT_FIELDS = (
    "id,name,type,sku,price,regular_price,sale_price,manage_stock,stock_quantity,stock_status,"
    "variations,date_modified_gmt"
)
VARIATION_FIELDS = (
    "id,name,parent_id,sku,price,regular_price,sale_price,manage_stock,stock_quantity,stock_status,"
    "date_modified_gmt,attributes"
)
PARENT_FIELDS = "id,name,type,manage_stock,stock_quantity"
READ_TYPES = ("simple", "variable")  # the others (grouped, external, plugins' types) hold no stock we read


def api_base(connection: Connection) -> str:
    """The REST API base of a connection's store URL; ConfigError for ``http://`` off loopback."""
    url = httpx.URL(connection.base_url)
    host = url.host
    if url.scheme == "http" and host != "localhost":
        try:
            loopback = ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8")
        except ValueError:
            loopback = False
        if not loopback:
            raise errors.ConfigError(
                f"connection {connection.name!r}: WooCommerce over plain http:// needs OAuth signing; "
                f"use the store's https:// address (http:// is accepted on loopback only), not {host}"
            )
    base = connection.base_url.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


def credentials(connection: Connection, credential: Callable[[Connection], str]) -> tuple[str, str]:
    """(consumer key, consumer secret) of the connection's credential (``credential`` reads it); ConfigError
    naming the expected form when it is not ``consumer_key:consumer_secret``."""
    value = credential(connection).strip()
    key, colon, secret = value.partition(":")
    if not colon or not key or not secret:
        where = f" ({connection.secret_name})" if connection.secret_name else ""
        raise errors.ConfigError(
            f"connection {connection.name!r}: the credential{where} must be consumer_key:consumer_secret "
            "(ck_...:cs_...)"
        )
    return key, secret


def loads(content: bytes) -> Any:
    """JSON with its non-integral numbers read as exact decimals."""
    return json.loads(content, parse_float=Decimal)


def looks_html(response: httpx.Response) -> bool:
    """True for an HTML page (a host's, a WAF's or a theme's), whatever its status."""
    kind = response.headers.get("content-type", "").lower()
    return "html" in kind or response.content.lstrip()[:1] == b"<"


def error_of(response: httpx.Response | None) -> tuple[str, str]:
    """(code, message) of a WooCommerce error body ``{"code", "message", "data": {"status"}}``; "" when absent."""
    if response is None:
        return "", ""
    try:
        body = loads(response.content)
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    code, message = body.get("code"), body.get("message")
    return (code if isinstance(code, str) else ""), (" ".join(str(message).split()) if message else "")


def reader(response: httpx.Response) -> tuple[int, str | None]:
    """The client's answer reader: judge by HTTP status; a failure's reason is ``code: message`` of its
    body, "an HTML page" for one, else none."""
    if response.is_success:
        return response.status_code, None
    code, message = error_of(response)
    if code or message:
        return response.status_code, f"{code}: {message}"[:200] if code else message[:200]
    return response.status_code, "an HTML page" if looks_html(response) else None


def refusal(
    name: str, exc: errors.AuthError, where: str, code: str, response: httpx.Response | None, secret_name: str
) -> errors.SyncError:
    """The one-line error of a 401/403 on connection ``name``: an HTML page is a WAF (or a host's password
    protection), ``woocommerce_rest_cannot_*`` a key without read rights, anything else refused credentials
    (naming ``secret_name``, never the secret)."""
    if response is not None and looks_html(response):
        who = (
            "a firewall or security plugin (WAF) in front of the store blocks the API; allow its requests"
            if exc.status == 403
            else "a password protection in front of the store (not WooCommerce) refused the request"
        )
        return errors.ConfigError(f"{name}: GET {where} answered an HTML page with HTTP {exc.status}: {who}")
    if code.startswith("woocommerce_rest_cannot_"):
        why = f"the key lacks read rights (HTTP {exc.status} {code}); give its user read access"
    else:
        why = f"the store refused the consumer key and secret (HTTP {exc.status}); check {secret_name}"
    return errors.AuthError(
        f"{name}: GET {where}: {why}", provider=name, status=exc.status, correlation_id=exc.correlation_id
    )


def has_variations_route(index: Any) -> bool:
    """Whether a route index (``GET {store}/wp-json/wc/v3``) lists ``/variations`` (WooCommerce 10.3+)."""
    routes = index.get("routes") if isinstance(index, dict) else None
    return isinstance(routes, dict) and any(
        str(route).rstrip("/").endswith("/wc/v3/variations") for route in routes
    )


def gmt(value: Any) -> datetime | None:
    """A ``*_gmt`` date (``YYYY-MM-DDTHH:MM:SS``, no ``Z``) as an aware UTC date-time; None when unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def modified_after(since: datetime) -> str:
    """The ``modified_after`` (GMT, with ``dates_are_gmt=true``) that reads what changed at or after ``since``:
    the server compares strictly and to the second, so one second before ``since``'s (a naive one is UTC)."""
    at = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
    return (at.replace(microsecond=0) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")


def total(response: httpx.Response, header: str) -> int | None:
    value = response.headers.get(header, "").strip()
    return int(value) if value.isdigit() else None


def record_id(raw: Any) -> int | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


@dataclass(frozen=True, slots=True)
class Position:
    """Where a read is: ``phase`` "products" or "variations" (the /variations listing) at ``page``, and the
    variable products whose variations are read first (``pending``, the first at its page ``vpage``);
    ``shared`` says whether the store serves /variations."""

    phase: str = "products"
    page: int = 1
    pending: tuple[int, ...] = ()
    vpage: int = 1
    shared: bool = False

    def token(self) -> str:
        data = {"v": 1, "ph": self.phase, "pg": self.page, "pend": list(self.pending), "vp": self.vpage}
        return json.dumps({**data, "vr": self.shared}, separators=(",", ":"))

    @classmethod
    def from_token(cls, token: str) -> Position:
        """The position of a token made by :meth:`token`; ValueError for anything else."""
        try:
            data = json.loads(token)
            position = cls(
                data["ph"],
                int(data["pg"]),
                tuple(int(i) for i in data["pend"]),
                int(data["vp"]),
                bool(data["vr"]),
            )
        except (ValueError, TypeError, KeyError):
            raise ValueError("not a WooCommerce read token") from None
        if data.get("v") != 1 or position.phase not in ("products", "variations") or position.page < 1:
            raise ValueError("not a WooCommerce read token")
        return position
