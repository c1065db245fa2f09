"""Whole answers kept per process, by their normalised request: the read APIs' last step before the copy."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class AnswerCache(Generic[K]):
    """Answers by key, least recently used dropped first beyond ``max_entries`` or ``max_bytes``; an answer
    over an eighth of ``max_bytes`` is not kept (it would push out many)."""

    def __init__(self, *, max_bytes: int, max_entries: int | None = None) -> None:
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._entries: OrderedDict[K, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: K) -> bytes | None:
        body = self._entries.get(key)
        if body is not None:
            self._entries.move_to_end(key)
        return body

    def put(self, key: K, body: bytes) -> None:
        if len(body) > self.max_bytes // 8 or key in self._entries:
            return
        self._entries[key] = body
        self._bytes += len(body)
        while self._bytes > self.max_bytes or (
            self.max_entries is not None and len(self._entries) > self.max_entries
        ):
            self._bytes -= len(self._entries.popitem(last=False)[1])

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)
