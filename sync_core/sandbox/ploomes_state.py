"""The Ploomes simulator's live state: its products (live, deleted, last served), groups and families,
registered webhooks, and its traffic. The Python-side accessor for tests: `SandboxState.ploomes`.

Owned by `SandboxState` and guarded by the same lock; `SandboxState.configure` keeps `config` current.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from sync_core.sandbox.ploomes_catalogue import (
    CHANGE_FIELDS,
    PloomesProduct,
    changed,
    generate_products,
    now_brt,
    random_product,
)
from sync_core.sandbox.ploomes_data import FAMILIES, GROUPS
from sync_core.sandbox.ploomes_odata import PRODUCTS, Query
from sync_core.sandbox.records import SandboxConfig

_GROUP_NAMES = dict(GROUPS)
_FAMILY_NAMES = {fid: name for fid, name, _ in FAMILIES}
PLOOMES_KNOBS = (  # those that can change at run time (SandboxState.configure)
    "ploomes_user_key",
    "ploomes_webhook_key",
    "ploomes_page_cap",
    "ploomes_next_link",
    "ploomes_rate_limit_per_s",
    "ploomes_change_while_paging",
)
ACTIONS = ({"Id": 1, "Name": "Create"}, {"Id": 2, "Name": "Update"}, {"Id": 3, "Name": "Delete"})
_COUNTERS = (
    "throttled_429",
    "unauthorized_401",
    "faults",
    "pages_served",
    "products_served",
    "changed_while_paging",
    "changes",
    "created",
    "deleted",
    "deliveries",
)


def check_ploomes_knob(name: str, value: Any) -> None:
    """Raise ValueError when `value` has the wrong type for the run-time Ploomes knob `name`."""
    if name in ("ploomes_user_key", "ploomes_webhook_key") and not (isinstance(value, str) and value):
        raise ValueError(f"{name} must be a non-empty string")
    if name == "ploomes_next_link" and not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    number = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if name == "ploomes_rate_limit_per_s" and not number:
        raise ValueError(f"{name} must be a non-negative number")
    if name in ("ploomes_page_cap", "ploomes_change_while_paging") and not (
        number and isinstance(value, int)
    ):
        raise ValueError(f"{name} must be a non-negative integer")


class PloomesState:
    """Everything the Ploomes endpoints read or change, behind the sandbox's lock (`self.lock`).

    `products` maps live Ids to records, `deleted` deleted Ids to their last record, `served` every Id ever
    served (in a page or a webhook delivery) to the record served last. Change them with change / create /
    delete (which bump `version`, the key of the sorted-order cache), not by editing the dicts.
    """

    def __init__(self, config: SandboxConfig, lock: threading.RLock) -> None:
        self.config = config
        self.lock = lock
        generated = generate_products(config.ploomes_products, config.seed, config.ploomes_shared_dates)
        self.products: dict[int, PloomesProduct] = {p.id: p for p in generated}
        self.deleted: dict[int, PloomesProduct] = {}
        self.served: dict[int, PloomesProduct] = {}
        self.groups: list[dict[str, Any]] = [{"Id": gid, "Name": name} for gid, name in GROUPS]
        self.families: list[dict[str, Any]] = [
            {"Id": fid, "Name": name, "GroupId": gid} for fid, name, gid in FAMILIES
        ]
        self.webhooks: list[dict[str, Any]] = []
        self.version = 0  # bumped by every change, creation and deletion
        self._next_id = max(self.products, default=3_100_000)
        self._rng = random.Random(config.seed * 1_000_003 + 41)
        self._sorted: dict[str, tuple[int, list[PloomesProduct]]] = {}
        self.reset_stats()

    # ----- reading -----------------------------------------------------------------------------------
    @property
    def ids(self) -> list[int]:
        """The live product Ids, ascending."""
        with self.lock:
            return sorted(self.products)

    def product(self, product_id: int) -> PloomesProduct | None:
        """The live record of a product (None when unknown or deleted)."""
        with self.lock:
            return self.products.get(product_id)

    def group_name(self, group_id: int | None) -> str | None:
        """The name of a group (None for None or an unknown one)."""
        return _GROUP_NAMES.get(group_id) if group_id is not None else None

    def family_name(self, family_id: int | None) -> str | None:
        """The name of a family (None for None or an unknown one)."""
        return _FAMILY_NAMES.get(family_id) if family_id is not None else None

    def select(self, query: Query) -> tuple[list[PloomesProduct], int]:
        """The page of live products `query` asks for, and how many match in all; marks the page served."""
        with self.lock:
            key = query.options.get("$orderby", "")
            cached = self._sorted.get(key)
            if cached is None or cached[0] != self.version:
                if len(self._sorted) >= 8:
                    self._sorted.clear()
                rows = query.sort(list(self.products.values()), PRODUCTS.tiebreak)
                if not query.order:
                    rows.sort(key=attrgetter("id"))
                cached = self._sorted[key] = (self.version, rows)
            matching = [p for p in cached[1] if query.matches(p)]
            page = matching[query.skip : query.skip + query.top]
            self.mark_served(page)
            self._counters["pages_served"] += 1
            self._counters["products_served"] += len(page)
            return page, len(matching)

    def mark_served(self, records: Iterable[PloomesProduct | None]) -> None:
        """Note these records as the last served of their products."""
        with self.lock:
            for record in records:
                if record is not None:
                    self.served[record.id] = record

    # ----- changing ----------------------------------------------------------------------------------
    def pick(self, count: int, seed: int | None = None) -> list[int]:
        """`count` distinct live Ids at random (all of them at most)."""
        with self.lock:
            rng = random.Random(seed) if seed is not None else self._rng
            ids = sorted(self.products)
            return rng.sample(ids, min(max(0, count), len(ids)))

    def how_many(self, fraction: float) -> int:
        """The number of live products `fraction` stands for (at least 1 when the fraction is above 0)."""
        with self.lock:
            return max(1 if fraction > 0 else 0, round(len(self.products) * fraction))

    def change_records(
        self, ids: Sequence[int], fields: Sequence[str] = (), seed: int | None = None
    ) -> list[tuple[PloomesProduct, PloomesProduct]]:
        """Give these live products new values in `fields` (name, price, custom_field; one at random when
        empty) and LastUpdateDate = now; returns (old, new) per changed product (unknown Ids are skipped)."""
        wrong = set(fields) - set(CHANGE_FIELDS)
        if wrong:
            raise ValueError(f"fields must be among {CHANGE_FIELDS}, not {sorted(wrong)}")
        with self.lock:
            rng = random.Random(seed) if seed is not None else self._rng
            now, pairs = now_brt(), []
            for product_id in ids:
                old = self.products.get(product_id)
                if old is not None:
                    new = self.products[product_id] = changed(rng, old, tuple(fields), now)
                    pairs.append((old, new))
            self.version += 1
            self._counters["changes"] += len(pairs)
            return pairs

    def change(
        self,
        ids: Sequence[int] | None = None,
        *,
        count: int | None = None,
        fraction: float | None = None,
        fields: Sequence[str] = (),
        seed: int | None = None,
    ) -> list[int]:
        """Change the products `ids`, else `count` random ones, else `fraction` of them (see change_records);
        returns the changed Ids."""
        with self.lock:
            if ids is None:
                ids = self.pick(count if count is not None else self.how_many(fraction or 0.0), seed)
            return [new.id for _, new in self.change_records(ids, fields, seed)]

    def change_while_paging(self) -> None:
        """The `ploomes_change_while_paging` products changed as a products page is served."""
        with self.lock:
            count = self.config.ploomes_change_while_paging
            if count > 0:
                self.change(count=count)
                self._counters["changed_while_paging"] += count

    def create(self, count: int) -> list[PloomesProduct]:
        """`count` new products (fresh, higher Ids; CreateDate = LastUpdateDate = now); returns them."""
        with self.lock:
            now, created = now_brt(), []
            for _ in range(max(0, count)):
                self._next_id += self._rng.randint(1, 40)
                product = random_product(self._rng, self._rng.randrange(6), self._next_id, now)
                self.products[product.id] = product
                created.append(product)
            self.version += 1
            self._counters["created"] += len(created)
            return created

    def delete(self, ids: Sequence[int] | None = None, *, count: int | None = None) -> list[PloomesProduct]:
        """Delete these live products (or `count` random ones); returns their last records."""
        with self.lock:
            chosen = ids if ids is not None else self.pick(count or 0)
            gone = [self.products.pop(i) for i in chosen if i in self.products]
            self.deleted.update((p.id, p) for p in gone)
            self.version += 1
            self._counters["deleted"] += len(gone)
            return gone

    # ----- webhooks ----------------------------------------------------------------------------------
    def register_webhook(self, body: Any) -> dict[str, Any]:
        """Store a `POST /Webhooks` body; raises ValueError naming what is missing or wrong."""
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        kinds = {"EntityId": int, "ActionId": int, "CallbackUrl": str, "ValidationKey": str}
        wrong = [
            k
            for k, kind in kinds.items()
            if not isinstance(body.get(k), kind) or isinstance(body.get(k), bool)
        ]
        if wrong or not body["CallbackUrl"]:
            raise ValueError(f"missing or invalid: {', '.join(wrong or ['CallbackUrl'])}")
        with self.lock:
            hook = {"Id": 7_000 + len(self.webhooks) + 1, **{k: body[k] for k in kinds}}
            self.webhooks.append(hook)
            return dict(hook)

    def hooks_for(self, action: str) -> list[dict[str, Any]]:
        """The registered webhooks whose ActionId is `action`'s (Create, Update, Delete)."""
        action_id = next(a["Id"] for a in ACTIONS if a["Name"] == action)
        with self.lock:
            return [dict(h) for h in self.webhooks if h["ActionId"] == action_id]

    # ----- traffic -----------------------------------------------------------------------------------
    def note_request(self, method: str, path: str, query: str) -> None:
        """Count a request by "METHOD /path"; keep the query string of each products request."""
        with self.lock:
            self._requests[f"{method} {path}"] += 1
            if path == "/Products" and method == "GET":
                self.product_queries.append(query)

    def note(self, counter: str) -> None:
        """Add one to `counter` (throttled_429, unauthorized_401, faults)."""
        with self.lock:
            self._counters[counter] += 1

    def note_status(self, status: int) -> None:
        """Count the status of one answer."""
        with self.lock:
            self._statuses[str(status)] += 1

    def note_delivery(self, status: int | None) -> None:
        """Count one webhook delivery by the status it got ("error" when none)."""
        with self.lock:
            self._counters["deliveries"] += 1
            self._delivery_statuses[str(status) if status is not None else "error"] += 1

    def stats(self) -> dict[str, Any]:
        """Requests by path, products query strings, 401s, 429s, pages and items served, changes, webhooks."""
        with self.lock:
            data: dict[str, Any] = dict(self._counters)
            data["requests"] = dict(self._requests)
            data["requests_total"] = sum(self._requests.values())
            data["statuses"] = dict(self._statuses)
            data["product_queries"] = list(self.product_queries)
            data["delivery_statuses"] = dict(self._delivery_statuses)
            data["webhooks_registered"] = len(self.webhooks)
            data["live_products"] = len(self.products)
            data["deleted_products"] = len(self.deleted)
            data["served_products"] = len(self.served)
            return data

    def reset_stats(self) -> None:
        """Zero the traffic counters (products, served records and webhooks are untouched)."""
        with self.lock:
            self._requests: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._delivery_statuses: Counter[str] = Counter()
            self._counters: Counter[str] = Counter(dict.fromkeys(_COUNTERS, 0))
            self.product_queries: list[str] = []
