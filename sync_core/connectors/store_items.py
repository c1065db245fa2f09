"""What every store platform's catalogue reader gives the store-inventory pipeline: sellable variants in one
shape (``StoreItem``), a page at a time (``ItemPage``), full or changed since a time.

Prices are the price a customer pays now (``price``) and the price it is shown against when on sale
(``compare_at_price``, None when not on sale), exact decimals in the store's currency. ``stock`` is None when
the platform does not manage the item's stock (``managed`` false).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Protocol


@dataclass(frozen=True, slots=True)
class StoreItem:
    """One sellable variant (a simple product is its own single variant)."""

    product_id: str
    variant_id: str
    sku: str | None  # None when the store has none (empty strings are None)
    title: str  # the product's title, with the variant's when it has one ("Shirt / Red L")
    price: Decimal | None
    compare_at_price: Decimal | None
    stock: int | None  # summed over the places that count (Shopify: active locations); None when unmanaged
    managed: bool
    updated_at: datetime | None = None  # aware, UTC; when the platform last changed it, if it says


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """A record of the store's that could not be read as an item: its id and why."""

    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class ItemPage:
    """One page of a catalogue read; ``next`` is the opaque token of the next page, None after the last."""

    items: list[StoreItem]
    rejects: list[RejectedItem] = field(default_factory=list)
    next: str | None = None
    total: int | None = None  # items (or products) in the whole read, when the platform says


class StoreReader(Protocol):
    """A platform's catalogue reader (an HttpConnector of that platform)."""

    platform: ClassVar[str]

    def check(self, *, reuse_s: float = 0.0) -> None:
        """The cheapest call that proves the store answers and accepts the credentials; ConfigError or
        ConnectorError naming the cause."""

    def read_page(self, token: str | None, *, since: datetime | None = None) -> ItemPage:
        """The page at ``token`` (None: the first) of a full read, or, with ``since``, of the items changed
        at or after ``since`` (the caller overlaps windows; the reader dedupes within one read)."""

    def close(self) -> None: ...
