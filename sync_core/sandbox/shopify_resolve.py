"""Pricing and answering a parsed query (sync_core.sandbox.shopify_graphql) against the simulator's shop.

Served: ``shop``, ``productVariants(first, after, query)``, ``locations(first, after, includeInactive)``,
``location(id)``, ``inventoryItem(id)``, ``productVariant(id)``; on them the fields of SCHEMA. Connections
need ``first`` (at most 250; ``last`` is not served); cursors are opaque; ``query`` filters by
``updated_at`` (``updated_at:>='2026-11-20T10:00:00Z'``, also >, <, <=, =; other terms are ignored).

The cost (contract "Limits"): a scalar is free; an object, and a list of objects (``quantities``), costs 1
plus its selection; a connection costs 2 plus, per node, 1 plus the node's selection. The requested cost
counts ``first`` nodes per connection, the actual cost the nodes served.
"""

from __future__ import annotations

import base64
import binascii
import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sync_core.sandbox.shopify_catalogue import Level, Location, Shop, Variant, gid, stamp
from sync_core.sandbox.shopify_graphql import Field, GraphQLError, argument

MAX_FIRST = 250
SCALAR, OBJECT, LIST, CONN = "scalar", "object", "list", "connection"
SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "QueryRoot": {
        "shop": (OBJECT, "Shop"),
        "productVariants": (CONN, "ProductVariant"),
        "locations": (CONN, "Location"),
        "location": (OBJECT, "Location"),
        "inventoryItem": (OBJECT, "InventoryItem"),
        "productVariant": (OBJECT, "ProductVariant"),
    },
    "Shop": dict.fromkeys(("id", "name", "currencyCode"), (SCALAR, "")),
    "ProductVariant": {
        **dict.fromkeys(
            (
                "id",
                "title",
                "sku",
                "price",
                "compareAtPrice",
                "updatedAt",
                "displayName",
                "inventoryQuantity",
            ),
            (SCALAR, ""),
        ),
        "product": (OBJECT, "Product"),
        "inventoryItem": (OBJECT, "InventoryItem"),
    },
    "Product": dict.fromkeys(("id", "title", "handle", "updatedAt"), (SCALAR, "")),
    "InventoryItem": {
        **dict.fromkeys(("id", "tracked", "sku"), (SCALAR, "")),
        "variant": (OBJECT, "ProductVariant"),
        "inventoryLevels": (CONN, "InventoryLevel"),
    },
    "InventoryLevel": {
        **dict.fromkeys(("id", "updatedAt"), (SCALAR, "")),
        "location": (OBJECT, "Location"),
        "item": (OBJECT, "InventoryItem"),
        "quantities": (LIST, "InventoryQuantity"),
    },
    "InventoryQuantity": dict.fromkeys(("name", "quantity"), (SCALAR, "")),
    "Location": {
        **dict.fromkeys(("id", "name", "isActive"), (SCALAR, "")),
        "inventoryLevels": (CONN, "InventoryLevel"),
    },
}
_COMPARE = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
PAGE_INFO = ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")
QUANTITY_NAMES = ("available", "committed", "on_hand", "incoming", "reserved", "damaged", "safety_stock")
Row = tuple[int, Any]  # (the key cursors count by, the node)


def _money(value: Any) -> str | None:
    return None if value is None else str(value)


def _on_hand(level: Level) -> int:
    return level.available + level.committed


def _quantity(level: Level, name: str) -> int:
    return {"available": level.available, "committed": level.committed, "on_hand": _on_hand(level)}.get(
        name, 0
    )


SCALARS: dict[str, Callable[[Any], Any]] = {
    "Shop.id": lambda shop: "gid://shopify/Shop/1",
    "Shop.name": lambda shop: shop.name,
    "Shop.currencyCode": lambda shop: "USD",
    "ProductVariant.id": lambda v: gid("ProductVariant", v.number),
    "ProductVariant.title": lambda v: v.title,
    "ProductVariant.sku": lambda v: v.sku,
    "ProductVariant.price": lambda v: _money(v.price),
    "ProductVariant.compareAtPrice": lambda v: _money(v.compare_at),
    "ProductVariant.updatedAt": lambda v: stamp(v.updated_at),
    "ProductVariant.displayName": lambda v: f"{v.product.title} - {v.title}",
    "ProductVariant.inventoryQuantity": lambda v: sum(lv.available for lv in v.levels.values()),
    "Product.id": lambda p: gid("Product", p.number),
    "Product.title": lambda p: p.title,
    "Product.handle": lambda p: p.handle,
    "Product.updatedAt": lambda p: stamp(p.updated_at),
    "InventoryItem.id": lambda v: gid("InventoryItem", v.item),
    "InventoryItem.tracked": lambda v: v.tracked,
    "InventoryItem.sku": lambda v: v.sku,
    "InventoryLevel.id": lambda vl: (
        f"gid://shopify/InventoryLevel/{vl[1].location}?inventory_item_id={vl[0].item}"
    ),
    "InventoryLevel.updatedAt": lambda vl: stamp(vl[1].updated_at),
    "InventoryQuantity.name": lambda q: q[0],
    "InventoryQuantity.quantity": lambda q: q[1],
    "Location.id": lambda loc: gid("Location", loc.number),
    "Location.name": lambda loc: loc.name,
    "Location.isActive": lambda loc: loc.active,
}


def _number(value: Any, kind: str) -> int:
    found = re.fullmatch(r"gid://shopify/(\w+)/(\d+)", value) if isinstance(value, str) else None
    if found is None:
        raise GraphQLError(f"Invalid global id '{value}'", "argumentLiteralsIncompatible")
    return int(found[2]) if found[1] == kind else -1


def _since(query: Any) -> Callable[[datetime], bool]:
    """The test of a ``query`` search string's updated_at terms (every other term is ignored)."""
    terms: list[tuple[Callable[[Any, Any], bool], datetime]] = []
    for op, raw in re.findall(r"updated_at:(>=|<=|>|<|=)?\s*['\"]?([^'\"\s]+)['\"]?", query or ""):
        try:
            at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise GraphQLError(f"Invalid updated_at in query: {raw!r}") from None
        terms.append((_COMPARE.get(op, operator.eq), at if at.tzinfo else at.replace(tzinfo=UTC)))
    return lambda t: all(compare(t, at) for compare, at in terms)


def cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"sim:{key}".encode()).decode()


def _after(value: Any) -> int | None:
    if value is None:
        return None
    try:
        text = base64.urlsafe_b64decode(str(value).encode()).decode()
        return int(text.removeprefix("sim:")) if text.startswith("sim:") else int("x")
    except (ValueError, binascii.Error):
        raise GraphQLError(f"Invalid cursor for current pagination sort: {value}") from None


class Execution:
    """One query against ``shop`` with ``variables``: :meth:`price` before, :meth:`run` to answer."""

    def __init__(self, shop: Shop, variables: dict[str, Any]) -> None:
        self.shop, self.variables = shop, variables

    def _args(self, field: Field) -> dict[str, Any]:
        return {k: argument(v, self.variables) for k, v in field.args.items()}

    def _lookup(self, kind: str, field: Field) -> tuple[str, str]:
        if field.name == "__typename":
            return SCALAR, ""
        found = SCHEMA.get(kind, {}).get(field.name)
        if found is None:
            raise GraphQLError(f"Field '{field.name}' doesn't exist on type '{kind}'", "undefinedField")
        if (found[0] == SCALAR) != (not field.selections):
            what = "cannot have a selection" if found[0] == SCALAR else "must have a selection of subfields"
            raise GraphQLError(f"Field '{field.name}' on type '{kind}' {what}", "selectionMismatch")
        return found

    def _first(self, field: Field) -> int:
        args = self._args(field)
        first = args.get("first")
        if first is None:
            if args.get("last") is not None:
                raise GraphQLError(f"{field.name}: last is not served by this simulator; page with first")
            raise GraphQLError(f"{field.name}: you must provide one of first or last")
        if not isinstance(first, int) or isinstance(first, bool) or not 0 <= first <= MAX_FIRST:
            raise GraphQLError(f"{field.name}: first must be an integer from 0 to {MAX_FIRST}, not {first!r}")
        return first

    @staticmethod
    def _node_fields(field: Field) -> list[Field]:
        found: list[Field] = []
        for part in field.selections:
            if part.name == "nodes":
                found += part.selections
            elif part.name == "edges":
                found += [f for node in part.selections if node.name == "node" for f in node.selections]
            elif part.name not in ("pageInfo", "__typename"):
                raise GraphQLError(f"Field '{part.name}' doesn't exist on a connection", "undefinedField")
        return found

    def price(self, fields: list[Field], kind: str = "QueryRoot") -> int:
        """The requested cost (GraphQLError for a connection without ``first`` or an unknown field)."""
        total = 0
        for field in fields:
            shape, target = self._lookup(kind, field)
            if shape in (OBJECT, LIST):
                total += 1 + self.price(field.selections, target)
            elif shape == CONN:
                total += 2 + self._first(field) * (1 + self.price(self._node_fields(field), target))
        return total

    def run(
        self, fields: list[Field], kind: str = "QueryRoot", node: Any = None
    ) -> tuple[dict[str, Any], int]:
        """(the data of ``fields`` on ``node``, their actual cost)."""
        out: dict[str, Any] = {}
        total = 0
        for field in fields:
            shape, target = self._lookup(kind, field)
            if field.name == "__typename":
                out[field.key] = kind
            elif shape == SCALAR:
                out[field.key] = SCALARS[f"{kind}.{field.name}"](node)
            elif shape == OBJECT:
                child = self._child(kind, field, node)
                total += 1
                out[field.key], cost = (
                    self.run(field.selections, target, child) if child is not None else (None, 0)
                )
                total += cost
            elif shape == LIST:
                names = self._args(field).get("names")
                if not isinstance(names, list) or not all(n in QUANTITY_NAMES for n in names):
                    raise GraphQLError(f"quantities needs names among {', '.join(QUANTITY_NAMES)}")
                rows = [self.run(field.selections, target, (n, _quantity(node[1], n))) for n in names]
                out[field.key] = [row for row, _ in rows]
                total += 1 + sum(cost for _, cost in rows)
            else:
                out[field.key], cost = self._connection(kind, field, target, node)
                total += cost
        return out, total

    def _child(self, kind: str, field: Field, node: Any) -> Any:
        args, shop = self._args(field), self.shop
        if kind == "QueryRoot":
            if field.name == "shop":
                return shop
            if "id" not in args:
                raise GraphQLError(
                    f"Field '{field.name}' is missing required arguments: id", "missingRequiredArguments"
                )
            kinds = {
                "location": "Location",
                "inventoryItem": "InventoryItem",
                "productVariant": "ProductVariant",
            }
            number = _number(args["id"], kinds[field.name])
            tables: dict[str, dict[int, Any]] = {"location": shop.locations, "inventoryItem": shop.items}
            return tables.get(field.name, shop.variants).get(number)
        if kind == "ProductVariant":
            return node.product if field.name == "product" else node
        if kind == "InventoryItem":  # its variant (the simulator keeps item and variant as one)
            return node
        return shop.locations.get(node[1].location) if field.name == "location" else node[0]

    def _rows(self, kind: str, field: Field, node: Any) -> list[Row]:
        args, shop = self._args(field), self.shop
        fits = _since(args.get("query"))
        if field.name == "productVariants":
            return [(n, v) for n, v in sorted(shop.variants.items()) if fits(v.updated_at)]
        if field.name == "locations":
            every = bool(args.get("includeInactive"))
            return [(n, loc) for n, loc in sorted(shop.locations.items()) if every or loc.active]
        if kind == "Location":
            place: Location = node
            found = [(n, v, v.levels.get(place.number)) for n, v in sorted(shop.variants.items())]
            return [(n, (v, lv)) for n, v, lv in found if lv is not None and fits(lv.updated_at)]
        variant: Variant = node
        return [(n, (variant, lv)) for n, lv in sorted(variant.levels.items()) if fits(lv.updated_at)]

    def _connection(self, kind: str, field: Field, target: str, node: Any) -> tuple[dict[str, Any], int]:
        first, after = self._first(field), _after(self._args(field).get("after"))
        rows = [row for row in self._rows(kind, field, node) if after is None or row[0] > after]
        page = rows[:first]
        out: dict[str, Any] = {}
        total = 2
        for part in field.selections:
            if part.name == "pageInfo":
                info = {
                    "hasNextPage": len(rows) > first,
                    "hasPreviousPage": after is not None,
                    "startCursor": cursor(page[0][0]) if page else None,
                    "endCursor": cursor(page[-1][0]) if page else None,
                }
                out[part.key] = {f.key: info.get(f.name) for f in part.selections}
            elif part.name == "__typename":
                out[part.key] = f"{target}Connection"
            else:
                served = []
                for key, child in page:
                    fields = (
                        part.selections
                        if part.name == "nodes"
                        else self._node_fields(Field("e", None, {}, [part]))
                    )
                    data, cost = self.run(fields, target, child)
                    total += 1 + cost
                    if part.name == "nodes":
                        served.append(data)
                    else:
                        edge: dict[str, Any] = {
                            f.key: cursor(key) for f in part.selections if f.name == "cursor"
                        }
                        edge.update({f.key: data for f in part.selections if f.name == "node"})
                        served.append(edge)
                out[part.key] = served
        return out, total
