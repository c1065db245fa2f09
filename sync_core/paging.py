"""Fetching numbered pages ahead, several at a time, within the connectors' pacing budget."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

P = TypeVar("P")


def _no_total(page: object) -> int | None:
    return None


def fetch_numbered(
    fetch: Callable[[int], P],
    first: int,
    count: int,
    *,
    workers: int,
    is_last: Callable[[P], bool],
    last_number: Callable[[P], int | None] = _no_total,
) -> list[P]:
    """Fetch up to ``count`` pages from ``first``: the first alone, the rest concurrently; keep them up
    to the first last page.

    The first page's reported total bounds the rest, so a short listing (an incremental window) costs no
    request for pages past its end. Items may move while we page, so the total only bounds how far to
    fetch ahead; ``is_last`` decides where the listing ends. Errors propagate (tasks retry transient ones).
    """
    head = fetch(first)
    if is_last(head) or count <= 1:
        return [head]
    end = first + count - 1
    known_last = last_number(head)
    if known_last is not None:
        end = max(first + 1, min(end, known_last))
    numbers = range(first + 1, end + 1)
    if workers <= 1 or len(numbers) <= 1:
        rest: list[P] = []
        for number in numbers:
            rest.append(fetch(number))
            if is_last(rest[-1]):
                break
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(numbers))) as pool:
            rest = list(pool.map(fetch, numbers))
    kept = [head]
    for page in rest:
        kept.append(page)
        if is_last(page):
            break
    return kept
