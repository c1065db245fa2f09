"""An oracle, independent of the engine, that checks a sandbox store against the sazito.md value rules.

It reads the live `SandboxState` and imports nothing from sync_core outside the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sync_core.sandbox.records import paused_gc, product_key
from sync_core.sandbox.rules import VariantValues, expected_values, product_available, variant_is_well_formed
from sync_core.sandbox.state import SandboxState


@dataclass
class VerifyReport:
    """Linked store variants that are correct, those that are wrong, and supplier variants with no link."""

    correct: int = 0
    wrong: list[tuple[int, VariantValues, VariantValues]] = field(default_factory=list)
    unlinked: int = 0

    @property
    def ok(self) -> bool:
        """True when no linked variant is wrong."""
        return not self.wrong

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (the first 20 wrong variants are listed)."""
        wrong = [
            {"variant_id": vid, "expected": exp._asdict(), "actual": act._asdict()}
            for vid, exp, act in self.wrong[:20]
        ]
        return {
            "ok": self.ok,
            "correct": self.correct,
            "wrong_count": len(self.wrong),
            "wrong": wrong,
            "unlinked": self.unlinked,
        }


def _pairs(
    state: SandboxState,
    multiplier: Decimal,
    markup_percent: Decimal,
) -> tuple[list[tuple[int, VariantValues, VariantValues]], int]:
    """(store variant id, expected, actual) for every checkable linked variant, and the unlinked count."""
    cat = state.catalogue
    by_sku: dict[str, list[int]] = {}
    for variant in cat.store_variants.values():
        if variant.sku is not None:
            by_sku.setdefault(variant.sku, []).append(variant.id)
    pairs: list[tuple[int, VariantValues, VariantValues]] = []
    unlinked = 0
    for product in cat.supplier_products:
        if product_key(product) in cat.broken_products:
            continue  # quarantined by the engine: never written, never checked
        available = product_available(product)
        for variant in product["variants"]:
            if not variant_is_well_formed(variant):
                continue
            linked = by_sku.get(variant["_id"], [])
            unlinked += not linked
            expected = expected_values(product, variant, multiplier, markup_percent, available)
            pairs += [(vid, expected, cat.store_variants[vid].values()) for vid in linked]
    return pairs, unlinked


def verify_store(
    state: SandboxState, multiplier: Decimal = Decimal(1), markup_percent: Decimal = Decimal(0)
) -> VerifyReport:
    """Compare every linked store variant (sku = an Anar360 variant `_id`) with its correct values."""
    with state.lock, paused_gc():
        pairs, unlinked = _pairs(state, Decimal(multiplier), Decimal(markup_percent))
    report = VerifyReport(unlinked=unlinked)
    for vid, expected, actual in pairs:
        if expected == actual:
            report.correct += 1
        else:
            report.wrong.append((vid, expected, actual))
    return report


def expected_writes(
    state: SandboxState, multiplier: Decimal = Decimal(1), markup_percent: Decimal = Decimal(0)
) -> int:
    """How many variant aspects (price, stock) differ from the correct values right now."""
    with state.lock, paused_gc():
        pairs, _ = _pairs(state, Decimal(multiplier), Decimal(markup_percent))
    count = 0
    for _, expected, actual in pairs:
        count += expected[:2] != actual[:2]
        count += expected[2:] != actual[2:]
    return count
