"""The sandbox's data model: its configuration, the Sazito store records and the catalogue container."""

from __future__ import annotations

import bisect
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sync_core.sandbox.fever_feed import FeverFeedConfig
from sync_core.sandbox.rules import VariantValues

DAY_MS = 86_400_000
ENVELOPES = ("wrapped", "flat", "bare", "mixed")


def knob(default: Any, help: str) -> Any:
    """A SandboxConfig field with its help text (shown by `catalog-sync sandbox --help`)."""
    return field(default=default, metadata={"help": help})


@dataclass
class SandboxConfig:
    """Knobs of the simulated providers; those in state.RUNTIME_KNOBS can change at run time."""

    products: int = knob(200, "Anar360 products")
    variants: int = knob(3, "variants per product")
    seed: int = knob(1, "drives every random choice (catalogues, faults, mutations)")
    latency_ms: float = knob(0, "added to every API call")
    fault_rate: float = knob(0.0, "fraction of API calls answered 500/502/503 before doing anything")
    rate_limit: float = knob(
        0.0, "requests/s each API allows (its own token bucket), 0 = unlimited; excess gets 429"
    )
    burst_429_every: int = knob(
        0, "after every N served requests, answer the next burst-429-length with 429 (0: never)"
    )
    burst_429_length: int = knob(
        0,
        "requests answered 429 after each burst-429-every (Retry-After alternates seconds and an HTTP date)",
    )
    rejected_fraction: float = knob(0.0, "linked Sazito variants whose writes always fail")
    html_answer_fraction: float = knob(
        0.0, "bulk write calls applied, then answered HTTP 200 with an HTML page (a proxy's error page)"
    )
    envelope: str = knob("wrapped", "bulk answer shape: wrapped | flat | bare | mixed (rotates)")
    anar360_stuck_page: int = knob(
        0,
        "from this Anar360 page on, serve that page again and again with a total that keeps growing (0: off)",
    )
    bad_record_fraction: float = knob(0.0, "Anar360 products served with one broken variant")
    in_sync_fraction: float = knob(
        0.15, "linked store variants that start with the correct values (m=1, k=0)"
    )
    unlinked_fraction: float = knob(0.05, "Anar360 products with no Sazito counterpart")
    merchant_products: int = knob(5, "Sazito products with no or a non-supplier sku")
    anar360_token: str = knob("sandbox-token", "Anar360 bearer token the sandbox accepts")
    sazito_key: str = knob("sandbox-key", "Sazito X-API-KEY the sandbox accepts")
    anar360_max_limit: int = knob(100, "server cap on Anar360 `limit`")
    sazito_max_page_size: int = knob(100, "server cap on Sazito `page_size`")
    fever_base_plans: int = knob(200, "base plans in the Fever feed (/fever/api/events), at least 6")
    fever_plans_per_base: int = knob(2, "plans per Fever base plan")
    fever_zones_per_plan: int = knob(3, "zones per Fever plan, at least 2")
    ingram_parts: int = knob(
        1000, "Ingram Micro part numbers the sandbox knows (others are unknown: 207/404)"
    )
    ingram_client_id: str = knob("sandbox-client", "Ingram client id the token endpoint accepts")
    ingram_client_secret: str = knob(
        "sandbox-client-secret", "Ingram client secret the token endpoint accepts"
    )
    ingram_customer_number: str = knob("20-222222", "IM-CustomerNumber the Ingram catalog accepts (<= 10)")
    ingram_token_ttl_s: float = knob(86399.0, "lifetime of an Ingram token; an expired one gets 401")
    ingram_token_expires_in: int = knob(
        0, "expires_in an Ingram token answer claims, in seconds (0: its real lifetime, rounded up)"
    )
    ingram_nested_pricing: float = knob(
        0.0, "share of 200 Ingram P&A answers with pricing inside availability (207 answers always nest it)"
    )
    ingram_token_rate_per_min: int = knob(0, "Ingram token calls a minute before 429 (0: unlimited)")
    ingram_pna_rate_per_min: int = knob(
        0, "Ingram price-and-availability calls a minute before 429 (0: unlimited)"
    )
    ingram_details_rate_per_min: int = knob(0, "Ingram details calls a minute before 429 (0: unlimited)")
    ingram_maintenance_s: float = knob(
        0.0, "answer every Ingram call 503 (maintenance window) for this many seconds from start or when set"
    )
    ploomes_products: int = knob(300, "Ploomes CRM products")
    ploomes_user_key: str = knob("sandbox-user-key", "Ploomes User-Key the sandbox accepts")
    ploomes_webhook_key: str = knob(
        "sandbox-webhook-key", "X-Ploomes-Validation-Key of the Ploomes webhook deliveries the sandbox sends"
    )
    ploomes_page_cap: int = knob(300, "most rows a Ploomes page serves, whatever $top asks (and when absent)")
    ploomes_next_link: bool = knob(
        True, "Ploomes pages that are not the last carry @odata.nextLink (false: clients page with $skip)"
    )
    ploomes_shared_dates: float = knob(
        0.3, "share of Ploomes products sharing their LastUpdateDate with others (one group of up to 400)"
    )
    ploomes_rate_limit_per_s: float = knob(
        0.0, "Ploomes requests a second before 429 with Retry-After in seconds (0: unlimited)"
    )
    ploomes_change_while_paging: int = knob(
        0, "Ploomes products changed (LastUpdateDate = now) as each products page is served"
    )
    woo_variants: int = knob(60, "WooCommerce store variants (simple products and variations)")
    shopify_variants: int = knob(60, "Shopify store variants")
    shopify_bucket_max: int = knob(2000, "Shopify cost bucket size (throttleStatus.maximumAvailable)")
    shopify_restore_rate: int = knob(
        100, "Shopify cost points restored a second (throttleStatus.restoreRate)"
    )

    def __post_init__(self) -> None:
        if self.envelope not in ENVELOPES:
            raise ValueError(f"envelope must be one of {ENVELOPES}, not {self.envelope!r}")
        if (
            min(self.woo_variants, self.shopify_variants) < 0
            or min(self.shopify_bucket_max, self.shopify_restore_rate) < 1
        ):
            raise ValueError(
                "woo_variants and shopify_variants must be >= 0, the Shopify bucket and rate >= 1"
            )
        if self.products < 0 or self.variants < 1:
            raise ValueError("products must be >= 0 and variants >= 1")
        for name in (
            "fault_rate",
            "rejected_fraction",
            "html_answer_fraction",
            "bad_record_fraction",
            "in_sync_fraction",
            "unlinked_fraction",
            "ingram_nested_pricing",
        ):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within [0, 1]")
        if min(self.latency_ms, self.rate_limit, self.burst_429_every, self.burst_429_length) < 0:
            raise ValueError("latency_ms, rate_limit and the burst knobs must be >= 0")
        if self.anar360_stuck_page < 0:
            raise ValueError("anar360_stuck_page must be >= 0")
        if self.anar360_max_limit < 1 or self.sazito_max_page_size < 1 or self.merchant_products < 0:
            raise ValueError("page caps must be >= 1 and merchant_products >= 0")
        self.fever_feed()  # refuses a feed too small to carry every quirk
        self._check_ingram()
        self._check_ploomes()

    def _check_ingram(self) -> None:
        limits = (
            self.ingram_token_rate_per_min,
            self.ingram_pna_rate_per_min,
            self.ingram_details_rate_per_min,
        )
        if min(self.ingram_parts, self.ingram_token_expires_in, self.ingram_maintenance_s, *limits) < 0:
            raise ValueError(
                "ingram_parts, ingram_token_expires_in, the Ingram rates and maintenance must be >= 0"
            )
        if self.ingram_token_ttl_s <= 0:
            raise ValueError("ingram_token_ttl_s must be > 0")
        if not 0 < len(self.ingram_customer_number) <= 10:
            raise ValueError("ingram_customer_number must be 1 to 10 characters")
        if not (self.ingram_client_id and self.ingram_client_secret):
            raise ValueError("ingram_client_id and ingram_client_secret must not be empty")

    def _check_ploomes(self) -> None:
        counts = (self.ploomes_products, self.ploomes_change_while_paging, self.ploomes_rate_limit_per_s)
        if min(counts) < 0 or self.ploomes_page_cap < 1:
            raise ValueError(
                "ploomes_products, ploomes_change_while_paging and ploomes_rate_limit_per_s must be >= 0, "
                "ploomes_page_cap >= 1"
            )
        if not 0 <= self.ploomes_shared_dates <= 1:
            raise ValueError("ploomes_shared_dates must be within [0, 1]")
        if not (self.ploomes_user_key and self.ploomes_webhook_key):
            raise ValueError("ploomes_user_key and ploomes_webhook_key must not be empty")

    def fever_feed(self) -> FeverFeedConfig:
        """The Fever feed these knobs describe (same seed); raises ValueError for sizes it refuses."""
        return FeverFeedConfig(
            base_plans=self.fever_base_plans,
            plans_per_base=self.fever_plans_per_base,
            zones_per_plan=self.fever_zones_per_plan,
            seed=self.seed,
        )


@dataclass
class StoreVariant:
    """One Sazito variant as the store holds it."""

    id: int
    product_id: int
    sku: str | None
    title: str
    price: int
    discount_price: int | None
    is_stock_managed: bool
    stock_number: int | None

    def to_json(self) -> dict[str, Any]:
        """The variant as `GET /products` serves it (without `product_id`)."""
        data = asdict(self)
        del data["product_id"]
        return data

    def values(self) -> VariantValues:
        """The four sync-relevant values; `stock_number` is None when unmanaged."""
        stock = self.stock_number if self.is_stock_managed else None
        return VariantValues(self.price, self.discount_price, self.is_stock_managed, stock)


@dataclass
class StoreProduct:
    """One Sazito product; its variants live in `Catalogue.store_variants`."""

    id: int
    name: str
    url: str
    variant_ids: list[int]
    product_type: str = "simple"
    description: str = ""


@dataclass
class Catalogue:
    """Both catalogues plus the indexes the simulators need; not thread-safe by itself."""

    supplier_products: list[dict[str, Any]]
    updated_ms: list[int]
    variant_index: dict[str, tuple[int, int]]
    broken_products: set[str]
    unlinked_products: set[str]
    store_products: dict[int, StoreProduct]
    store_variants: dict[int, StoreVariant]
    merchant_variant_ids: set[int]
    link_order: list[int]
    next_product_id: int
    next_variant_id: int
    product_index: dict[str, int] = field(default_factory=dict)
    by_updated: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.product_index = {product_key(p): i for i, p in enumerate(self.supplier_products)}
        self.by_updated = sorted((ms, i) for i, ms in enumerate(self.updated_ms))

    def window_start(self, threshold_ms: int) -> int:
        """Index in `by_updated` of the first product updated at or after `threshold_ms`."""
        return bisect.bisect_left(self.by_updated, (threshold_ms, -1))

    def touch(self, position: int, now_ms: int) -> None:
        """Set a supplier product's updatedAt to `now_ms`, keeping the sorted index in step."""
        old = (self.updated_ms[position], position)
        del self.by_updated[bisect.bisect_left(self.by_updated, old)]
        self.updated_ms[position] = now_ms
        self.supplier_products[position]["updatedAt"] = iso_ms(now_ms)
        bisect.insort(self.by_updated, (now_ms, position))


def product_key(product: dict[str, Any]) -> str:
    """The Anar360 product id, whether carried as `id` or `_id`."""
    return str(product.get("id") or product.get("_id"))


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as the API's `2025-11-20T09:30:12.345Z` form."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def now_ms() -> int:
    """The current UTC time in epoch milliseconds."""
    return int(datetime.now(UTC).timestamp() * 1000)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic GC while building or scanning a large catalogue (it otherwise triples the time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
