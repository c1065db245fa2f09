"""Fetching numbered pages ahead, several at a time, within the connectors' pacing budget."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

P = TypeVar("P")


def fetch_numbered(
    fetch: Callable[[int], P], first: int, count: int, *, workers: int, is_last: Callable[[P], bool]
) -> list[P]:
    """Fetch pages ``first`` .. ``first + count - 1`` concurrently; keep them up to the first last page.

    Pages past the end come back empty from both Anar360 and Sazito, so over-fetching costs a request,
    never a wrong result. Errors propagate (the caller's task retries transient ones).
    """
    numbers = range(first, first + count)
    if workers <= 1 or count <= 1:
        pages: list[P] = []
        for number in numbers:
            pages.append(fetch(number))
            if is_last(pages[-1]):
                break
        return pages
    with ThreadPoolExecutor(max_workers=min(workers, count)) as pool:
        fetched = list(pool.map(fetch, numbers))
    kept: list[P] = []
    for page in fetched:
        kept.append(page)
        if is_last(page):
            break
    return kept
