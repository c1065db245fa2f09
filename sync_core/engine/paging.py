"""Fetching numbered pages ahead, several at a time, within the connectors' pacing budget; and keeping a
listing finite whatever its provider answers (PageWalk)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from sync_core.engine.pool import thread_pool
from sync_core.errors import LimitExceeded

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
        with thread_pool(min(workers, len(numbers))) as pool:
            rest = list(pool.map(fetch, numbers))
    kept = [head]
    for page in rest:
        kept.append(page)
        if is_last(page):
            break
    return kept


class PageWalk:
    """Keeps one listing finite: at most as many pages as its first page's total implies (plus room for
    items added meanwhile), ``max_pages`` when it reports none, and no page that repeats another's items.

    A connector holds one per listing it pages through; every error is LimitExceeded naming the bound.
    """

    def __init__(self, provider: str, listing: str, *, max_pages: int) -> None:
        self.provider, self.listing, self.max_pages = provider, listing, max_pages
        self.limit: int | None = None
        self.because = f"it reports no total, and SYNC_MAX_PAGES is {max_pages}"
        self._pages: dict[str, int] = {}  # signature of a page's item keys → its number
        self._lock = threading.Lock()

    def admit(self, number: int) -> None:
        """Raise LimitExceeded when page ``number`` is past the listing's limit."""
        limit = self.limit if self.limit is not None else self.max_pages
        if number > limit:
            raise LimitExceeded(
                f"{self.provider}: {self.listing} goes on past page {limit} ({self.because}): stopped",
                provider=self.provider,
            )

    def record(self, number: int, keys: Sequence[str], *, total: int | None, size: int) -> None:
        """Take a fetched page's item keys; the first page with a total sets the limit. Raises LimitExceeded
        when the page holds the same items as another page number (a provider that repeats itself)."""
        with self._lock:
            if self.limit is None and total is not None and size > 0:
                pages = -(-total // size)
                self.limit = pages + max(5, pages // 10)
                self.because = (
                    f"its total of {total} items at {size} a page allows {pages}, with room to grow"
                )
            if not keys:
                return
            signature = hashlib.blake2b("\0".join(keys).encode(), digest_size=16).hexdigest()
            seen = self._pages.setdefault(signature, number)
        if seen != number:
            first, second = sorted((seen, number))
            raise LimitExceeded(
                f"{self.provider}: {self.listing} repeats itself: pages {first} and {second} hold the same "
                f"{len(keys)} items, so it would never end; stopped",
                provider=self.provider,
            )
