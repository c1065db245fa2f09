"""Provider-neutral records that flow between connectors, mapping, diffing and the store."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    """A supplier product with the fields the mapping rules read."""

    key: str
    title: str
    status: str | None
    resell_status: str | None
    has_active_shipment: bool
    updated_at: datetime | None
    variants: tuple[SupplierVariant, ...]
    description: str = ""


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A record the source could not read; it goes to ``failures`` with its reason."""

    key: str | None
    reason: str
    message: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page to fetch: a 1-based number, or an opaque token for cursor-paged sources."""

    number: int = 1
    size: int = 100
    since_ms: int | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class SourcePage:
    """One page from a source; ``next`` is None on the last page."""

    request: PageRequest
    products: list[SupplierProduct]
    rejects: list[RejectedRecord]
    next: PageRequest | None
    total: int | None = None
    last_number: int | None = None  # the last page number the server's total implies, when it reports one


@dataclass(frozen=True, slots=True)
class StoreVariant:
    """A target variant as read from the store's catalogue; None means 'not reported'."""

    id: str
    product_id: str
    product_name: str
    title: str | None
    sku: str | None
    price: int | None = None
    discount_price: int | None = None
    is_stock_managed: bool | None = None
    stock_number: int | None = None


@dataclass(frozen=True, slots=True)
class CataloguePage:
    """One page of the target's catalogue."""

    number: int
    variants: list[StoreVariant]
    next: int | None
    total: int | None = None
    last_number: int | None = None  # the last page number the server's total implies, when it reports one


@dataclass(frozen=True, slots=True)
class Write:
    """One value to set on one target item.

    ``kind`` names the aspect ("price", "stock"); ``value`` is the whole value of that aspect, so the
    write is absolute and can be replayed safely.
    """

    kind: str
    target_key: str
    source_key: str
    value: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.kind, self.value)


@dataclass(slots=True)
class WriteOutcome:
    """What the target said about a group of writes."""

    succeeded: list[Write] = field(default_factory=list)
    failed: list[tuple[Write, str, str]] = field(default_factory=list)  # (write, error class, message)


@dataclass(frozen=True, slots=True)
class NewProduct:
    """A supplier product to create in the target (create_missing_products)."""

    source_key: str
    name: str
    description: str
    variants: tuple[tuple[str, dict[str, Any]], ...]  # (supplier variant key, {"price", "stock", ...})


def fingerprint(kind: str, value: dict[str, Any]) -> str:
    """Stable short hash of an aspect value: equal values, equal fingerprints."""
    raw = json.dumps([kind, value], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()
