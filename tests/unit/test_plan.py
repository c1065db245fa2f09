from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sync_core.engine.plan import plan_writes
from sync_core.models import Write, fingerprint


def w(key: str, kind: str = "price", price: int = 100) -> Write:
    return Write(kind, key, f"s{key}", {"price": price, "discount_price": None})


def test_unknown_items_are_written() -> None:
    plan = plan_writes([w("1"), w("2")], {})
    assert [x.target_key for x in plan.writes] == ["1", "2"] and plan.unchanged == []


def test_items_holding_the_desired_value_are_not_written() -> None:
    known = {("1", "price"): w("1").fingerprint, ("2", "price"): w("2", price=99).fingerprint}
    plan = plan_writes([w("1"), w("2")], known)
    assert [x.target_key for x in plan.writes] == ["2"]
    assert [x.target_key for x in plan.unchanged] == ["1"]


def test_kinds_are_diffed_separately() -> None:
    stock = Write("stock", "1", "s1", {"managed": True, "stock": 3})
    plan = plan_writes([w("1"), stock], {("1", "price"): w("1").fingerprint})
    assert plan.writes == [stock]


def test_the_last_desired_value_of_an_item_wins() -> None:
    plan = plan_writes([w("1", price=1), w("1", price=2)], {})
    assert len(plan.writes) == 1 and plan.writes[0].value["price"] == 2


def test_fingerprints_keep_their_spelling_across_versions() -> None:
    """The ledger keeps fingerprints across upgrades: a new spelling would resend every value once."""
    assert fingerprint("price", {"price": 1200, "discount_price": None}) == "89c00dc7a94ebd9bce3279a7"
    value = {
        "title": "Café «x»",
        "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "min": Decimal("12.50"),
        "f": 0.1,
    }
    assert fingerprint("event", value) == "2f4bbb62967c3af0b808e20f"
