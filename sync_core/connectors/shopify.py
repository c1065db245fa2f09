"""Shopify (Admin GraphQL API) as a store whose catalogue is read: its sellable variants, a page at a time.

Contract: /work/shared/contracts/shopify.md. The connection's base URL is the store's address; its credential
is an access token or ``client_id:client_secret`` (sync_core.connectors.shopify_graphql sends the queries:
the credential, the cost-based pacing, what each failure means). The catalogue is read by variant
(``productVariants``), each with as many inventory levels as the shop has locations (an item's further levels
are read apart), stock summed over active locations. An incremental read reads the variants updated since,
then, location by active location, those whose stock there changed since (a sale need not change a variant's
``updatedAt``), leaving out what it returned already. Answers are read in sync_core.connectors.shopify_wire.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from typing_extensions import Unpack

from sync_core import errors
from sync_core.connectors.base import HttpConnector, Wiring
from sync_core.connectors.shopify_cost import PageSize
from sync_core.connectors.shopify_graphql import ShopifyGraphQL, client_credentials
from sync_core.connectors.shopify_wire import (
    GRAPHQL_PATH,
    ITEM_LEVELS_QUERY,
    LOCATION_LEVELS_QUERY,
    LOCATIONS_QUERY,
    SHOP_QUERY,
    VARIANTS_QUERY,
    Position,
    WireConnection,
    changed_before,
    item_levels,
    location_order,
    read_connection,
    read_item,
    reader,
    updated_filter,
)
from sync_core.connectors.store_items import ItemPage, RejectedItem, StoreItem
from sync_core.engine.connections import Connection
from sync_core.settings import Settings

__all__ = ["ShopifyStore"]


class ShopifyStore(HttpConnector):
    """One Shopify store's catalogue reader (a connection of CONNECTIONS: Shopify has no default one).
    Use as a context manager."""

    provider = "shopify"
    platform: ClassVar[str] = "shopify"
    base_setting = None
    secret_setting = None
    rate_setting = None

    def __init__(
        self,
        settings: Settings,
        connection: Connection | None = None,
        *,
        clock: Callable[[], float] | None = None,
        **wiring: Unpack[Wiring],
    ) -> None:
        """``clock`` (``time.monotonic`` by default) times the cost bucket's restoring; the wiring's
        ``sleep`` does its waits. ConfigError when the connection is not usable."""
        connection = self.resolve(settings, connection)
        secret = self._credential(connection)
        renewable = client_credentials(secret) is not None
        super().__init__(settings, connection, headers={}, reader=reader, renewable_auth=renewable, **wiring)
        self.http.add_secret(secret)
        if renewable:
            self.http.add_secret(secret.partition(":")[2])
        self._secret_hash = hashlib.sha256(secret.encode()).hexdigest()
        self.graphql = ShopifyGraphQL(
            self.http,
            name=connection.name,
            path=GRAPHQL_PATH.format(version=settings.shopify_api_version),
            secret=secret,
            secret_name=connection.secret_name or "the connection's credential",
            sleep=wiring.get("sleep") or time.sleep,
            clock=clock or time.monotonic,
        )
        self._locations: list[tuple[str, bool]] | None = None
        self._sizes: dict[str, PageSize] = {}

    @property
    def _identity(self) -> str:
        """A check's success is remembered by the address and the credential (hashed)."""
        return hashlib.sha256(f"{super()._identity}\0{self._secret_hash}".encode()).hexdigest()

    def _check(self) -> None:
        """Ask the shop's name: the store answers and accepts the credential (AuthError when refused)."""
        self.graphql.query("the shop's name", SHOP_QUERY, {}, expected=1.0)

    def _paged(self, kind: str, what: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return self.graphql.paged(self._sizes[kind], what, query, variables)

    def _known_locations(self) -> list[tuple[str, bool]]:
        """Every location (id, active), inactive ones included (their levels appear too); read once."""
        if self._locations is None:
            self._sizes.setdefault("locations", PageSize(2, 1))
            found: list[tuple[str, bool]] = []
            after: str | None = None
            while True:
                data = self._paged("locations", "locations", LOCATIONS_QUERY, {"after": after})
                page = self._connection(data.get("locations"), "locations")
                found += [
                    (n["id"], n.get("isActive") is not False)
                    for n in page.nodes
                    if isinstance(n, dict) and isinstance(n.get("id"), str)
                ]
                if page.next is None:
                    break
                after = page.next
            self._locations = sorted(found, key=lambda loc: location_order(loc[0]))
            levels = self._levels_asked()
            self._sizes.setdefault("variants", PageSize(2, 5 + 3 * levels))
            self._sizes.setdefault("levels", PageSize(3, 7 + 3 * levels))
            self._sizes.setdefault("item levels", PageSize(3, 3))
        return self._locations

    def _levels_asked(self) -> int:
        """The levels asked with each variant: as many as the shop has locations (so none is cut off)."""
        return max(1, min(250, len(self._locations or ())))

    def _connection(self, value: Any, what: str) -> WireConnection:
        """``value`` read as a GraphQL connection; TransientError naming ``what`` when it is not one."""
        try:
            return read_connection(value, what)
        except ValueError as exc:
            raise errors.TransientError(
                f"{self.connection.name}: Shopify {what}: {exc}", provider=self.connection.name
            ) from None

    # --- the catalogue ---

    def read_page(self, token: str | None, *, since: datetime | None = None) -> ItemPage:
        """The page at ``token`` of a full read, or with ``since`` of the variants changed since then and
        then of the levels whose stock changed since then, location by active location (see StoreReader).
        ValueError for a token this connector did not make."""
        position = Position.decode(token) if token else Position()
        if position.phase == "levels" and since is None:
            raise ValueError("this token belongs to an incremental read: give since")
        locations = self._known_locations()
        if since is not None:  # to the second, as the store's search and its times go
            since = (since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)).replace(
                microsecond=0
            )
        if position.phase == "variants":
            variables = {"after": position.cursor, "q": updated_filter(since) if since else None}
            data = self._paged(
                "variants", "variants", VARIANTS_QUERY, {**variables, "levels": self._levels_asked()}
            )
            page = self._connection(data.get("productVariants"), "productVariants")
            items, rejects = self._items(page.nodes)
            if page.next is not None:
                return ItemPage(items, rejects, Position("variants", page.next).encode())
            return ItemPage(items, rejects, self._after(locations, None) if since else None)
        assert since is not None and position.location is not None
        return self._levels_page(position, since, locations)

    def _after(self, locations: list[tuple[str, bool]], location: str | None) -> str | None:
        """The token of the first active location after ``location`` (None: the first), None when none."""
        for gid, active in locations:
            if active and (location is None or location_order(gid) > location_order(location)):
                return Position("levels", None, gid).encode()
        return None

    def _levels_page(
        self, position: Position, since: datetime, locations: list[tuple[str, bool]]
    ) -> ItemPage:
        where = position.location
        assert where is not None
        variables = {
            "loc": where,
            "after": position.cursor,
            "q": updated_filter(since),
            "levels": self._levels_asked(),
        }
        data = self._paged("levels", f"changed levels at {where}", LOCATION_LEVELS_QUERY, variables)
        location = data.get("location")
        if not isinstance(location, dict):  # gone since the locations were read
            return ItemPage([], [], self._after(locations, where))
        page = self._connection(location.get("inventoryLevels"), f"inventoryLevels at {where}")
        nodes = []
        for level in page.nodes:
            item = level.get("item") if isinstance(level, dict) else None
            variant = item.get("variant") if isinstance(item, dict) else None
            if isinstance(variant, dict) and not changed_before(variant, since, where):
                nodes.append(variant)
        items, rejects = self._items(nodes)
        if page.next is not None:
            return ItemPage(items, rejects, Position("levels", page.next, where).encode())
        return ItemPage(items, rejects, self._after(locations, where))

    def _items(self, nodes: list[Any]) -> tuple[list[StoreItem], list[RejectedItem]]:
        """The items of variant nodes (each variant once), their levels read to the end."""
        items: dict[str, StoreItem] = {}
        rejects: list[RejectedItem] = []
        for node in nodes:
            item_id, levels, more = item_levels(node)
            if more is not None and item_id is not None:
                levels = levels + self._more_levels(item_id, more)
            read = read_item(node, levels)
            if isinstance(read, RejectedItem):
                rejects.append(read)
            else:
                items.setdefault(read.variant_id, read)
        return list(items.values()), rejects

    def _more_levels(self, item_id: str, after: str | None) -> list[Any]:
        """The levels of an inventory item after the cursor ``after``."""
        found: list[Any] = []
        while after is not None:
            data = self._paged(
                "item levels", f"levels of {item_id}", ITEM_LEVELS_QUERY, {"id": item_id, "after": after}
            )
            item = data.get("inventoryItem")
            if not isinstance(item, dict):
                return found
            page = self._connection(item.get("inventoryLevels"), f"inventoryLevels of {item_id}")
            found += page.nodes
            after = page.next
        return found
