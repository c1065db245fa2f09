"""Fakes that record what happened, for pipeline tests without HTTP (cosmicpython style)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sync_core import errors
from sync_core.connectors.anar360 import SupplierProduct, SupplierVariant
from sync_core.errors import RejectedByStore
from sync_core.models import (
    CatalogueItem,
    CataloguePage,
    FailedWrite,
    NewProduct,
    PageRequest,
    SourcePage,
    Write,
    WriteOutcome,
)


class FakeTime:
    """A clock that moves when slept on (or when a test sets ``now``); every sleep is kept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class FakeStore:
    """A target (Writer, CatalogueReader, Replayer, Creator) holding catalogue items in a dict; ``refuse``
    lists target keys whose writes fail; ``garble`` those whose writes land but are answered as failures (a
    proxy's error page). ``holds`` is what the catalogue shows: (target key, kind) → value, kept up to date by
    the writes that land; an item read back holds those values."""

    variants: dict[str, CatalogueItem]
    refuse: set[str] = field(default_factory=set)
    garble: set[str] = field(default_factory=set)
    holds: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    applied: list[Write] = field(default_factory=list)
    created: list[NewProduct] = field(default_factory=list)
    provider: str = "sazito"
    write_kinds: frozenset[str] = frozenset({"price", "stock"})

    def check(self, *, reuse_s: float = 0.0) -> None:
        return None

    def read_catalogue_page(self, number: int) -> CataloguePage:
        items = [replace(item, holds=self._held(item.key)) for item in self.variants.values()]
        return CataloguePage(number=number, items=items if number == 0 else [], next=None)

    def _held(self, key: str) -> dict[str, dict[str, Any]]:
        return {kind: value for (item, kind), value in self.holds.items() if item == key}

    def apply(
        self, writes: Sequence[Write], on_outcome: Callable[[WriteOutcome], None] | None = None
    ) -> WriteOutcome:
        outcome = WriteOutcome()
        for write in writes:
            if write.target_key in self.refuse:
                message = f"variant {write.target_key} refused"
                outcome.failed.append(FailedWrite(write, RejectedByStore, message))
                continue
            self.applied.append(write)
            self.holds[(write.target_key, write.kind)] = write.value
            if write.target_key in self.garble:
                message = "answered HTTP 200 with a body that is not JSON"
                outcome.failed.append(FailedWrite(write, errors.TransientError, message))
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
    return SourcePage(request=PageRequest(), records=list(products), rejects=[], next=None)


def store_variant(
    vid: str, sku: str | None, name: str = "Cotton T-Shirt", title: str = "Red / L"
) -> CatalogueItem:
    """A catalogue item of the store (it holds nothing until a write lands, see FakeStore.holds)."""
    return CatalogueItem(key=vid, product_key="1", sku=sku, product_name=name, title=title)
