"""Anar360 supplier API as a ``Source``: products and their variants (``SupplierProduct`` records, which only
the Anar360 mappings read), paged, full or incremental.

Contract: /work/shared/contracts/anar360.md. Numbers (price, labelPrice, stock) must be integral: an int, an
integral float (``1000.0``) or a string of digits (``"1000"``) is accepted; anything else rejects the record.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from typing_extensions import Unpack

from sync_core import errors
from sync_core.connectors.base import HttpConnector, Wiring
from sync_core.engine.connections import Connection
from sync_core.engine.paging import PageWalk
from sync_core.models import PageRequest, RejectedRecord, SourcePage
from sync_core.settings import Settings

_DIGITS = re.compile(r"^-?\d+$")


@dataclass(frozen=True, slots=True)
class SupplierVariant:
    """One sellable variant as the supplier describes it; ``key`` is its stable id."""

    key: str
    attributes: dict[str, str]
    price: int | None
    label_price: int | None
    stock: int | None


@dataclass(frozen=True, slots=True)
class SupplierProduct:
    """A supplier product with the fields the mapping rules read (the records of this source's pages)."""

    key: str
    title: str
    status: str | None
    resell_status: str | None
    has_active_shipment: bool
    updated_at: datetime | None
    variants: tuple[SupplierVariant, ...]
    description: str = ""


def _integral(value: Any) -> Any:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        return int(value.strip())
    raise ValueError(f"must be an integer, got {type(value).__name__} {str(value)[:20]!r}")


def _key(value: Any) -> Any:
    # Ids are Mongo object ids (strings); a numeric id is read as its decimal text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _attributes(value: Any) -> Any:
    if value is None:
        return {}
    if isinstance(value, list):  # [{key, value}] in some responses, an object in most
        pairs = {}
        for entry in value:
            if not isinstance(entry, dict) or "key" not in entry:
                raise ValueError("list entries must be {key, value} objects")
            pairs[entry["key"]] = entry.get("value")
        value = pairs
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    return value


def _utc(value: datetime | None) -> datetime | None:
    # The API writes UTC with a "Z"; a timestamp without an offset is read as UTC too.
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


Int = Annotated[int | None, BeforeValidator(_integral)]
Key = Annotated[str, BeforeValidator(_key)]


class _Variant(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Key = Field(validation_alias=AliasChoices("_id", "id"), min_length=1)
    attributes: Annotated[dict[str, str], BeforeValidator(_attributes)] = Field(default_factory=dict)
    price: Int = Field(None, ge=0)
    label_price: Int = Field(None, ge=0, validation_alias="labelPrice")
    stock: Int = None


class _Product(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Key = Field(validation_alias=AliasChoices("id", "_id"), min_length=1)
    title: str | None = None
    description: str | None = None
    status: str | None = None
    resell_status: str | None = Field(None, validation_alias="resellStatus")
    shipments: list[Any] | None = None
    updated_at: datetime | None = Field(None, validation_alias="updatedAt")
    variants: list[_Variant] = Field(default_factory=list)

    def to_model(self) -> SupplierProduct:
        active = any(isinstance(s, dict) and s.get("active") is True for s in self.shipments or [])
        return SupplierProduct(
            key=self.id,
            title=self.title or "",
            status=self.status,
            resell_status=self.resell_status,
            has_active_shipment=active,
            updated_at=_utc(self.updated_at),
            description=self.description or "",
            variants=tuple(
                SupplierVariant(v.id, v.attributes, v.price, v.label_price, v.stock) for v in self.variants
            ),
        )


class _Page(BaseModel):
    model_config = ConfigDict(extra="ignore")

    total: Int = None
    limit: Int = None
    items: list[Any] = Field(default_factory=list)


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return str(code) if code not in (None, "") else None


def _reader(secret_name: str) -> Callable[[httpx.Response], tuple[int, str | None]]:
    """The answer reader of a connection whose token comes from ``secret_name`` (named when refused)."""

    def read(response: httpx.Response) -> tuple[int, str | None]:
        if response.is_success:
            return response.status_code, None
        code = _error_code(response)
        if response.status_code in (401, 403):
            return response.status_code, f"refused the token (error {code or 'unknown'}); check {secret_name}"
        return response.status_code, f"error {code}" if code else None

    return read


def _reject(item: Any, exc: ValidationError | None, reason: str = "invalid-record") -> RejectedRecord:
    raw = item if isinstance(item, dict) else {"item": item}
    key = raw.get("id", raw.get("_id"))
    if exc is None:
        message = "item is not a JSON object"
    else:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "item"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = f"{where}: {first['msg'].removeprefix('Value error, ')}{more}"
    return RejectedRecord(
        key=str(key) if key not in (None, "") else None,
        reason=reason,
        message=" ".join(message.split())[:300],
        payload=raw,
    )


def parse_item(item: Any) -> SupplierProduct | RejectedRecord:
    """Read one raw product; a record that does not fit the contract comes back as a RejectedRecord."""
    if not isinstance(item, dict):
        return _reject(item, None)
    try:
        return _Product.model_validate(item).to_model()
    except ValidationError as exc:
        return _reject(item, exc)


class Anar360(HttpConnector):
    """Anar360 products as a Source, on one connection (the default one, from ANAR360_BASE and
    ANAR360_TOKEN, unless given); owns its HTTP client (use as a context manager)."""

    provider = "anar360"
    base_setting = "anar360_base"
    secret_setting = "anar360_token"
    rate_setting = "anar360_rate_limit_per_min"

    def __init__(
        self, settings: Settings, connection: Connection | None = None, **wiring: Unpack[Wiring]
    ) -> None:
        connection = self.resolve(settings, connection)
        headers = {"Authorization": f"Bearer {self._credential(connection)}"}
        self._secret_name = connection.secret_name or "the token"
        reader = _reader(self._secret_name)
        super().__init__(settings, connection, headers=headers, reader=reader, **wiring)
        self._walks: dict[int | None, PageWalk] = {}
        self._walks_lock = threading.Lock()

    def _check(self) -> None:
        """GET /auth/validate; raise AuthError when the token is refused, TransientError when unreachable."""
        try:
            body = self.http.get_json("/auth/validate", context="auth validate")
        except errors.AuthError as exc:
            cause = exc.__cause__
            code = _error_code(cause.response) if isinstance(cause, httpx.HTTPStatusError) else None
            raise errors.AuthError(
                f"{self.connection.name} refused the token (error {code or 'unknown'}): GET /auth/validate "
                f"answered HTTP {exc.status}; check {self._secret_name}",
                provider=self.connection.name,
                status=exc.status,
                correlation_id=exc.correlation_id,
            ) from exc
        if not isinstance(body, dict) or body.get("success") is not True:
            code = body.get("error") if isinstance(body, dict) else None
            raise errors.AuthError(
                f"{self.connection.name} refused the token (error {code or 'unknown'}): GET /auth/validate "
                f"answered success: false; check {self._secret_name}",
                provider=self.connection.name,
                status=200,
            )

    def _walk(self, since_ms: int | None) -> PageWalk:
        """The guard of the listing a page belongs to (the full one, or one window's)."""
        with self._walks_lock:
            if since_ms not in self._walks:
                what = "the product listing" + (f" of the last {abs(since_ms)} ms" if since_ms else "")
                self._walks[since_ms] = PageWalk(
                    self.connection.name, what, max_pages=self.settings.sync_max_pages
                )
            return self._walks[since_ms]

    def first_page(self, *, since_ms: int | None = None) -> PageRequest:
        """Page one of a full listing, or of the products updated in the last ``|since_ms`` ms."""
        return PageRequest(
            number=1, size=self.settings.sync_page_limit, since_ms=-abs(since_ms) if since_ms else None
        )

    def fetch_page(self, request: PageRequest) -> SourcePage:
        """GET /products for one page; the next page is sized by the limit the server reports it used."""
        walk = self._walk(request.since_ms)
        walk.admit(request.number)
        params: dict[str, Any] = {"page": request.number, "limit": request.size}
        if request.since_ms is not None:
            params["since"] = -abs(request.since_ms)  # an offset back from now: a positive since is a 400
        body = self.http.get_json("/products", params=params, context=f"products page {request.number}")
        try:
            page = _Page.model_validate(body)
        except ValidationError as exc:
            raise errors.TransientError(
                f"{self.connection.name}: GET /products page {request.number} answered an unexpected shape "
                f"({exc.errors()[0]['loc']}: {exc.errors()[0]['msg']})",
                provider=self.connection.name,
                status=200,
            ) from None
        products: list[SupplierProduct] = []
        rejects: list[RejectedRecord] = []
        for item in page.items:
            parsed = parse_item(item)
            if isinstance(parsed, SupplierProduct):
                products.append(parsed)
            else:
                rejects.append(parsed)
        limit = page.limit if page.limit and page.limit > 0 else request.size
        keys = sorted([p.key for p in products] + [r.key or "" for r in rejects])
        walk.record(request.number, keys, total=page.total, size=limit)
        last = (
            not page.items
            or len(page.items) < limit
            or (page.total is not None and request.number * limit >= page.total)
        )
        following = (
            None if last else PageRequest(number=request.number + 1, size=limit, since_ms=request.since_ms)
        )
        last_number = -(-page.total // limit) if page.total is not None else None  # 1-based
        return SourcePage(
            request=request,
            records=products,
            rejects=rejects,
            next=following,
            total=page.total,
            last_number=last_number,
        )
