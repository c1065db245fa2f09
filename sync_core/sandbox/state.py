"""The live, thread-safe state of a sandbox: the catalogues, run-time knobs, counters and the write hold."""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from sync_core.sandbox.catalogue import (
    Catalogue,
    SandboxConfig,
    StoreProduct,
    StoreVariant,
    generate_catalogue,
    mutate_supplier,
    now_ms,
)
from sync_core.sandbox.ingram_state import IngramState
from sync_core.sandbox.ploomes_state import PLOOMES_KNOBS, PloomesState, check_ploomes_knob
from sync_core.sandbox.shopify_state import ShopifyState
from sync_core.sandbox.traffic import TrafficShaper
from sync_core.sandbox.woo_state import WooState

T = TypeVar("T")
INGRAM_KNOBS = (
    "ingram_token_ttl_s",
    "ingram_token_expires_in",
    "ingram_nested_pricing",
    "ingram_token_rate_per_min",
    "ingram_pna_rate_per_min",
    "ingram_details_rate_per_min",
    "ingram_maintenance_s",
)
RUNTIME_KNOBS = frozenset(
    {
        "latency_ms",
        "fault_rate",
        "rate_limit",
        "burst_429_every",
        "burst_429_length",
        "hold_writes_after",
        "rejected_fraction",
        "html_answer_fraction",
        "anar360_stuck_page",
        "envelope",
        *INGRAM_KNOBS,
        *PLOOMES_KNOBS,
    }
)
_COUNTERS = (
    "faults_injected",
    "throttled_429",
    "variant_writes",
    "noop_writes",
    "relative_writes",
    "write_calls",
    "created_products",
    "created_variants",
    "merchant_writes",
    "abandoned_writes",
    "held_writes_total",
)


class SandboxState:
    """Both catalogues and every counter, guarded by one re-entrant lock (`self.lock`)."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = dataclasses.replace(config) if config else SandboxConfig()
        self.catalogue: Catalogue = generate_catalogue(self.config)
        self.lock = threading.RLock()
        self.ingram = IngramState(self.config, self.lock)
        self.ploomes = PloomesState(self.config, self.lock)  # the Ploomes simulator's products and traffic
        self.woo = WooState(variants=self.config.woo_variants, seed=self.config.seed, lock=self.lock)
        self.shopify = ShopifyState(
            variants=self.config.shopify_variants,
            seed=self.config.seed,
            maximum_available=self.config.shopify_bucket_max,
            restore_rate=self.config.shopify_restore_rate,
            lock=self.lock,
        )
        self._hold_after: int | None = None
        self._hold_base = 0
        self._mutate_rng = random.Random(self.config.seed * 104729 + 3)
        self._rejected: set[int] = set()
        self._set_rejected(self.config.rejected_fraction)
        self.traffic = TrafficShaper(self.config.seed, self.config.rate_limit)
        self._bulk_answers = 0
        self._applied_write_calls = 0
        self.waiting_writes = 0
        self.closing = False
        self.fever_fetches = 0  # feed answers served; never reset, as it drives the feed's content
        self.reset_stats()

    # ----- knobs -------------------------------------------------------------------------------------
    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change run-time knobs (see RUNTIME_KNOBS); raises ValueError on an unknown knob or bad value."""
        unknown = set(changes) - RUNTIME_KNOBS
        if unknown:
            raise ValueError(f"unknown knobs: {sorted(unknown)}")
        for name, value in changes.items():
            check_ploomes_knob(name, value)
            fractions = ("fault_rate", "rejected_fraction", "html_answer_fraction", "ingram_nested_pricing")
            if name in fractions and not _is_number(value, upper=1.0):
                raise ValueError(f"{name} must be a number in [0, 1]")
            if name in ("latency_ms", "rate_limit", "ingram_token_ttl_s", "ingram_maintenance_s") and not (
                _is_number(value)
            ):
                raise ValueError(f"{name} must be a non-negative number")
            integers = ("anar360_stuck_page", "ingram_token_expires_in")
            if (name.startswith("burst_") or name.endswith("_per_min") or name in integers) and not (
                _is_number(value) and isinstance(value, int)
            ):
                raise ValueError(f"{name} must be a non-negative integer")
        hold = changes.pop("hold_writes_after", ...)
        with self.lock:
            candidate = dataclasses.replace(self.config, **changes)  # re-runs the config's validation
            if hold is not ...:
                self.hold_writes(hold)
            self.config = self.ingram.config = self.ploomes.config = candidate
            if "ingram_maintenance_s" in changes:
                self.ingram.start_maintenance(candidate.ingram_maintenance_s)
            if "rejected_fraction" in changes:
                self._set_rejected(candidate.rejected_fraction)
            if "rate_limit" in changes:
                self.traffic.reset_bucket(candidate.rate_limit)
            if "burst_429_every" in changes or "burst_429_length" in changes:
                self.traffic.reset_burst()
            return self.knobs()

    def knobs(self) -> dict[str, Any]:
        """The current value of every run-time knob."""
        with self.lock:
            data = {k: getattr(self.config, k) for k in RUNTIME_KNOBS if k != "hold_writes_after"}
            data["hold_writes_after"] = self._hold_after
            return data

    @property
    def hold_writes_after(self) -> int | None:
        """The write hold: once this many write calls have been applied (since it was set), writes block."""
        return self._hold_after

    @hold_writes_after.setter
    def hold_writes_after(self, after: int | None) -> None:
        self.hold_writes(after)

    def hold_writes(self, after: int | None) -> None:
        """Block write calls once `after` more write calls have been applied from now; None lifts the hold."""
        if after is not None and (not isinstance(after, int) or isinstance(after, bool) or after < 0):
            raise ValueError("hold_writes_after must be a non-negative integer or null")
        with self.lock:
            self._hold_after, self._hold_base = after, self._applied_write_calls

    def release_writes(self) -> None:
        """Lift the write hold: held calls proceed (unless their client has gone)."""
        self.hold_writes(None)

    def _set_rejected(self, fraction: float) -> None:
        order = self.catalogue.link_order
        self._rejected = set(order[: round(len(order) * fraction)])

    def is_rejected(self, variant_id: int) -> bool:
        """True when the store always refuses writes to this variant (rejected_fraction)."""
        with self.lock:
            return variant_id in self._rejected

    # ----- traffic shaping ---------------------------------------------------------------------------
    def record_request(self, key: str) -> None:
        """Count one request under `key` ("api METHOD /route/template")."""
        with self.lock:
            self._requests[key] += 1

    def record_status(self, status: int) -> None:
        """Count one answered status code."""
        with self.lock:
            self._statuses[str(status)] += 1

    def note_throttled(self) -> None:
        """Count a 429 a simulator sent on its own (a per-endpoint limit), outside `admit`."""
        with self.lock:
            self._counters["throttled_429"] += 1

    def admit(self, api: str = "") -> tuple[int, dict[str, str]] | None:
        """``api``'s rate limit, then 429 bursts, then faults: None to serve the request, else (status,
        headers)."""
        with self.lock:
            cfg = self.config
            wait = self.traffic.take_token(cfg.rate_limit, api)
            retry_after = str(wait) if wait is not None else None
            if retry_after is None:
                retry_after = self.traffic.burst_slot(cfg.burst_429_every, cfg.burst_429_length)
            if retry_after is not None:
                self._counters["throttled_429"] += 1
                return 429, {"Retry-After": retry_after}
            fault = self.traffic.fault_roll(cfg.fault_rate)
            if fault is not None:
                self._counters["faults_injected"] += 1
                return fault, {}
            return None

    def next_envelope(self) -> str:
        """The shape of the next bulk answer: the configured one, or a rotation when "mixed"."""
        with self.lock:
            if self.config.envelope != "mixed":
                return self.config.envelope
            self._bulk_answers += 1
            return ("wrapped", "flat", "bare")[(self._bulk_answers - 1) % 3]

    # ----- writes ------------------------------------------------------------------------------------
    def try_write(
        self,
        apply: Callable[[], T],
        applied: Callable[[T], bool] = lambda _: True,
    ) -> tuple[bool, T | None]:
        """Run `apply` as one write call unless the hold is on; (False, None) means held, nothing applied.

        The call counts as applied (for stats and the hold) when `applied(result)` is true.
        """
        with self.lock:
            held_at = self._hold_after
            if held_at is not None and self._applied_write_calls - self._hold_base >= held_at:
                return False, None
            result = apply()
            if applied(result):
                self._applied_write_calls += 1
                self._counters["write_calls"] += 1
            return True, result

    def _count_write(self, variant: StoreVariant, noop: bool) -> None:
        self._counters["variant_writes"] += 1
        self._counters["noop_writes"] += int(noop)
        self._counters["merchant_writes"] += int(variant.id in self.catalogue.merchant_variant_ids)
        self._per_variant[variant.id] += 1

    def _writable(self, variant_id: int) -> StoreVariant | str:
        """The variant a write may change, or why not ("unknown", "rejected"); call with the lock held."""
        variant = self.catalogue.store_variants.get(variant_id)
        if variant is None:
            return "unknown"
        return "rejected" if variant_id in self._rejected else variant

    def write_price(self, variant_id: int, price: int, discount: int | None, keep_discount: bool) -> str:
        """Apply one price write; returns "ok", "unknown", "rejected" or "invalid" (nothing applied)."""
        with self.lock:
            variant = self._writable(variant_id)
            if isinstance(variant, str):
                return variant
            if keep_discount:
                discount = variant.discount_price
            if price < 0 or (discount is not None and (discount < 0 or discount >= price)):
                return "invalid"
            noop = (variant.price, variant.discount_price) == (price, discount)
            variant.price, variant.discount_price = price, discount
            self._count_write(variant, noop)
            return "ok"

    def write_stock(self, variant_id: int, managed: bool, stock: int | None, relative: bool = False) -> str:
        """Apply one stock write (absolute, or relative to the current stock); returns like write_price."""
        with self.lock:
            variant = self._writable(variant_id)
            if isinstance(variant, str):
                return variant
            if relative and managed and stock is not None:
                stock = (variant.stock_number or 0) + stock
                self._counters["relative_writes"] += 1
            if managed and (stock is None or stock < 0):
                return "invalid"
            before = variant.values()
            variant.is_stock_managed = managed
            if stock is not None or managed:
                variant.stock_number = stock
            self._count_write(variant, variant.values() == before)
            return "ok"

    def create_product(
        self, name: str, product_type: str, description: str, variants: list[dict[str, Any]]
    ) -> StoreProduct:
        """Create a store product with fresh integer ids; `variants` are already validated."""
        with self.lock:
            cat = self.catalogue
            product = StoreProduct(
                cat.next_product_id, name, name.lower().replace(" ", "-"), [], product_type, description
            )
            cat.next_product_id += 1
            for i, spec in enumerate(variants):
                managed = bool(spec.get("is_stock_managed", True))
                variant = StoreVariant(
                    cat.next_variant_id,
                    product.id,
                    spec.get("sku"),
                    spec.get("title") or f"Variant {i + 1}",
                    spec["price"],
                    spec.get("discount_price"),
                    managed,
                    spec.get("stock_number"),
                )
                cat.next_variant_id += 1
                cat.store_variants[variant.id] = variant
                product.variant_ids.append(variant.id)
                self._count_write(variant, noop=False)
                self._counters["created_variants"] += 1
            cat.store_products[product.id] = product
            self._counters["created_products"] += 1
            return product

    def note_abandoned_write(self) -> None:
        """Count a held write whose client went away before the hold was lifted."""
        with self.lock:
            self._counters["abandoned_writes"] += 1

    def note_waiting(self, delta: int) -> None:
        """Track how many write calls are blocked by the hold right now."""
        with self.lock:
            self.waiting_writes += delta
            if delta > 0:
                self._counters["held_writes_total"] += delta

    # ----- supplier side -----------------------------------------------------------------------------
    def mutate(self, n_variants: int, seed: int | None = None) -> list[str]:
        """Change price and/or stock of up to n distinct linked, well-formed supplier variants.

        Each changed variant's product gets updatedAt = now (UTC). Returns the changed variant `_id`s.
        """
        with self.lock:
            rng = random.Random(seed) if seed is not None else self._mutate_rng
            chosen = mutate_supplier(self.catalogue, rng, n_variants, now_ms())
            self._counters["mutations"] += len(chosen)
            return chosen

    def change_ingram(self, n_parts: int, seed: int | None = None) -> list[str]:
        """Change price and/or stock of n distinct Ingram parts (seeded); returns their part numbers."""
        return self.ingram.change(n_parts, seed)

    @property
    def ingram_parts(self) -> list[str]:
        """Every part number the Ingram simulator knows, in a stable order."""
        return self.ingram.parts

    def next_fever_fetch(self) -> int:
        """Count one Fever feed answer and return its fetch number (1, 2, 3, ...)."""
        with self.lock:
            self.fever_fetches += 1
            return self.fever_fetches

    # ----- stats -------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counters since the last reset (fever_fetches: since start): requests, statuses, faults, writes."""
        with self.lock:
            data: dict[str, Any] = dict(self._counters)
            data["requests_total"] = sum(self._requests.values())
            data["requests"] = dict(self._requests)
            data["statuses"] = dict(self._statuses)
            data["variant_write_counts"] = dict(self._per_variant)
            data["waiting_writes"] = self.waiting_writes
            data["fever_fetches"] = self.fever_fetches
            data["ingram"] = self.ingram.stats()
            data["ploomes"] = self.ploomes.stats()
            data["woocommerce"] = self.woo.stats()
            data["shopify"] = self.shopify.stats()
            return data

    def reset_stats(self) -> None:
        """Zero every counter (the catalogues and knobs are untouched)."""
        with self.lock:
            self._requests: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._per_variant: Counter[int] = Counter()
            self._counters: Counter[str] = Counter({k: 0 for k in (*_COUNTERS, "mutations")})
            self.ingram.reset_stats()
            self.ploomes.reset_stats()
            self.woo.reset_stats()
            self.shopify.reset_stats()


def _is_number(value: Any, upper: float | None = None) -> bool:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return ok and (upper is None or value <= upper)
