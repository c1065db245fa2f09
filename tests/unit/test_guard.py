"""The guardrail's rules (sync_core.engine.guard): which writes are suspicious, and when a run's are too many."""

from __future__ import annotations

from typing import Any

import pytest

from sync_core.engine.guard import (
    PRICE_DROP,
    STOCK_ZEROED,
    Guard,
    Measures,
    Thresholds,
    split,
    suspicion,
    verdict,
)
from sync_core.mapping.anar360_sazito import guarded_price, guarded_stock
from sync_core.models import Write

GUARD = Guard(stock_of=guarded_stock, price_of=guarded_price)
LIMITS = Thresholds()


def stock(n: int | None, managed: bool = True) -> dict[str, Any]:
    return {"managed": managed, "stock": n}


def price(regular: int, sale: int | None = None) -> dict[str, Any]:
    return {"price": regular, "discount_price": sale}


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        (stock(5), stock(0), STOCK_ZEROED),
        (stock(0), stock(0), None),  # was not stocked
        (stock(5), stock(1), None),
        (stock(5), stock(None, managed=False), None),  # no longer managed: not a zero
        (stock(None, managed=False), stock(0), None),
        (None, stock(0), None),  # nothing known before: a new item
    ],
)
def test_a_stock_is_suspicious_only_when_a_stocked_item_goes_to_zero(
    before: dict[str, Any] | None, after: dict[str, Any], reason: str | None
) -> None:
    assert suspicion(GUARD, LIMITS, Write("stock", "v1", "s1", after), before) == reason


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        (price(1000), price(499), PRICE_DROP),  # more than 50% down
        (price(1000), price(500), None),  # exactly 50%: not more
        (price(1000, 900), price(1000, 400), PRICE_DROP),  # the selling price is the discount price
        (price(1000), price(3000), None),
        (price(0), price(0), None),
    ],
)
def test_a_price_is_suspicious_when_it_drops_by_more_than_the_limit(
    before: dict[str, Any], after: dict[str, Any], reason: str | None
) -> None:
    assert suspicion(GUARD, LIMITS, Write("price", "v1", "s1", after), before) == reason


def test_a_limit_of_100_turns_the_price_drop_check_off() -> None:
    off = Thresholds(price_drop=100)
    assert suspicion(GUARD, off, Write("price", "v1", "s1", price(1)), price(1000)) is None


def test_split_keeps_back_only_the_suspects_with_what_the_target_held() -> None:
    writes = [Write("stock", "v1", "s1", stock(0)), Write("stock", "v2", "s2", stock(3))]
    before = {("v1", "stock"): stock(4), ("v2", "stock"): stock(4)}
    ordinary, suspects = split(GUARD, LIMITS, writes, before)
    assert ordinary == [writes[1]]
    assert [(s.write, s.reason, s.before) for s in suspects] == [(writes[0], STOCK_ZEROED, stock(4))]


def test_verdict_trips_above_each_threshold_and_names_the_setting() -> None:
    calm = verdict(
        LIMITS, Measures(zeroed=20, stocked=100, price_drops=5, priced=100, listed=70, listed_before=100)
    )
    assert not calm.tripped and calm.numbers["stock_zeroed_percent"] == 20.0
    zeroed = verdict(LIMITS, Measures(zeroed=21, stocked=100, price_drops=0, priced=100))
    assert zeroed.tripped and "GUARD_MAX_STOCK_ZEROED_PERCENT" in zeroed.reasons[0]
    assert "21 of 100 stocked items (21.0%)" in zeroed.reasons[0]
    drops = verdict(LIMITS, Measures(zeroed=0, stocked=100, price_drops=6, priced=100))
    assert drops.tripped and "GUARD_MAX_PRICE_DROPS_PERCENT" in drops.reasons[0]
    shrunk = verdict(
        LIMITS, Measures(zeroed=0, stocked=0, price_drops=0, priced=0, listed=0, listed_before=40)
    )
    assert shrunk.tripped and "GUARD_MAX_SOURCE_SHRINK_PERCENT" in shrunk.reasons[0]
    assert shrunk.numbers["source_shrink_percent"] == 100.0


def test_verdict_without_a_previous_complete_read_checks_no_shrink() -> None:
    first = verdict(
        LIMITS, Measures(zeroed=0, stocked=0, price_drops=0, priced=0, listed=0, listed_before=None)
    )
    assert not first.tripped and "source_shrink_percent" not in first.numbers


def test_thresholds_of_100_never_trip() -> None:
    off = Thresholds(stock_zeroed=100, price_drops=100, source_shrink=100)
    every = Measures(zeroed=10, stocked=10, price_drops=10, priced=10, listed=0, listed_before=10)
    assert not verdict(off, every).tripped
