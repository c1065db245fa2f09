"""The guardrail: writes that would do damage on a supplier's bad day are kept back until the run's totals say
whether the day is bad (pure rules; sync_core.engine.held keeps the writes).

A pipeline declares a ``Guard``: which write kinds carry a stock and a price, and how to read them. While its
run goes on, a write that takes a stocked item to 0 or drops a price by more than GUARD_MAX_PRICE_DROP_PERCENT
is *suspicious*: it is parked, not sent; every other write goes as usual. When the run has read everything,
``verdict`` weighs the parked writes against what the target holds:

- more than GUARD_MAX_STOCK_ZEROED_PERCENT of the target's stocked items going to 0,
- such price drops on more than GUARD_MAX_PRICE_DROPS_PERCENT of its priced items,
- or, for a run that reads the complete listing, a listing more than GUARD_MAX_SOURCE_SHRINK_PERCENT shorter
  than the last complete read's,

trips it: the run ends ``held`` and its parked writes wait for `catalog-sync release` or `discard`. Otherwise
they are sent at once. A threshold of 100 turns its check off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sync_core.engine.plan import LedgerKey
from sync_core.models import Write

if TYPE_CHECKING:
    from sync_core.settings import Settings

STOCK_ZEROED, PRICE_DROP = "stock-zeroed", "price-drop"
Number = int | float | Decimal


@dataclass(frozen=True)
class Guard:
    """How a pipeline's writes show a stock and a price: the write kind of each (None: it writes none) and the
    number a value of that kind holds (None: not a number to guard, e.g. stock that is not managed)."""

    stock_of: Callable[[Mapping[str, Any]], Number | None]
    price_of: Callable[[Mapping[str, Any]], Number | None]
    stock_kind: str | None = "stock"
    price_kind: str | None = "price"
    complete_scopes: tuple[str, ...] = ("full",)  # run scopes that read the source's complete listing

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind in (self.stock_kind, self.price_kind) if kind)


@dataclass(frozen=True)
class Thresholds:
    """The GUARD_* settings, in percent."""

    stock_zeroed: float = 20
    price_drop: float = 50
    price_drops: float = 5
    source_shrink: float = 30

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(
            float(settings.guard_max_stock_zeroed_percent),
            float(settings.guard_max_price_drop_percent),
            float(settings.guard_max_price_drops_percent),
            float(settings.guard_max_source_shrink_percent),
        )


@dataclass(frozen=True, slots=True)
class Suspect:
    """A write kept back, why, and the value the target held before it."""

    write: Write
    reason: str
    before: dict[str, Any]


def suspicion(guard: Guard, limits: Thresholds, write: Write, before: Mapping[str, Any] | None) -> str | None:
    """Why ``write`` must wait (STOCK_ZEROED, PRICE_DROP), or None; ``before``: the value the target holds."""
    if before is None:
        return None
    if write.kind == guard.stock_kind:
        was, now = guard.stock_of(before), guard.stock_of(write.value)
        if was is not None and was > 0 and now is not None and now <= 0:
            return STOCK_ZEROED
    if write.kind == guard.price_kind and limits.price_drop < 100:
        was, now = guard.price_of(before), guard.price_of(write.value)
        floor = 1 - Decimal(str(limits.price_drop)) / 100
        if was is not None and was > 0 and now is not None and Decimal(str(now)) < Decimal(str(was)) * floor:
            return PRICE_DROP
    return None


def split(
    guard: Guard, limits: Thresholds, writes: Sequence[Write], before: Mapping[LedgerKey, dict[str, Any]]
) -> tuple[list[Write], list[Suspect]]:
    """(writes to send now, suspects to keep back) of a batch's planned writes."""
    ordinary: list[Write] = []
    suspects: list[Suspect] = []
    for write in writes:
        held = before.get((write.target_key, write.kind))
        reason = suspicion(guard, limits, write, held)
        if reason is None:
            ordinary.append(write)
        else:
            suspects.append(Suspect(write, reason, dict(held or {})))
    return ordinary, suspects


@dataclass(frozen=True)
class Measures:
    """What the verdict weighs: suspects by reason, what the target holds, the listing's size now and at the
    last complete read (None when this run does not read the complete listing, or none read it before)."""

    zeroed: int
    stocked: int | None  # None: not read (there was no suspect to weigh)
    price_drops: int
    priced: int | None
    listed: int | None = None
    listed_before: int | None = None


@dataclass(frozen=True)
class Verdict:
    """Whether the guardrail tripped, each reason in one line, and the numbers (for the summary and alert)."""

    tripped: bool
    reasons: tuple[str, ...] = ()
    numbers: dict[str, Any] = field(default_factory=dict)


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else (100.0 if part else 0.0)


def verdict(limits: Thresholds, m: Measures) -> Verdict:
    """Weigh a run's suspects (module docstring)."""
    reasons: list[str] = []
    zeroed, drops = _percent(m.zeroed, m.stocked or 0), _percent(m.price_drops, m.priced or 0)
    numbers: dict[str, Any] = {"stock_zeroed": m.zeroed, "price_drops": m.price_drops}
    if m.stocked is not None:
        numbers.update(stocked=m.stocked, stock_zeroed_percent=zeroed)
    if m.priced is not None:
        numbers.update(priced=m.priced, price_drops_percent=drops)
    if m.zeroed and limits.stock_zeroed < 100 and zeroed > limits.stock_zeroed:
        reasons.append(
            f"{m.zeroed} of {m.stocked} stocked items ({zeroed}%) would go to 0 stock, "
            f"more than GUARD_MAX_STOCK_ZEROED_PERCENT ({limits.stock_zeroed:g}%)"
        )
    if m.price_drops and limits.price_drops < 100 and drops > limits.price_drops:
        reasons.append(
            f"{m.price_drops} of {m.priced} prices ({drops}%) would drop by more than "
            f"{limits.price_drop:g}%, more than GUARD_MAX_PRICE_DROPS_PERCENT ({limits.price_drops:g}%)"
        )
    if m.listed is not None and m.listed_before:
        shrink = round(100.0 * (m.listed_before - m.listed) / m.listed_before, 1)
        numbers.update(listed=m.listed, listed_before=m.listed_before, source_shrink_percent=shrink)
        if limits.source_shrink < 100 and shrink > limits.source_shrink:
            reasons.append(
                f"the source listed {m.listed} items, {shrink}% fewer than the {m.listed_before} of its "
                f"last complete read, more than GUARD_MAX_SOURCE_SHRINK_PERCENT ({limits.source_shrink:g}%)"
            )
    return Verdict(bool(reasons), tuple(reasons), numbers)
