"""A WooCommerce store's catalogue (REST API v3) read as StoreItems.

Contract: /work/shared/contracts/woocommerce.md. The connection's base URL is the store (``/wp-json/wc/v3``
is added unless it is there); its credential is ``consumer_key:consumer_secret``, sent with HTTP Basic, or
as query parameters once a 401 says the consumer key is missing (the server dropped the header). Plain
``http://`` is refused except on loopback. Calls time out after 60 s (slow shared hosts).

A read pages ``/products`` by id, 100 a page, to an empty page. Simple products are items; a variable
product's variations are: from ``/variations`` when the route index lists it (WooCommerce 10.3+), else
``/products/{id}/variations`` per variable product. An incremental read (``since``) asks
``modified_after``; it re-reads every variation of a changed variable product, and ``/variations`` changed
since when served. Order-driven stock changes do not move ``date_modified``: only a full read sees them.
The answers are read in sync_core.connectors.woocommerce_wire.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
from datetime import datetime
from typing import Any

import httpx
from typing_extensions import Unpack

from sync_core import errors
from sync_core.connectors.base import HttpConnector, Wiring
from sync_core.connectors.store_items import ItemPage, RejectedItem, StoreItem
from sync_core.connectors.woocommerce_items import Parent, page_of, parent_of, simple_item, variation_item
from sync_core.connectors.woocommerce_wire import (
    API_PATH,
    PARENT_FIELDS,
    PER_PAGE,
    PRODUCT_FIELDS,
    READ_TYPES,
    VARIATION_FIELDS,
    Position,
    api_base,
    credentials,
    error_of,
    has_variations_route,
    loads,
    looks_html,
    modified_after,
    reader,
    record_id,
    refusal,
    total,
)
from sync_core.engine.connections import Connection
from sync_core.settings import Settings

__all__ = ["WooCommerceStore", "api_base"]

log = logging.getLogger(__name__)
TIMEOUT_S = 60.0
Params = dict[str, Any]


def _response(exc: errors.ConnectorError) -> httpx.Response | None:
    cause = exc.__cause__
    return cause.response if isinstance(cause, httpx.HTTPStatusError) else None


class WooCommerceStore(HttpConnector):
    """A WooCommerce store on one connection (of CONNECTIONS: there is no default one), paced at the
    connection's rate (WOO_RATE_PER_S). A StoreReader; use as a context manager."""

    provider = platform = "woocommerce"
    base_setting = None
    secret_setting = None
    rate_setting = None
    schemes = ("http", "https")

    def __init__(
        self, settings: Settings, connection: Connection | None = None, **wiring: Unpack[Wiring]
    ) -> None:
        connection = self.resolve(settings, connection)
        self._key, self._secret = credentials(connection, self._credential)
        api = api_base(connection)
        timeout = max(settings.http_timeout, TIMEOUT_S)
        slow = settings.model_copy(
            update={"http_timeout": timeout, "http_deadline_s": max(settings.http_deadline_s, timeout)}
        )
        basic = base64.b64encode(f"{self._key}:{self._secret}".encode()).decode()
        super().__init__(
            slow,
            dataclasses.replace(connection, base_url=api),
            headers={"Authorization": f"Basic {basic}"},
            reader=reader,
            **wiring,
        )
        for secret in (self._key, self._secret, basic):
            self.http.add_secret(secret)
        self._secret_name = connection.secret_name or "its consumer_key:consumer_secret"
        self._query_auth = False  # the server drops the Authorization header: credentials go in the query
        self._variations_route: bool | None = None  # whether the route index lists /variations
        self._parents: dict[int, Parent] = {}  # variable products seen in this read
        self._seen: set[str] = set()  # variant ids returned in this read

    # --- calls ---

    def _get(self, path: str, params: Params | None, what: str) -> httpx.Response:
        """GET; a refused key, a WAF page or a missing REST API is one line naming the connection."""
        sent = dict(params) if params is not None else None
        if self._query_auth:
            sent = {**(sent or {}), "consumer_key": self._key, "consumer_secret": self._secret}
        try:
            return self.http.request("GET", path, params=sent, context=what[:128])
        except errors.AuthError as exc:
            response = _response(exc)
            code, message = error_of(response)
            if exc.status == 401 and not self._query_auth and "consumer key is missing" in message.lower():
                log.info(
                    "%s: the Authorization header does not arrive; credentials go in the query", self.name
                )
                self._query_auth = True
                return self._get(path, params, what)
            raise refusal(self.name, exc, httpx.URL(path).path, code, response, self._secret_name) from None
        except errors.NotFound as exc:
            code, _ = error_of(_response(exc))
            if code == "woocommerce_rest_product_invalid_id":
                raise
            raise errors.ConfigError(
                f"{self.name}: GET {httpx.URL(path).path} answered HTTP 404{f' {code}' if code else ''}: "
                f"{self.connection.base_url} is not a WooCommerce REST API (are pretty permalinks on?)"
            ) from None

    @property
    def name(self) -> str:
        return self.connection.name

    def _listing(self, path: str, params: Params, what: str) -> tuple[list[Any], httpx.Response]:
        """A page of a listing: (its records, the response)."""
        response = self._get(path, params, what)
        body = self._json(response, path)
        if not isinstance(body, list):
            raise errors.TransientError(
                f"{self.name}: GET {path} answered HTTP {response.status_code} without a list",
                provider=self.name,
                status=response.status_code,
            )
        return body, response

    def _json(self, response: httpx.Response, path: str) -> Any:
        """The decoded body; an HTML page answered 200 is an error, not data."""
        if looks_html(response):
            raise errors.PermanentError(
                f"{self.name}: GET {httpx.URL(path).path} answered HTTP {response.status_code} with an HTML "
                "page, not JSON: a cache, maintenance or login page or a security plugin answers for the API",
                provider=self.name,
                status=response.status_code,
            )
        return self.http.json_body(response, loads=loads)

    # --- the route index and the check ---

    def _read_index(self) -> bool:
        index = self._json(self._get(self.connection.base_url, None, "route index"), API_PATH)
        if not isinstance(index, dict) or not isinstance(index.get("routes"), dict):
            raise errors.ConfigError(
                f"{self.name}: {self.connection.base_url} answered without a route index: it is not a "
                "WooCommerce REST API (are pretty permalinks on?)"
            )
        self._variations_route = has_variations_route(index)
        return self._variations_route

    def serves_variations(self) -> bool:
        """Whether the store serves ``GET /variations`` (read once from the route index, never probed)."""
        return self._variations_route if self._variations_route is not None else self._read_index()

    def _check(self) -> None:
        """The route index (which also says whether /variations is served), then one product id: the store
        answers and accepts the key; ConfigError or AuthError naming the cause."""
        self._read_index()
        self._listing("/products", {"per_page": 1, "_fields": "id"}, "check")

    # --- the read ---

    def read_page(self, token: str | None, *, since: datetime | None = None) -> ItemPage:
        """The page at ``token`` (None: the first) of a full read, or with ``since`` of what changed at or
        after it; each variant id at most once a read (on one connector). ValueError for a foreign token."""
        if token is None:
            self._parents.clear()
            self._seen.clear()
            position = Position(shared=self.serves_variations())
        else:
            position = Position.from_token(token)
        if max(position.page, position.vpage) > self.settings.sync_max_pages:
            raise errors.LimitExceeded(
                f"{self.name}: more than SYNC_MAX_PAGES ({self.settings.sync_max_pages}) pages: stopped",
                provider=self.name,
            )
        since_param = (
            {} if since is None else {"modified_after": modified_after(since), "dates_are_gmt": "true"}
        )
        if position.pending:
            page = self._variations_of(position)
        elif position.phase == "products":
            page = self._products(position, since_param)
        else:
            page = self._all_variations(position, since_param)
        fresh = [item for item in page.items if item.variant_id not in self._seen]
        self._seen.update(item.variant_id for item in fresh)
        return ItemPage(fresh, page.rejects, page.next, page.total)

    @staticmethod
    def _query(page: int, fields: str, extra: Params) -> Params:
        return {
            "per_page": PER_PAGE,
            "page": page,
            "orderby": "id",
            "order": "asc",
            "_fields": fields,
            **extra,
        }

    def _products(self, position: Position, since: Params) -> ItemPage:
        """A page of products: the simple ones as items; the variable ones pending (their variations next),
        except in a full read of a store that serves /variations (that listing brings them)."""
        raw, response = self._listing(
            "/products", self._query(position.page, PRODUCT_FIELDS, since), f"products page {position.page}"
        )
        found: list[StoreItem | RejectedItem] = []
        pending: list[int] = []
        for record in raw:
            product_id = record_id(record)
            if product_id is None:
                found.append(RejectedItem("?", f"a product without an id: {str(record)[:120]}"))
            elif record.get("type") == "simple":
                found.append(simple_item(record, product_id))
            elif record.get("type") == "variable":
                parent = parent_of(record)
                if parent is not None:
                    self._parents[product_id] = parent
                if (since or not position.shared) and record.get("variations") != []:
                    pending.append(product_id)
            elif record.get("type") not in READ_TYPES:
                log.debug("%s: product %s of type %r skipped", self.name, product_id, record.get("type"))
        if not raw:
            following = Position("variations", 1, shared=True) if position.shared else None
        else:
            following = Position("products", position.page + 1, tuple(pending), 1, position.shared)
        return page_of(found, following.token() if following else None, total(response, "X-WP-Total"))

    def _known_parents(self, ids: list[int]) -> None:
        """Read the products of ``ids`` not seen in this read (their names and stock)."""
        missing = sorted({i for i in ids if i not in self._parents})
        for start in range(0, len(missing), PER_PAGE):
            chunk = missing[start : start + PER_PAGE]
            params = {"include": ",".join(map(str, chunk)), "per_page": PER_PAGE, "_fields": PARENT_FIELDS}
            raw, _ = self._listing("/products", params, f"{len(chunk)} variable products")
            for record in raw:
                parent = parent_of(record) if isinstance(record, dict) else None
                if parent is not None:
                    self._parents[parent.id] = parent

    def _variations_of(self, position: Position) -> ItemPage:
        """A page of the first pending product's variations (all of them: a changed product's name or stock
        changes its variations' items)."""
        product_id = position.pending[0]
        self._known_parents(list(position.pending))  # all at once: a read resumed on a new connector
        path = f"/products/{product_id}/variations"
        what = f"variations of {product_id} page {position.vpage}"
        try:
            raw, response = self._listing(path, self._query(position.vpage, VARIATION_FIELDS, {}), what)
        except errors.NotFound:  # deleted since its products page: nothing to read
            raw, response = [], None
        parent = self._parents.get(product_id)
        found = [variation_item(record, product_id, parent) for record in raw]
        pages = total(response, "X-WP-TotalPages") if response is not None else None
        done = not raw or (position.vpage >= pages if pages is not None else len(raw) < PER_PAGE)
        rest = position.pending[1:] if done else position.pending
        following = dataclasses.replace(position, pending=rest, vpage=1 if done else position.vpage + 1)
        return page_of(found, following.token(), None)

    def _all_variations(self, position: Position, since: Params) -> ItemPage:
        """A page of ``/variations`` (every variation, or those changed since), with their products' names."""
        raw, response = self._listing(
            "/variations",
            self._query(position.page, VARIATION_FIELDS, since),
            f"variations page {position.page}",
        )
        parent_ids = [record_id({"id": r.get("parent_id")}) if isinstance(r, dict) else None for r in raw]
        self._known_parents([i for i in parent_ids if i is not None])
        parents = [self._parents.get(i) if i is not None else None for i in parent_ids]
        found = [variation_item(record, None, parent) for record, parent in zip(raw, parents, strict=True)]
        following = dataclasses.replace(position, page=position.page + 1).token() if raw else None
        return page_of(found, following, total(response, "X-WP-Total"))
