from __future__ import annotations

from sync_core.engine.plan import plan_writes
from sync_core.models import Write


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
