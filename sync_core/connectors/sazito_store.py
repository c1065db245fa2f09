"""A Sazito store as a catalogue source of the store inventory: its catalogue pages (contracts/sazito.md) read
as ``StoreItem``s. Sazito reports no modification time, so every read is a full one."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from typing_extensions import Unpack

from sync_core.connectors.base import Wiring
from sync_core.connectors.sazito import Sazito
from sync_core.connectors.store_items import ItemPage, StoreItem
from sync_core.engine.connections import Connection
from sync_core.models import CatalogueItem
from sync_core.settings import Settings

API_PATH = "/api/v1"  # the store API hangs off the store's own domain


def store_item(item: CatalogueItem) -> StoreItem:
    """A catalogue variant as an inventory item: the price paid is the discount price when there is one, and
    then the list price is what it is compared at."""
    price = item.holds.get("price") or {}
    listed, discounted = price.get("price"), price.get("discount_price")
    stock = item.holds.get("stock") or {}
    managed = bool(stock.get("managed"))
    title = item.product_name or item.title or item.key
    if item.title and item.product_name and item.title != item.product_name:
        title = f"{item.product_name} / {item.title}"
    return StoreItem(
        product_id=item.product_key,
        variant_id=item.key,
        sku=item.sku or None,
        title=title,
        price=_money(discounted if discounted is not None else listed),
        compare_at_price=_money(listed) if discounted is not None else None,
        stock=stock.get("stock") if managed else None,
        managed=managed,
    )


def _money(value: Any) -> Decimal | None:
    return Decimal(value) if value is not None else None


class SazitoStore(Sazito):
    """The catalogue read of a Sazito store integration (``StoreReader``)."""

    platform: ClassVar[str] = "sazito"

    def __init__(self, settings: Settings, connection: Connection, **wiring: Unpack[Wiring]) -> None:
        """``connection``'s URL is the store's (its API is under /api/v1 there)."""
        base = connection.base_url.rstrip("/")
        if not base.endswith(API_PATH):
            connection = dataclasses.replace(connection, base_url=base + API_PATH)
        super().__init__(settings, connection, **wiring)

    def read_page(self, token: str | None, *, since: datetime | None = None) -> ItemPage:
        """The 0-based catalogue page ``token`` (None: 0); ``since`` is ignored (no modification times)."""
        page = self.read_catalogue_page(int(token or 0))
        following = str(page.next) if page.next is not None else None
        return ItemPage([store_item(i) for i in page.items], next=following, total=page.total)
