"""Fetching numbered pages ahead: bounded by the reported total, ended by the last page."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sync_core.engine.paging import PageWalk, fetch_numbered
from sync_core.errors import LimitExceeded


@dataclass
class Page:
    number: int
    last: bool
    last_number: int | None


def listing(pages: int, *, report_total: bool = True) -> tuple[list[int], object]:
    asked: list[int] = []

    def fetch(number: int) -> Page:
        asked.append(number)
        return Page(number, number >= pages, pages if report_total else None)

    return asked, fetch


@pytest.mark.parametrize("workers", [1, 4])
def test_a_short_listing_costs_no_request_past_its_end(workers: int) -> None:
    asked, fetch = listing(3)
    pages = fetch_numbered(
        fetch,
        1,
        10,
        workers=workers,
        is_last=lambda p: p.last,  # type: ignore[arg-type]
        last_number=lambda p: p.last_number,
    )
    assert [p.number for p in pages] == [1, 2, 3] and sorted(asked) == [1, 2, 3]


def test_without_a_total_it_fetches_ahead_and_keeps_up_to_the_last_page() -> None:
    asked, fetch = listing(3, report_total=False)
    pages = fetch_numbered(fetch, 1, 6, workers=4, is_last=lambda p: p.last)  # type: ignore[arg-type]
    assert [p.number for p in pages] == [1, 2, 3] and sorted(asked) == [1, 2, 3, 4, 5, 6]


def test_a_batch_stops_at_count_and_a_single_page_listing_at_its_first_page() -> None:
    asked, fetch = listing(50)
    assert (
        len(
            fetch_numbered(
                fetch,
                11,
                10,
                workers=4,
                is_last=lambda p: p.last,  # type: ignore[arg-type]
                last_number=lambda p: p.last_number,
            )
        )
        == 10
    )
    asked, fetch = listing(1)
    assert [p.number for p in fetch_numbered(fetch, 1, 10, workers=4, is_last=lambda p: p.last)] == [1]  # type: ignore[arg-type]
    assert asked == [1]


# --- PageWalk: a listing stays finite whatever the provider answers ---


def test_the_first_total_bounds_the_listing_with_room_to_grow() -> None:
    walk = PageWalk("p", "the listing", max_pages=10_000)
    walk.record(1, ["a"], total=1000, size=100)  # 10 pages, room for 5 more
    walk.admit(15)
    with pytest.raises(
        LimitExceeded, match=r"^p: the listing goes on past page 15 \(its total of 1000 items"
    ):
        walk.admit(16)


def test_without_a_total_the_hard_ceiling_holds() -> None:
    walk = PageWalk("p", "the listing", max_pages=3)
    walk.record(1, ["a"], total=None, size=100)
    walk.admit(3)
    with pytest.raises(LimitExceeded, match="reports no total, and SYNC_MAX_PAGES is 3"):
        walk.admit(4)


def test_a_page_that_repeats_another_stops_the_listing_whatever_the_order() -> None:
    walk = PageWalk("p", "the listing", max_pages=100)
    walk.record(3, ["x", "y"], total=None, size=2)
    walk.record(3, ["x", "y"], total=None, size=2)  # the same page fetched again (a retry) is fine
    with pytest.raises(LimitExceeded, match=r"pages 2 and 3 hold the same 2 items, so it would never end"):
        walk.record(2, ["x", "y"], total=None, size=2)
    walk.record(4, [], total=None, size=2)  # an empty page ends a listing; it repeats nothing
    walk.record(5, [], total=None, size=2)
