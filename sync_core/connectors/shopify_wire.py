"""What the Shopify connector sends and reads off the wire (contract: /work/shared/contracts/shopify.md): the
GraphQL texts, a variant node read as a StoreItem (or a RejectedItem: one bad node never stops its page),
the failure an answer reports, and the opaque page token.

Stock is the sum of ``available`` over the levels at active locations; an untracked item has none. A level
whose location does not say ``isActive`` counts (the contract's own sample selects no ``isActive``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from sync_core.connectors.store_items import RejectedItem, StoreItem

GRAPHQL_PATH = "/admin/api/{version}/graphql.json"
TOKEN_PATH = "/admin/oauth/access_token"
DEFAULT_TITLE = "Default Title"  # the title of a product's only variant: not part of the item's title

_LEVEL_FIELDS = 'updatedAt location { id isActive } quantities(names: ["available"]) { name quantity }'
_VARIANT_FIELDS = (
    "id title sku price compareAtPrice updatedAt product { id title } "
    f"inventoryItem {{ id tracked inventoryLevels(first: $levels) {{ nodes {{ {_LEVEL_FIELDS} }} "
    "pageInfo { hasNextPage endCursor } } }"
)
_PAGE_INFO = "pageInfo { hasNextPage endCursor }"

SHOP_QUERY = "{ shop { name } }"
LOCATIONS_QUERY = (
    "query($first: Int!, $after: String) { locations(first: $first, after: $after, includeInactive: true, "
    f"includeLegacy: true) {{ nodes {{ id isActive }} {_PAGE_INFO} }} }}"
)
VARIANTS_QUERY = (
    "query($first: Int!, $after: String, $q: String, $levels: Int!) { "
    f"productVariants(first: $first, after: $after, query: $q) {{ nodes {{ {_VARIANT_FIELDS} }} {_PAGE_INFO} }} }}"
)
LOCATION_LEVELS_QUERY = (
    "query($loc: ID!, $first: Int!, $after: String, $q: String, $levels: Int!) { location(id: $loc) { id "
    "inventoryLevels(first: $first, after: $after, query: $q) { nodes { updatedAt item { id variant { "
    f"{_VARIANT_FIELDS} }} }} }} {_PAGE_INFO} }} }} }}"
)
ITEM_LEVELS_QUERY = (
    "query($id: ID!, $first: Int!, $after: String) { inventoryItem(id: $id) { "
    f"inventoryLevels(first: $first, after: $after) {{ nodes {{ {_LEVEL_FIELDS} }} {_PAGE_INFO} }} }} }}"
)


def _object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def updated_filter(since: datetime) -> str:
    """The search query of what changed at or after ``since`` (a naive time is taken as UTC), to the second
    below it (an earlier bound only overlaps)."""
    at = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
    return f"updated_at:>='{at.strftime('%Y-%m-%dT%H:%M:%SZ')}'"


def parse_time(value: Any) -> datetime | None:
    """An ISO date-time as an aware UTC value; None for None; ValueError for anything else."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a date-time: {value!r:.40}")
    at = datetime.fromisoformat(value)
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def location_order(gid: str) -> tuple[int, str]:
    """How locations are walked: by their number (gid://shopify/Location/N), then by text."""
    tail = gid.rsplit("/", 1)[-1]
    return (int(tail) if tail.isdigit() else 1 << 62, gid)


# --- answers ---


@dataclass(frozen=True, slots=True)
class Failure:
    """The first error of a GraphQL answer: its ``extensions.code`` ("" when none) and message."""

    code: str
    message: str
    required_access: str | None = None


def read_failure(body: Any) -> Failure | None:
    """The failure a decoded answer reports (``errors`` non-empty), or None."""
    found = body.get("errors") if isinstance(body, dict) else None
    if not found:
        return None
    if isinstance(found, str):
        return Failure("", found)
    first = found[0] if isinstance(found, list) and found else found
    if not isinstance(first, dict):
        return Failure("", str(first)[:300])
    extensions = _object(first.get("extensions"))
    access = extensions.get("requiredAccess")
    return Failure(
        str(extensions.get("code") or ""),
        " ".join(str(first.get("message") or "").split())[:300],
        access if isinstance(access, str) else None,
    )


def reader(response: httpx.Response) -> tuple[int, str | None]:
    """The HttpClient's reading of an answer: INTERNAL_SERVER_ERROR in a 2xx body is a 500 (retried like
    one); any other in-body error is left to the connector, which knows what each code means."""
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    failure = read_failure(body)
    if response.is_success:
        if failure is not None and failure.code == "INTERNAL_SERVER_ERROR":
            return 500, f"INTERNAL_SERVER_ERROR: {failure.message}"
        return response.status_code, None
    return response.status_code, failure.message if failure else None


@dataclass(frozen=True, slots=True)
class WireConnection:
    """A GraphQL connection's nodes, and the cursor of the next page (None after the last)."""

    nodes: list[Any]
    next: str | None


def read_connection(value: Any, what: str) -> WireConnection:
    """``{nodes, pageInfo}``; ValueError naming ``what`` when it is not one (or has more without a cursor)."""
    if not isinstance(value, dict) or not isinstance(value.get("nodes"), list):
        raise ValueError(f"{what} carries no node list")
    info = _object(value.get("pageInfo"))
    if not info.get("hasNextPage"):
        return WireConnection(value["nodes"], None)
    cursor = info.get("endCursor")
    if not isinstance(cursor, str) or not cursor:
        raise ValueError(f"{what} says more follow but gives no endCursor")
    return WireConnection(value["nodes"], cursor)


# --- items ---


@dataclass(frozen=True, slots=True)
class Level:
    """One inventory level: where, whether that location is active, ``available`` there, when it changed."""

    location_id: str | None
    active: bool
    available: int | None
    updated_at: datetime | None


class _Bad(ValueError):
    pass


def read_level(node: Any) -> Level:
    """A level node; _Bad (a ValueError) when it cannot be read."""
    if not isinstance(node, dict):
        raise _Bad("an inventory level is not an object")
    location = _object(node.get("location"))
    available = None
    for quantity in node.get("quantities") or []:
        if isinstance(quantity, dict) and quantity.get("name") == "available":
            value = quantity.get("quantity")
            if not isinstance(value, int) or isinstance(value, bool):
                raise _Bad(f"an available quantity is not an integer: {value!r:.40}")
            available = value
    try:
        updated = parse_time(node.get("updatedAt"))
    except ValueError:
        updated = None  # only the incremental read's dedupe looks at it
    where = location.get("id")
    return Level(
        where if isinstance(where, str) else None, location.get("isActive") is not False, available, updated
    )


def item_levels(node: Any) -> tuple[str | None, list[Any], str | None]:
    """(inventory item id, its level nodes, the cursor of more levels or None) of a variant node."""
    item = node.get("inventoryItem") if isinstance(node, dict) else None
    if not isinstance(item, dict):
        return None, [], None
    item_id = item.get("id") if isinstance(item.get("id"), str) else None
    raw = item.get("inventoryLevels")
    if raw is None:
        return item_id, [], None
    try:
        levels = read_connection(raw, "inventoryLevels")
    except ValueError:
        return item_id, [], None  # read_item says why
    return item_id, levels.nodes, levels.next


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Bad(f"{what} is missing or not a string")
    return value


def _money(value: Any, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value)) if isinstance(value, str | int) and not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise _Bad(f"{what} is not a decimal: {value!r:.40}")
    return amount


def read_item(node: Any, level_nodes: list[Any]) -> StoreItem | RejectedItem:
    """The StoreItem of a variant node with all of its level nodes, or a RejectedItem saying why not."""
    key = node.get("id") if isinstance(node, dict) else None
    if not isinstance(key, str) or not key:
        return RejectedItem(repr(node)[:80], "a variant without an id")
    try:
        product = node.get("product")
        if not isinstance(product, dict):
            raise _Bad("the variant has no product")
        title = _text(product.get("title"), "the product title")
        variant_title = node.get("title")
        if isinstance(variant_title, str) and variant_title.strip() and variant_title != DEFAULT_TITLE:
            title = f"{title} / {variant_title}"
        item = node.get("inventoryItem")
        if not isinstance(item, dict) or not isinstance(item.get("tracked"), bool):
            raise _Bad("the variant has no inventory item saying whether it is tracked")
        stock = None
        if item["tracked"]:
            levels = [read_level(level) for level in level_nodes]
            if any(level.active and level.available is None for level in levels):
                raise _Bad("a level at an active location has no available quantity")
            stock = sum(level.available or 0 for level in levels if level.active)
        sku = node.get("sku")
        return StoreItem(
            product_id=_text(product.get("id"), "the product id"),
            variant_id=key,
            sku=sku if isinstance(sku, str) and sku.strip() else None,
            title=title,
            price=_money(node.get("price"), "price"),
            compare_at_price=_money(node.get("compareAtPrice"), "compareAtPrice"),
            stock=stock,
            managed=item["tracked"],
            updated_at=parse_time(node.get("updatedAt")),
        )
    except ValueError as exc:
        return RejectedItem(key, str(exc))


def changed_before(node: Any, since: datetime, location_id: str) -> bool:
    """Whether an incremental read already returned this variant node before the levels of ``location_id``:
    in its variants phase (``updatedAt`` at or after ``since``) or at an earlier active location (a level
    there changed at or after ``since``)."""
    try:
        updated = parse_time(node.get("updatedAt"))
    except ValueError:
        updated = None
    if updated is not None and updated >= since:
        return True
    here = location_order(location_id)
    for raw in item_levels(node)[1]:
        try:
            level = read_level(raw)
        except ValueError:
            continue
        earlier = level.location_id is not None and location_order(level.location_id) < here
        if earlier and level.active and level.updated_at is not None and level.updated_at >= since:
            return True
    return False


# --- the page token ---


@dataclass(frozen=True, slots=True)
class Position:
    """Where a read goes on: the variants (after ``cursor``), or the changed levels of ``location``."""

    phase: str = "variants"
    cursor: str | None = None
    location: str | None = None

    def encode(self) -> str:
        raw = json.dumps({"p": self.phase, "c": self.cursor, "l": self.location}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def decode(cls, token: str) -> Position:
        """The position of a token :meth:`encode` made; ValueError for any other."""
        try:
            raw = json.loads(base64.urlsafe_b64decode(token.encode()))
        except (ValueError, binascii.Error):
            raise ValueError("not a Shopify page token") from None
        phase, cursor, location = (_object(raw).get(k) for k in ("p", "c", "l"))
        levels = phase == "levels" and isinstance(location, str)
        if not (phase == "variants" or levels) or not (cursor is None or isinstance(cursor, str)):
            raise ValueError("not a Shopify page token")
        return cls(str(phase), cursor, location if levels else None)
