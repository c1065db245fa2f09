"""Fakes that record what happened, for pipeline tests without HTTP (cosmicpython style)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sync_core.models import (
    CataloguePage,
    NewProduct,
    PageRequest,
    SourcePage,
    StoreVariant,
    SupplierProduct,
    SupplierVariant,
    Write,
    WriteOutcome,
)


@dataclass
class FakeStore:
    """A Target holding variants in a dict; ``refuse`` lists target keys whose writes fail; ``garble`` those
    whose writes land but are answered as failures (a proxy's error page). ``holds`` is what the catalogue
    shows: (target key, kind) → value, kept up to date by the writes that land."""

    variants: dict[str, StoreVariant]
    refuse: set[str] = field(default_factory=set)
    garble: set[str] = field(default_factory=set)
    holds: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    applied: list[Write] = field(default_factory=list)
    created: list[NewProduct] = field(default_factory=list)
    name: str = "sazito"
    write_kinds: frozenset[str] = frozenset({"price", "stock"})

    def check(self) -> None:
        return None

    def read_catalogue_page(self, number: int) -> CataloguePage:
        return CataloguePage(
            number=number, variants=list(self.variants.values()) if number == 0 else [], next=None
        )

    def current_values(self, variant: StoreVariant) -> dict[str, dict[str, object]]:
        return {kind: value for (key, kind), value in self.holds.items() if key == variant.id}

    def apply(
        self, writes: Sequence[Write], on_outcome: Callable[[WriteOutcome], None] | None = None
    ) -> WriteOutcome:
        outcome = WriteOutcome()
        for write in writes:
            if write.target_key in self.refuse:
                outcome.failed.append((write, "RejectedByStore", f"variant {write.target_key} refused"))
                continue
            self.applied.append(write)
            self.holds[(write.target_key, write.kind)] = write.value
            if write.target_key in self.garble:
                outcome.failed.append(
                    (write, "TransientError", "answered HTTP 200 with a body that is not JSON")
                )
            else:
                outcome.succeeded.append(write)
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    def apply_one(self, write: Write) -> None:
        self.applied.append(write)
        self.holds[(write.target_key, write.kind)] = write.value

    def create_product(self, product: NewProduct) -> dict[str, str]:
        self.created.append(product)
        return {key: f"new-{key}" for key, _ in product.variants}

    def close(self) -> None:
        return None


def supplier_product(key: str = "p1", title: str = "Cotton T-Shirt", **variant: Any) -> SupplierProduct:
    values: dict[str, Any] = {
        "key": f"{key}-v1",
        "attributes": {"color": "Red", "size": "L"},
        "price": 1000,
        "label_price": None,
        "stock": 5,
    }
    values.update(variant)
    return SupplierProduct(
        key=key,
        title=title,
        status="active",
        resell_status="approved",
        has_active_shipment=True,
        updated_at=None,
        variants=(SupplierVariant(**values),),
    )


def page_of(*products: SupplierProduct) -> SourcePage:
    return SourcePage(request=PageRequest(), products=list(products), rejects=[], next=None)


def store_variant(
    vid: str, sku: str | None, name: str = "Cotton T-Shirt", title: str = "Red / L"
) -> StoreVariant:
    return StoreVariant(id=vid, product_id="1", product_name=name, title=title, sku=sku)
