"""The Shopify simulator's live state: its shop (sync_core.sandbox.shopify_catalogue), credentials, the app's
cost bucket, run-time knobs, changes, traffic counters and the oracle. Standalone (one shop per state);
every method is guarded by ``lock``.
"""

from __future__ import annotations

import hmac
import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sync_core.sandbox.shopify_catalogue import CENT, Variant, generate_shop, gid, now_utc

SCOPES = "read_products,read_inventory,read_locations"
TOKEN_LIFETIME_S = 86_399
KNOBS = ("maximum_available", "restore_rate", "throttle_as_429", "down", "refuse_credentials")
CHANGE_FIELDS = ("price", "stock")
_COUNTERS = (
    "calls",
    "answered",
    "throttled",
    "throttled_429",
    "max_cost_refusals",
    "graphql_errors",
    "unauthorized",
    "down_answers",
    "tokens_issued",
    "token_refusals",
    "requested_cost",
    "actual_cost",
    "changed_prices",
    "changed_stock",
    "deleted",
)


class CostBucket:
    """The app's leaky bucket: ``maximum`` points, restored at ``restore_rate`` a second of ``clock``."""

    def __init__(self, maximum: float, restore_rate: float, clock: Callable[[], float]) -> None:
        self.maximum, self.restore_rate, self._clock = float(maximum), float(restore_rate), clock
        self.available = self.maximum
        self._at = clock()

    def restore(self) -> None:
        now = self._clock()
        self.available = min(self.maximum, self.available + (now - self._at) * self.restore_rate)
        self._at = now

    def status(self) -> dict[str, Any]:
        """``throttleStatus`` as the API reports it."""
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": int(self.available),
            "restoreRate": self.restore_rate,
        }


def _positive(name: str, value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number")
    return float(value)


class ShopifyState:
    """One simulated shop of ``variants`` variants from ``seed`` (see shopify_catalogue), its credentials
    (the access ``token``; ``client_id``/``client_secret`` that buy more tokens) and its cost bucket."""

    def __init__(
        self,
        variants: int = 60,
        seed: int = 7,
        *,
        token: str = "shpat_sandbox_token",
        client_id: str = "sandbox-client-id",
        client_secret: str = "shpss_sandbox_secret",
        extra_locations: int = 10,
        maximum_available: float = 2000.0,
        restore_rate: float = 100.0,
        throttle_as_429: bool = False,
        lock: threading.RLock | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = lock or threading.RLock()
        self.seed = seed
        self.shop = generate_shop(variants, seed, extra_locations=extra_locations)
        self.token, self.client_id, self.client_secret = token, client_id, client_secret
        self.bucket = CostBucket(
            _positive("maximum_available", maximum_available), _positive("restore_rate", restore_rate), clock
        )
        self.throttle_as_429, self.down, self.refuse_credentials = throttle_as_429, False, False
        self.deleted: set[int] = set()
        self._issued: set[str] = set()
        self._serial = itertools.count(1)
        self._rng = random.Random(seed * 31 + 5)
        self.reset_stats()

    # ----- knobs and credentials ---------------------------------------------------------------------
    def knobs(self) -> dict[str, Any]:
        with self.lock:
            return {
                "maximum_available": self.bucket.maximum,
                "restore_rate": self.bucket.restore_rate,
                "throttle_as_429": self.throttle_as_429,
                "down": self.down,
                "refuse_credentials": self.refuse_credentials,
                "currently_available": int(self.bucket.available),
            }

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change knobs (KNOBS); ValueError for an unknown one or a wrong value, nothing changed then."""
        unknown = set(changes) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown Shopify knobs: {sorted(unknown)} (known: {', '.join(KNOBS)})")
        numbers = {k: _positive(k, v) for k, v in changes.items() if k in KNOBS[:2]}
        flags = {k: v for k, v in changes.items() if k not in numbers}
        if not all(isinstance(v, bool) for v in flags.values()):
            raise ValueError(f"{', '.join(flags)} must be true or false")
        with self.lock:
            self.bucket.restore()
            if "maximum_available" in numbers:
                self.bucket.maximum = numbers["maximum_available"]
                self.bucket.available = min(self.bucket.available, self.bucket.maximum)
            self.bucket.restore_rate = numbers.get("restore_rate", self.bucket.restore_rate)
            for name, value in flags.items():
                setattr(self, name, value)
            return self.knobs()

    def accepts(self, token: str | None) -> bool:
        """Whether ``token`` is the shop's access token or one it issued (and credentials are not refused)."""
        given = (token or "").encode("utf-8", "surrogateescape")
        with self.lock:
            if self.refuse_credentials or not given:
                return False
            known = [self.token, *self._issued]
            return any(hmac.compare_digest(given, t.encode()) for t in known)

    def issue_token(self, client_id: str | None, client_secret: str | None) -> str | None:
        """A new token for the right client credentials (None, counted, for wrong ones)."""
        with self.lock:
            right = (
                not self.refuse_credentials
                and hmac.compare_digest((client_id or "").encode(), self.client_id.encode())
                and hmac.compare_digest((client_secret or "").encode(), self.client_secret.encode())
            )
            if not right:
                self.note("token_refusals")
                return None
            token = f"shpca_sim_{self.seed}_{next(self._serial)}"
            self._issued.add(token)
            self.note("tokens_issued")
            return token

    def expire_tokens(self) -> int:
        """Forget every issued token (the next call with one gets a 401); how many there were."""
        with self.lock:
            count, self._issued = len(self._issued), set()
            return count

    # ----- changes -----------------------------------------------------------------------------------
    def variant_ids(self) -> list[str]:
        """The live variants' gids, by number."""
        with self.lock:
            return [gid("ProductVariant", n) for n in sorted(self.shop.variants)]

    def _chosen(self, ids: Sequence[str] | None, count: int | None, rng: random.Random) -> list[Variant]:
        if ids is not None:
            numbers = [int(i.rsplit("/", 1)[-1]) if isinstance(i, str) else i for i in ids]
            return [self.shop.variants[n] for n in numbers if n in self.shop.variants]
        live = sorted(self.shop.variants)
        return [self.shop.variants[n] for n in rng.sample(live, min(max(0, count or 0), len(live)))]

    def change(
        self,
        ids: Sequence[str] | None = None,
        *,
        count: int | None = None,
        fields: Sequence[str] = CHANGE_FIELDS,
        seed: int | None = None,
    ) -> list[str]:
        """Change the variants ``ids`` (gids) or ``count`` random ones: ``price`` (a new price and maybe
        compare-at price; updatedAt = now) and/or ``stock`` (a new available quantity at an active location
        it is stocked at, that level's updated_at = now; the variant's updatedAt is left as it was).
        Returns the changed gids."""
        wrong = set(fields) - set(CHANGE_FIELDS)
        if wrong or not fields:
            raise ValueError(f"fields must be among {CHANGE_FIELDS}, not {sorted(wrong) or 'none'}")
        with self.lock:
            rng = random.Random(seed) if seed is not None else self._rng
            chosen = self._chosen(ids, count, rng)
            now = now_utc()
            for variant in chosen:
                if "price" in fields:
                    variant.price = (variant.price + Decimal(rng.randrange(1, 500)) / 100).quantize(CENT)
                    sale = rng.random() < 0.3
                    variant.compare_at = (variant.price * Decimal("1.25")).quantize(CENT) if sale else None
                    variant.updated_at = now
                    self.note("changed_prices")
                if "stock" in fields:
                    active = [lv for lv in variant.levels.values() if self.shop.locations[lv.location].active]
                    if not active:
                        continue
                    level = rng.choice(active)
                    level.available = (level.available + rng.randrange(1, 30)) % 60
                    level.updated_at = now
                    self.note("changed_stock")
            return [gid("ProductVariant", v.number) for v in chosen]

    def delete(self, ids: Sequence[str] | None = None, *, count: int | None = None) -> list[str]:
        """Delete the variants ``ids`` (gids) or ``count`` random ones; returns the deleted gids."""
        with self.lock:
            gone = [v.number for v in self._chosen(ids, count, self._rng)]
            for number in gone:
                self.shop.remove(number)
                self.deleted.add(number)
            self.note("deleted", len(gone))
            return [gid("ProductVariant", n) for n in gone]

    # ----- traffic -----------------------------------------------------------------------------------
    def note(self, counter: str, amount: int = 1) -> None:
        with self.lock:
            self._counters[counter] += amount

    def note_status(self, status: int) -> None:
        with self.lock:
            self._statuses[str(status)] += 1

    def stats(self) -> dict[str, Any]:
        """Calls, answers by status, THROTTLED answers (throttled, of which as 429: throttled_429),
        MAX_COST_EXCEEDED refusals, costs requested and spent, 401s, tokens, changes, the bucket."""
        with self.lock:
            data: dict[str, Any] = dict(self._counters)
            data["statuses"] = dict(self._statuses)
            data["live_variants"] = len(self.shop.variants)
            data["bucket"] = self.bucket.status()
            return data

    def reset_stats(self) -> None:
        """Zero the traffic counters (the shop and the bucket are untouched)."""
        with self.lock:
            self._counters: Counter[str] = Counter(dict.fromkeys(_COUNTERS, 0))
            self._statuses: Counter[str] = Counter()

    # ----- the oracle --------------------------------------------------------------------------------
    def oracle(self) -> list[dict[str, Any]]:
        """The inventory rows a correct full read holds, one per live variant by number: product_id,
        variant_id (gids), sku (None for none or empty), title ("Product / Variant", the product's alone for
        "Default Title"), price and compare_at_price (decimal strings such as "10.00"; None when no sale),
        stock (available summed over active locations; None when untracked) and managed (tracked)."""
        with self.lock:
            return [self._row(self.shop.variants[n]) for n in sorted(self.shop.variants)]

    def _row(self, variant: Variant) -> dict[str, Any]:
        locations = self.shop.locations
        stock = sum(lv.available for lv in variant.levels.values() if locations[lv.location].active)
        title = variant.product.title
        return {
            "product_id": gid("Product", variant.product.number),
            "variant_id": gid("ProductVariant", variant.number),
            "sku": variant.sku or None,
            "title": title if variant.title == "Default Title" else f"{title} / {variant.title}",
            "price": str(variant.price),
            "compare_at_price": None if variant.compare_at is None else str(variant.compare_at),
            "stock": stock if variant.tracked else None,
            "managed": variant.tracked,
        }


def shopify_oracle(state: ShopifyState) -> list[dict[str, Any]]:
    """The rows a correct full sync of ``state``'s shop holds (see :meth:`ShopifyState.oracle`)."""
    return state.oracle()
