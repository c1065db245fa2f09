"""Ploomes CRM (OData v4) as a source of products, groups and families, and where its webhooks are registered.

Contract: /work/shared/contracts/ploomes.md. Every call sends the connection's User-Key; a 401 is an AuthError
naming its setting. Reference lists (groups, families, webhook actions) follow ``@odata.nextLink`` as given,
else ``$top``/``$skip``. Products are read by keyset (:class:`Keyset`), never by ``$skip``: the set moves
while a reader pages, and ``$skip`` then loses or repeats items. Whether a page is the last is judged by
:class:`sync_core.connectors.ploomes_paging.PageSizes` (the server may serve fewer than asked). The answers
are read in sync_core.connectors.ploomes_wire, the keyset is in sync_core.connectors.ploomes_paging.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from typing_extensions import Unpack

from sync_core import errors
from sync_core.connectors.base import HttpConnector, Wiring
from sync_core.connectors.ploomes_paging import ALL_READ, Keyset, PageSizes, Stuck, item_id, take
from sync_core.connectors.ploomes_wire import (
    BadRecord,
    Family,
    Group,
    ProductRecord,
    decimal_json,
    read_family,
    read_group,
    read_page,
    read_product,
    reader,
)
from sync_core.engine.connections import Connection
from sync_core.engine.paging import PageWalk
from sync_core.settings import Settings

__all__ = [
    "ALL_READ",
    "BadRecord",
    "Family",
    "Group",
    "Keyset",
    "PloomesCatalog",
    "ProductPage",
    "ProductRecord",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
Params = dict[str, Any]

PRODUCTS, GROUPS, FAMILIES = "/Products", "/Products@Groups", "/Products@Families"
WEBHOOKS, ACTIONS = "/Webhooks", "/Webhooks@Actions"
MAX_TOP = 300  # the most the server serves a page


@dataclass(frozen=True)
class ProductPage:
    """A page of products (each Id once) and those that cannot be read; ``next`` is None after the last."""

    products: list[ProductRecord]
    bad: list[BadRecord]
    next: Keyset | None


# The reference lists (groups, families) this process last read on each connection (by the connector's
# identity and path), with when: a later connector may take them while young enough (``max_age_s``).
_lists: dict[tuple[str, str], tuple[float, list[Any]]] = {}
_lists_lock = threading.Lock()


def _where(path: str) -> str:
    return httpx.URL(path).path


class PloomesCatalog(HttpConnector):
    """Ploomes on one connection (the default one, from PLOOMES_BASE and PLOOMES_USER_KEY, unless given),
    paced at PLOOMES_RATE_PER_S. Thread-safe; use as a context manager."""

    provider = "ploomes"
    base_setting = "ploomes_base"
    secret_setting = "ploomes_user_key"
    rate_setting = "ploomes_rate_per_min"

    def __init__(
        self, settings: Settings, connection: Connection | None = None, **wiring: Unpack[Wiring]
    ) -> None:
        if connection is None:
            settings.require(*self.needs)
        connection = self.resolve(settings, connection)
        key = self._credential(connection)
        super().__init__(settings, connection, headers={"User-Key": key}, reader=reader, **wiring)
        self.http.add_secret(key)
        self._key_name = connection.secret_name or "the connection's User-Key"
        self._sizes = PageSizes()

    def _check(self) -> None:
        """Read the product groups (kept for :meth:`groups`): the address answers and the User-Key is
        accepted; AuthError naming its setting when it is refused."""
        self._remember(GROUPS, self._read_groups())

    def _remember(self, path: str, items: list[Any]) -> None:
        with _lists_lock:
            _lists[(self._identity, path)] = (time.monotonic(), items)

    def _recalled(self, path: str, max_age_s: float) -> list[Any] | None:
        """The list this process read of ``path`` on this connection within ``max_age_s`` (None: none)."""
        with _lists_lock:
            kept = _lists.get((self._identity, path))
        if kept is None or not max_age_s or time.monotonic() - kept[0] > max_age_s:
            return None
        return list(kept[1])

    # --- calls ---

    def _call(
        self, method: str, path: str, *, context: str, params: Params | None = None, json: Any = None
    ) -> httpx.Response:
        """A call; a refused User-Key (401/403) is an AuthError naming its setting, never its value. The
        query goes as ``params``: httpx encodes it (a space as +, a + as %2B, as the server decodes it)."""
        try:
            return self.http.request(method, path, params=params, json=json, context=context[:128])
        except errors.AuthError as exc:
            raise errors.AuthError(
                f"{self.connection.name} refused the User-Key: {method} {_where(path)} answered HTTP "
                f"{exc.status}; check {self._key_name}",
                provider=self.connection.name,
                status=exc.status,
                correlation_id=exc.correlation_id,
            ) from None

    def _page(self, path: str, params: Params, context: str) -> tuple[list[Any], str | None]:
        """GET an OData page: (its items, its nextLink or None)."""
        response = self._call("GET", path, params=params, context=context)
        try:
            return read_page(self.http.json_body(response, loads=decimal_json))
        except ValueError:
            raise errors.TransientError(
                f"{self.connection.name}: GET {_where(path)} answered HTTP {response.status_code} "
                "without a value list",
                provider=self.connection.name,
                status=response.status_code,
            ) from None

    def _follow(self, link: str) -> tuple[str, Params]:
        """A nextLink (relative to the base, or absolute) as (address, query), when it stays on the
        connection's host (or Ploomes's): the User-Key goes with it. PermanentError for one that leads
        elsewhere."""
        base = httpx.URL(self.connection.base_url)
        url = base.join(link)
        ours = url.host == base.host or (
            url.host.endswith(".ploomes.com") and base.host.endswith(".ploomes.com")
        )
        if ours and (url.scheme == base.scheme or url.scheme == "https"):
            return str(url.copy_with(query=None)), dict(url.params.multi_items())
        raise errors.PermanentError(
            f"{self.connection.name}: a nextLink leads to {url.scheme}://{url.host}, not {base.host}: "
            "not followed",
            provider=self.connection.name,
        )

    def _read_all(self, path: str, what: str) -> list[Any]:
        """Every item of a reference list: nextLink when given, else $top/$skip, to the last page."""
        walk = PageWalk(self.connection.name, what, max_pages=self.settings.sync_max_pages)
        items: list[Any] = []
        target: tuple[str, Params] = (path, {"$top": MAX_TOP, "$skip": 0})
        unsure, number = None, 0
        while True:
            number += 1
            walk.admit(number)
            raw, link = self._page(*target, f"{what} page {number}")
            walk.record(
                number,
                [str(item_id(i) if item_id(i) is not None else i) for i in raw],
                total=None,
                size=MAX_TOP,
            )
            if unsure is not None and raw:
                self._sizes.followed(path, MAX_TOP, unsure)
            items += raw
            verdict = self._sizes.judge(path, MAX_TOP, len(raw), link=link is not None)
            if verdict == "last":
                return items
            unsure = len(raw) if verdict == "unsure" else None
            target = self._follow(link) if link else (path, {"$top": MAX_TOP, "$skip": len(items)})

    # --- reference lists ---

    def _read_groups(self) -> list[Group]:
        return self._kept(GROUPS, "the product groups", read_group)

    def _kept(self, path: str, what: str, read: Callable[[Any], T | None]) -> list[T]:
        """The items of a reference list ``read`` can read; the others are logged and left out."""
        found: list[T] = []
        for item in self._read_all(path, what):
            record = read(item)
            if record is None:
                log.warning(
                    "%s: %s: an item without an integer Id is left out: %.200r",
                    self.connection.name,
                    what,
                    item,
                )
            else:
                found.append(record)
        return found

    def groups(self, *, max_age_s: float = 0.0) -> list[Group]:
        """Every product group: those this process read on this connection (a check included) within
        ``max_age_s`` (a run right after the command line's check, a real-time run of the webhook drain),
        else read now."""
        kept = self._recalled(GROUPS, max_age_s)
        if kept is None:
            kept = self._read_groups()
            self._remember(GROUPS, kept)
        return list(kept)

    def families(self, *, max_age_s: float = 0.0) -> list[Family]:
        """Every product family: those this process read on this connection within ``max_age_s``, else read
        now."""
        kept = self._recalled(FAMILIES, max_age_s)
        if kept is None:
            kept = self._kept(FAMILIES, "the product families", read_family)
            self._remember(FAMILIES, kept)
        return list(kept)

    def webhook_actions(self) -> list[dict[str, Any]]:
        """The webhook actions (their Ids are the ActionId of :meth:`register_webhook`)."""
        return [item for item in self._read_all(ACTIONS, "the webhook actions") if isinstance(item, dict)]

    # --- products ---

    def products_by_id(self, ids: Sequence[int]) -> dict[int, ProductRecord | BadRecord | None]:
        """Each product by its Id, one call each; None when Ploomes has no such product."""
        if isinstance(ids, str | bytes) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in ids
        ):
            raise ValueError("ids must be a sequence of integers")
        found: dict[int, ProductRecord | BadRecord | None] = {}
        for n in dict.fromkeys(ids):
            query = {"$filter": f"Id eq {n}", "$expand": "OtherProperties"}
            raw, _ = self._page(PRODUCTS, query, f"product {n}")
            match = next((item for item in raw if item_id(item) == n), None)
            if match is not None:
                found[n] = read_product(match)
            elif raw:
                found[n] = BadRecord(n, "no-id", f"the answer for Id eq {n} carries no product with that Id")
            else:
                found[n] = None
        return found

    def product_page(
        self, keyset: Keyset, *, group_id: int | None = None, page_size: int = 300
    ) -> ProductPage:
        """The next page of products from ``keyset`` (see :class:`Keyset`), of ``group_id`` when given.

        ``page_size`` is the ``$top`` asked (at most 300, what the server serves at most). A page shorter
        than asked whose served size is not known yet is followed by one more request (the probe) in this
        call: the products it brings come back too (so a page may hold more than ``page_size``). A page may
        be empty with a ``next`` (a tie read to its end); the read is done when ``next`` is None."""
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        top = min(page_size, MAX_TOP)
        products: dict[int, ProductRecord] = {}
        bad: list[BadRecord] = []
        current, unsure = keyset, None
        while True:
            where, order = current.filter()
            if group_id is not None:
                where += f" and GroupId eq {group_id}"
            query = {"$filter": where, "$orderby": order, "$top": top, "$expand": "OtherProperties"}
            raw, link = self._page(PRODUCTS, query, f"products where {where}")
            had = len(products) + len(bad)
            try:
                after, stuck = take(current, raw, products, bad), None
            except Stuck as exc:  # only a page to go on from needs a keyset
                after, stuck = None, exc
            fresh = len(products) + len(bad) > had  # a ge query reads its boundary's products again
            if unsure is not None and fresh:
                self._sizes.followed(PRODUCTS, top, unsure)
            verdict = self._sizes.judge(PRODUCTS, top, len(raw), link=link is not None)
            if unsure is not None and not fresh and link is None and len(raw) < top:
                verdict = "last"  # the probe found nothing new: the short page was the last
            if verdict == "last":  # the end of the read, or of a tie: then on past its date
                done = None
                if current.tie:
                    done = Keyset("updated", ALL_READ, current.since, since_literal=current.since_literal)
                return ProductPage(list(products.values()), bad, done)
            if after is None:
                why = stuck or f"a page of {len(raw)} products without an Id and LastUpdateDate to go on from"
                raise errors.PermanentError(
                    f"{self.connection.name}: {why} ({where}): stopped", provider=self.connection.name
                )
            if verdict == "more":
                return ProductPage(list(products.values()), bad, after)
            current, unsure = after, len(raw)

    # --- webhooks ---

    def register_webhook(
        self, *, callback_url: str, validation_key: str, entity_id: int, action_id: int
    ) -> dict[str, Any]:
        """Register a webhook (POST /Webhooks; not resent after it may have arrived, so never twice); the
        webhook as Ploomes answered it ({} for an empty answer)."""
        if not callback_url.startswith(("https://", "http://")):
            raise ValueError("callback_url must be an http(s):// URL")
        if not validation_key.strip():
            raise ValueError("validation_key must not be empty")
        self.http.add_secret(validation_key)
        body = {
            "EntityId": entity_id,
            "ActionId": action_id,
            "CallbackUrl": callback_url,
            "ValidationKey": validation_key,
        }
        response = self._call(
            "POST", WEBHOOKS, json=body, context=f"register webhook {entity_id}/{action_id}"
        )
        if not response.content.strip():
            return {}
        try:
            answer = decimal_json(response.content)
        except ValueError:
            raise errors.PermanentError(
                f"{self.connection.name}: POST {WEBHOOKS} answered HTTP {response.status_code} with a body "
                "that is not JSON; list the webhooks before registering again",
                provider=self.connection.name,
                status=response.status_code,
            ) from None
        value = answer.get("value") if isinstance(answer, dict) else None
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return value[0]
        return answer if isinstance(answer, dict) else {}
