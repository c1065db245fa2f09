"""Fetching numbered pages ahead: bounded by the reported total, ended by the last page."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sync_core.paging import fetch_numbered


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
