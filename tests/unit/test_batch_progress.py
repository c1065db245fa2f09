"""A batch tells its pages done as their share of the writes lands, each page once."""

from __future__ import annotations

from sync_core.engine.batch import PagesTold


def test_pages_are_told_as_their_share_of_the_writes_lands_and_never_twice() -> None:
    told: list[int] = []
    pages = PagesTold(10, told.append)
    pages.share(15, 100)  # 1.5 pages' worth
    pages.share(10, 100)  # 2.5
    pages.share(75, 100)  # all
    pages.all()
    assert told == [1, 1, 8] and sum(told) == 10


def test_a_batch_with_nothing_to_write_tells_its_pages_at_the_end() -> None:
    told: list[int] = []
    pages = PagesTold(3, told.append)
    pages.share(0, 0)
    pages.all()
    pages.all()
    assert told == [3]


def test_without_a_listener_nothing_is_told() -> None:
    PagesTold(2, None).all()  # no listener: no error
