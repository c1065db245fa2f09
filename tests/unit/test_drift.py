"""The drift check's pure part: comparing what the target holds with what the source wants, classifying what
differs against the ledger and open push failures; and the command's one-line refusals."""

from __future__ import annotations

import random

import pytest

from catalog_sync.cli import main
from sync_core.engine.drift import (
    EDITED,
    NOT_APPLIED,
    SOURCE_MOVED,
    Differing,
    DriftReport,
    classify,
    comparable,
    compare,
    drift_of,
    latest,
    missing_items,
    render,
    sample_items,
)
from sync_core.models import Write, fingerprint

OLD = {"price": 100, "discount_price": None}
NEW = {"price": 120, "discount_price": None}
EDIT = {"price": 5, "discount_price": None}


def price(key: str, value: dict[str, object]) -> Write:
    return Write("price", key, f"src-{key}", value)


def fp(value: dict[str, object]) -> str:
    return fingerprint("price", value)


def test_a_value_the_target_holds_as_wanted_is_in_sync_and_others_differ() -> None:
    wanted = latest(
        [price("1", OLD), price("2", NEW), Write("stock", "2", "src-2", {"managed": True, "stock": 3})]
    )
    holds = {"1": {"price": OLD}, "2": {"price": OLD}}  # item 2 reports no stock
    result = compare(wanted, holds, ["1", "2"])
    assert (result.items, result.values, result.in_sync, result.unreported) == (2, 2, 1, 1)
    assert [(d.write.target_key, d.held) for d in result.differing] == [("2", OLD)]


def test_the_last_wanted_value_of_an_item_wins() -> None:
    assert latest([price("1", OLD), price("1", NEW)])[("1", "price")].value == NEW


@pytest.mark.parametrize(
    ("held", "ledger", "failing", "drift"),
    [
        (
            EDIT,
            OLD,
            False,
            EDITED,
        ),  # someone changed it: it holds neither what we recorded nor what is wanted
        (EDIT, OLD, True, EDITED),  # an edit shows whatever we failed to send before
        (OLD, OLD, True, NOT_APPLIED),  # our write of NEW failed: it still holds what the ledger says
        (OLD, None, False, NOT_APPLIED),  # the ledger never recorded a value: we never applied one
        (OLD, OLD, False, SOURCE_MOVED),  # it holds what we wrote; the source wants NEW since
    ],
)
def test_a_differing_value_is_classified_by_the_ledger_and_open_failures(
    held: dict[str, object], ledger: dict[str, object] | None, failing: bool, drift: str
) -> None:
    item = Differing(price("7", NEW), held)
    assert drift_of(item, fp(ledger) if ledger is not None else None, failing) == drift


def test_classify_looks_up_each_value_by_item_and_kind() -> None:
    differing = [
        Differing(price("9", NEW), OLD),
        Differing(price("3", NEW), EDIT),
        Differing(price("5", NEW), OLD),
    ]
    ledger = {("9", "price"): fp(OLD), ("3", "price"): fp(OLD), ("5", "price"): fp(OLD)}
    found = classify(differing, ledger, failing={("5", "price")})
    assert [(d.write.target_key, d.drift) for d in found] == [
        ("3", EDITED),
        ("5", NOT_APPLIED),
        ("9", SOURCE_MOVED),
    ]
    assert found[0].example() == {
        "drift": EDITED,
        "kind": "price",
        "target": "3",
        "source": "src-3",
        "holds": EDIT,
        "wants": NEW,
    }


def test_a_sample_is_n_random_items_the_target_reported_and_the_source_wants() -> None:
    wanted = latest([price(str(n), NEW) for n in range(10)])
    holds = {str(n): {"price": NEW} for n in range(2, 12)}  # 0 and 1 are missing from the target
    assert missing_items(wanted, holds) == 2
    items = comparable(wanted, holds)
    assert items == [str(n) for n in range(2, 10)]
    chosen = sample_items(items, 3, random.Random(5))
    assert len(chosen) == 3 and set(chosen) <= set(items)
    assert chosen == sample_items(items, 3, random.Random(5))  # the rng decides
    assert sample_items(items, 50, random.Random(5)) == sample_items(items, None, random.Random()) == items


def test_the_report_counts_each_drift_and_says_when_it_is_a_sample() -> None:
    differing = [Differing(price("3", NEW), EDIT)]
    comparison = compare(
        latest([price("3", NEW), price("4", NEW)]), {"3": {"price": EDIT}, "4": {"price": NEW}}, ["3", "4"]
    )
    report = DriftReport(
        "p", comparison, classify(differing, {("3", "price"): fp(NEW)}, set()), sampled_of=40
    )
    assert report.counts() == {EDITED: 1, NOT_APPLIED: 0, SOURCE_MOVED: 0}
    text = render(report, {"pushed": 1, "failed": 0})
    assert "drift found" in text and "a random sample of 2 of 40 items" in text
    assert "| edited | 1 |" in text and "Repair: 1 written, 0 failed." in text
    assert "no drift" in render(DriftReport("p", compare({}, {}, []), []))


def test_drift_of_an_unknown_pipeline_or_one_that_cannot_be_read_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["drift", "no-such-pipeline"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("catalog-sync: no pipeline named 'no-such-pipeline'") and "\n" not in err
    assert main(["drift", "fever-events"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "catalog-sync: fever-events: its target can't be checked for drift yet"
    )
    with pytest.raises(SystemExit) as refused:
        main(["drift", "products", "--sample", "0"])
    assert refused.value.code == 2
    assert "--sample: must be at least 1" in capsys.readouterr().err
