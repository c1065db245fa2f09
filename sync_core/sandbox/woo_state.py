"""The WooCommerce simulator's live state: its catalogue (woo_catalogue), its knobs, its traffic, and the
changes the control API makes: ``change`` (moves date_modified), ``sell`` (an order: lowers stock WITHOUT
moving date_modified, the contract's pitfall) and ``delete``.

Constructible alone (``WooState(variants=60, seed=7, lock=threading.RLock())``); every method takes the lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sync_core.sandbox.woo_catalogue import (
    Generator,
    WooProduct,
    WooVariation,
    now_utc,
    quantize,
)

CHANGE_FIELDS = ("price", "sale", "stock", "name")
_COUNTERS = (
    *("unauthorized_401", "forbidden_403", "throttled_429", "faults", "query_auth"),
    *("pages_served", "items_served", "changes", "sold", "deleted"),
)


@dataclass(frozen=True)
class WooKnobs:
    """What can change at run time (``WooState.configure``)."""

    consumer_key: str = "ck_sandbox0000000000000000000000000000000"
    consumer_secret: str = "cs_sandbox0000000000000000000000000000000"
    version: str = "10.3.0"  # 10.3 and later list and serve GET /variations
    drop_authorization: bool = False  # the host drops the Authorization header ("Consumer key is missing.")
    can_view: bool = True  # false: the key's user lacks read rights (403 woocommerce_rest_cannot_view)
    down: bool = False  # every call answers 500 (WordPress's critical error)
    html_status: int | None = (
        None  # every call (or the next html_times) answers an HTML page with this status
    )
    html_times: int = (
        0  # 0: every call while html_status is set; n: the next n calls, then html_status clears
    )
    rate_limit_per_s: float = 0.0  # above it, 429 with Retry-After (0: no limit)

    @property
    def serves_variations(self) -> bool:
        parts = [int(p) if p.isdigit() else 0 for p in self.version.split(".")[:2]]
        return tuple(parts + [0] * (2 - len(parts))) >= (10, 3)


def check_knob(name: str, value: Any) -> None:
    """ValueError naming the knob when ``value`` does not fit it."""
    kinds: dict[str, Any] = {
        "consumer_key": str,
        "consumer_secret": str,
        "version": str,
        "drop_authorization": bool,
        "can_view": bool,
        "down": bool,
    }
    if name not in {f.name for f in fields(WooKnobs)}:
        raise ValueError(f"unknown WooCommerce knob {name!r}")
    if name in kinds and (not isinstance(value, kinds[name]) or value == ""):
        raise ValueError(f"{name} must be a non-empty {kinds[name].__name__}")
    number = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if name == "html_status" and value is not None and not (isinstance(value, int) and 100 <= value <= 599):
        raise ValueError("html_status must be an HTTP status or null")
    if name in ("html_times", "rate_limit_per_s") and not number:
        raise ValueError(f"{name} must be a non-negative number")


class WooState:
    """Everything the WooCommerce endpoints read or change, behind ``lock``: ``products`` and ``variations``
    (live, by id), the knobs and the traffic. Change them with change / sell / delete."""

    def __init__(
        self, *, variants: int = 60, seed: int = 7, lock: threading.RLock | None = None, **knobs: Any
    ) -> None:
        self.lock = lock or threading.RLock()
        self.variants, self.seed = variants, seed
        self._initial = knobs
        self.reset()

    def reset(self, *, variants: int | None = None, seed: int | None = None) -> None:
        """The generated catalogue again (of ``variants`` items, from ``seed``, when given), the knobs as
        built, the traffic zeroed."""
        with self.lock:
            self.variants = self.variants if variants is None else variants
            self.seed = self.seed if seed is None else seed
            for name, value in self._initial.items():
                check_knob(name, value)
            self.knobs = WooKnobs(**self._initial)
            self.products, self.variations = Generator(self.seed).catalogue(self.variants)
            self._rng = random.Random(self.seed * 31 + 1)
            self._window = (0.0, 0)  # (second, calls in it) of the rate limit
            self.reset_stats()

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Set knobs; ValueError (nothing changed) for an unknown one or a wrong value. Returns them all."""
        with self.lock:
            for name, value in changes.items():
                check_knob(name, value)
            self.knobs = replace(self.knobs, **changes)
            return asdict(self.knobs)

    # ----- serving -----------------------------------------------------------------------------------
    def fault(self) -> tuple[str, int, float | None] | None:
        """The fault this call meets, if any: ("down", 500, None), ("html", status, None) or
        ("limited", 429, retry_after)."""
        with self.lock:
            knobs = self.knobs
            if knobs.down:
                self._counters["faults"] += 1
                return "down", 500, None
            if knobs.html_status is not None:
                if knobs.html_times:
                    left = knobs.html_times - 1
                    self.knobs = replace(
                        knobs, html_times=left, html_status=knobs.html_status if left else None
                    )
                self._counters["faults"] += 1
                return "html", knobs.html_status, None
            if knobs.rate_limit_per_s > 0:
                second, calls = self._window
                now = time.monotonic()
                if now - second >= 1.0:
                    second, calls = now, 0
                if calls >= knobs.rate_limit_per_s:
                    self._counters["throttled_429"] += 1
                    return "limited", 429, max(1.0, round(1.0 - (now - second), 3))
                self._window = (second, calls + 1)
            return None

    def authenticate(
        self, basic: tuple[str, str] | None, query: dict[str, str], index: bool
    ) -> tuple[int, str, str] | None:
        """None when the call may go on, else (status, code, message). ``basic`` is the Authorization
        header's key and secret (None when absent or dropped), ``query`` the query parameters; the route
        ``index`` is public unless wrong credentials are sent."""
        with self.lock:
            knobs = self.knobs
            given = None if knobs.drop_authorization else basic
            if given is None and "consumer_key" in query:
                given = (query.get("consumer_key", ""), query.get("consumer_secret", ""))
                self._counters["query_auth"] += 1
            if given is None:
                if index:
                    return None
                self._counters["unauthorized_401"] += 1
                if knobs.drop_authorization:
                    return 401, "woocommerce_rest_authentication_error", "Consumer key is missing."
                return 401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."
            if given[0] != knobs.consumer_key or given[1] != knobs.consumer_secret:
                self._counters["unauthorized_401"] += 1
                wrong = "key" if given[0] != knobs.consumer_key else "secret"
                return 401, "woocommerce_rest_authentication_error", f"Consumer {wrong} is invalid."
            if not knobs.can_view and not index:
                self._counters["forbidden_403"] += 1
                return 403, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."
            return None

    def served(self, count: int) -> None:
        with self.lock:
            self._counters["pages_served"] += 1
            self._counters["items_served"] += count

    # ----- changing ----------------------------------------------------------------------------------
    def item_ids(self) -> list[int]:
        """The sellable items' ids: simple products and variations, ascending."""
        with self.lock:
            simple = [p.id for p in self.products.values() if p.type == "simple"]
            return sorted(simple + list(self.variations))

    def _pick(
        self, ids: Sequence[int] | None, count: int | None, seed: int | None, managed: bool = False
    ) -> list[int]:
        if ids is not None:
            return list(ids)
        rng = random.Random(seed) if seed is not None else self._rng
        pool = [i for i in self.item_ids() if not managed or self._managed(i)]
        return sorted(rng.sample(pool, min(max(0, count or 0), len(pool))))

    def _managed(self, item_id: int) -> bool:
        item = self.products.get(item_id) or self.variations.get(item_id)
        if isinstance(item, WooVariation) and item.manage_stock == "parent":
            return self.products[item.parent_id].manage_stock
        return item is not None and item.manage_stock is True

    def change(
        self,
        ids: Sequence[int] | None = None,
        *,
        count: int | None = None,
        fields: Sequence[str] = (),
        seed: int | None = None,
    ) -> list[int]:
        """Edit these items (simple products or variations; else ``count`` random ones): ``fields`` among
        price, sale, stock, name (one at random when empty). date_modified moves to now, a variation's
        parent's too (WooCommerce syncs and saves it). Returns the changed ids."""
        wrong = set(fields) - set(CHANGE_FIELDS)
        if wrong:
            raise ValueError(f"fields must be among {CHANGE_FIELDS}, not {sorted(wrong)}")
        with self.lock:
            rng = random.Random(seed) if seed is not None else self._rng
            now, changed = now_utc(), []
            for item_id in self._pick(ids, count, seed):
                item = self.products.get(item_id) or self.variations.get(item_id)
                if item is None or isinstance(item, WooProduct) and item.type != "simple":
                    continue
                parent = self.products[item.parent_id] if isinstance(item, WooVariation) else None
                for name in fields or [rng.choice(CHANGE_FIELDS)]:
                    self._edit(rng, item, parent, name, now)
                item.modified = now
                if parent is not None:
                    parent.modified = now
                changed.append(item_id)
            self._counters["changes"] += len(changed)
            return changed

    @staticmethod
    def _edit(
        rng: random.Random,
        item: WooProduct | WooVariation,
        parent: WooProduct | None,
        name: str,
        now: datetime,
    ) -> None:
        owner = parent if isinstance(item, WooVariation) and item.manage_stock == "parent" else item
        if name == "price":
            item.regular_price = quantize(Decimal(rng.randrange(500, 20_000)) / 100)
            if item.sale_price is not None:
                item.sale_price = quantize(item.regular_price * Decimal("0.8"))
        elif name == "sale":
            regular = item.regular_price or Decimal("10.00")
            item.sale_price = None if item.sale_price is not None else quantize(regular * Decimal("0.7"))
        elif name == "stock" and owner is not None and owner.manage_stock in (True, "parent"):
            owner.stock_quantity = rng.randrange(0, 90)
            owner.modified = now
        elif name == "name":
            target = parent or item
            assert isinstance(target, WooProduct)
            target.name = f"{target.name.split(' (')[0]} ({rng.randrange(1000)})"

    def sell(
        self,
        ids: Sequence[int] | None = None,
        *,
        count: int | None = None,
        quantity: int = 1,
        seed: int | None = None,
    ) -> list[int]:
        """An order for ``quantity`` of these items (else of ``count`` random stock-managed ones): their
        stock (the parent's for a "parent"-managed variation) goes down; date_modified does NOT move.
        Returns the ids sold (an unmanaged item is not)."""
        with self.lock:
            sold = []
            for item_id in self._pick(ids, count, seed, managed=True):
                item = self.products.get(item_id) or self.variations.get(item_id)
                if item is None or not self._managed(item_id):
                    continue
                owner = (
                    self.products[item.parent_id]
                    if isinstance(item, WooVariation) and item.manage_stock == "parent"
                    else item
                )
                owner.stock_quantity = (owner.stock_quantity or 0) - quantity
                sold.append(item_id)
            self._counters["sold"] += len(sold)
            return sold

    def delete(self, ids: Sequence[int]) -> list[int]:
        """Delete products (a variable one with its variations) or variations (their parent's date moves)."""
        with self.lock:
            gone, now = [], now_utc()
            for item_id in ids:
                product = self.products.pop(item_id, None)
                if product is not None:
                    for variation_id in product.variations:
                        self.variations.pop(variation_id, None)
                    gone.append(item_id)
                    continue
                variation = self.variations.pop(item_id, None)
                if variation is not None:
                    parent = self.products[variation.parent_id]
                    parent.variations.remove(item_id)
                    parent.modified = now
                    gone.append(item_id)
            self._counters["deleted"] += len(gone)
            return gone

    # ----- traffic -----------------------------------------------------------------------------------
    def note_request(self, method: str, template: str, query: str) -> None:
        with self.lock:
            self._requests[f"{method} {template}"] += 1
            self.queries.append(f"{template}?{query}")

    def note_status(self, status: int) -> None:
        with self.lock:
            self._statuses[str(status)] += 1

    def stats(self) -> dict[str, Any]:
        """Calls by "METHOD /path", statuses, the queries asked (credentials redacted), counters."""
        with self.lock:
            data: dict[str, Any] = dict(self._counters)
            data["requests"] = dict(self._requests)
            data["requests_total"] = sum(self._requests.values())
            data["statuses"] = dict(self._statuses)
            data["queries"] = list(self.queries)
            data["live_products"] = len(self.products)
            data["live_variations"] = len(self.variations)
            return data

    def reset_stats(self) -> None:
        with self.lock:
            self._requests: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._counters: Counter[str] = Counter(dict.fromkeys(_COUNTERS, 0))
            self.queries: list[str] = []
