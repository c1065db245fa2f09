"""How the Ploomes connector pages (contract: /work/shared/contracts/ploomes.md, "Details this contract
settles"): products by keyset (:class:`Keyset`, :func:`take`), and when a page is the last
(:class:`PageSizes`).

Products are never paged with ``$skip``: ``LastUpdateDate`` is not unique and changes while a reader pages,
so ``$skip`` loses or repeats items. A keyset goes on from the last Id, or from the last (LastUpdateDate, Id)
read, dropping by Id what it already read. Pure: no calls here.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sync_core.connectors.ploomes_wire import BadRecord, ProductRecord, instant, literal, read_product

ALL_READ = 2**63 - 1  # a Keyset's after_id when every product at its date is read: go on past that date


class Stuck(ValueError):
    """The server's answers give a keyset nowhere to go on to (the connector's PermanentError)."""


@dataclass(frozen=True)
class Keyset:
    """Where a keyset read of products goes on from; ``to_token()``/``from_token()`` round-trip it.

    order "id" (a full read): the products with ``Id gt after_id``, by Id.
    order "updated" (incremental): ``LastUpdateDate ge since``, by (LastUpdateDate, Id); the products at
    ``since`` with ``Id <= after_id`` are already read and dropped. Its states:
      - tie False: that query; with ``after_id == ALL_READ`` (every product at ``since`` read, after a tie)
        it is ``LastUpdateDate gt since``;
      - tie True: more than a page shares ``since``, which the ge query cannot get past: the products at
        exactly ``since`` with ``Id gt after_id``, by Id, until a short page, then on past ``since``.
    ``since_literal`` is the date-time as Ploomes sent it (it may hold more digits than a datetime): the
    filter sends it back as it was; for a ``since`` of your own, leave it None.
    """

    order: Literal["id", "updated"]
    after_id: int = 0
    since: datetime | None = None
    tie: bool = False
    since_literal: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.order not in ("id", "updated"):
            raise ValueError(f"a keyset's order is 'id' or 'updated', not {self.order!r}")
        if not isinstance(self.after_id, int) or isinstance(self.after_id, bool) or self.after_id < 0:
            raise ValueError(f"after_id must be an integer >= 0, not {self.after_id!r}")
        if self.order == "id":
            if self.since is not None or self.tie or self.since_literal is not None:
                raise ValueError("an 'id' keyset has no since and no tie")
            return
        if self.since_literal is not None:
            at = instant(self.since_literal)[0]
            if self.since is None:
                object.__setattr__(self, "since", at)
            elif at != self.since:
                raise ValueError(f"since_literal {self.since_literal!r} is not since ({self.since})")
        if self.since is None or self.since.utcoffset() is None:
            raise ValueError("an 'updated' keyset needs since, an aware date-time")
        if self.tie and self.after_id == ALL_READ:
            raise ValueError("a tie keyset cannot have every product at its date read")

    @property
    def literal(self) -> str:
        """``since`` as the filter sends it."""
        assert self.since is not None
        return self.since_literal or literal(self.since)

    def stamp(self) -> tuple[datetime, int]:
        """``since`` as an :func:`instant` key."""
        assert self.since is not None
        return instant(self.since_literal) if self.since_literal else (self.since, 0)

    def to_token(self) -> str:
        """A short string: id:<after_id>, updated:<after_id>:<since> or tie:<after_id>:<since>."""
        if self.order == "id":
            return f"id:{self.after_id}"
        return f"{'tie' if self.tie else 'updated'}:{self.after_id}:{self.literal}"

    @classmethod
    def from_token(cls, token: str) -> Keyset:
        """The keyset of :meth:`to_token`'s string; ValueError for anything else."""
        found = re.fullmatch(r"(id):(\d+)|(updated|tie):(\d+):(.+)", token.strip())
        if found is None:
            raise ValueError(f"not a Ploomes keyset token: {token!r}")
        if found[1]:
            return cls("id", after_id=int(found[2]))
        return cls("updated", after_id=int(found[4]), since_literal=found[5], tie=found[3] == "tie")

    def filter(self) -> tuple[str, str]:
        """($filter, $orderby) of the next page."""
        if self.order == "id":
            return f"Id gt {self.after_id}", "Id"
        if self.tie:
            return f"LastUpdateDate eq {self.literal} and Id gt {self.after_id}", "Id"
        op = "gt" if self.after_id == ALL_READ else "ge"
        return f"LastUpdateDate {op} {self.literal}", "LastUpdateDate,Id"


def item_id(item: Any) -> int | None:
    """An answer item's Id when it is an integer."""
    value = item.get("Id") if isinstance(item, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def take(
    keyset: Keyset, raw: list[Any], products: dict[int, ProductRecord], bad: list[BadRecord]
) -> Keyset | None:
    """Read a page asked from ``keyset`` into ``products`` (by Id, a later item over an earlier one) and
    ``bad``, leaving out those already read; the keyset after it (None when no item has what it needs).

    Order "updated": after a page whose last date is past ``since``, that date and the largest Id at it; a
    page at ``since`` alone (more than a page shares it) goes on in the tie state. Stuck when the answers
    contradict the filter (only older products, or products at a date a ``gt`` query left out)."""
    since = keyset.stamp() if keyset.order == "updated" else None
    ids: list[int] = []
    stamped: list[tuple[tuple[datetime, int], int, str]] = []
    for item in raw:
        n = item_id(item)
        try:
            stamp = instant(item.get("LastUpdateDate")) if since and n is not None else None
        except ValueError:
            stamp = None
        if n is not None:
            ids.append(n)
            if stamp is not None:
                stamped.append((stamp, n, item["LastUpdateDate"].strip()))
        if n is not None and n <= keyset.after_id and (keyset.tie or (since is not None and stamp == since)):
            continue  # already read
        record = read_product(item)
        if isinstance(record, BadRecord):
            bad.append(record)
        else:
            products[record.id] = record
    if keyset.order == "id":
        return Keyset("id", max(ids)) if ids else None
    if keyset.tie:
        return Keyset("updated", max(ids), keyset.since, True, keyset.since_literal) if ids else None
    if not stamped or since is None:
        return None
    last = max(stamp for stamp, _, _ in stamped)
    at_last = [n for stamp, n, _ in stamped if stamp == last]
    if last < since:
        raise Stuck(f"LastUpdateDate ge {keyset.literal} answered only older products")
    if last != since:
        text = next(text for stamp, _, text in stamped if stamp == last)
        return Keyset("updated", max(at_last), since_literal=text)
    if keyset.after_id == ALL_READ:  # past `since` by our reckoning, at `since` by the server's
        raise Stuck(f"LastUpdateDate gt {keyset.literal} answered products at that very date")
    return Keyset("updated", max(keyset.after_id, *at_last), keyset.since, True, keyset.since_literal)


Verdict = Literal["last", "more", "unsure"]


class PageSizes:
    """What page size the server serves for each (listing, $top): at most 300, possibly fewer.

    A page with a nextLink is never the last (and its length is what the server serves); one as long as
    asked is full. Without a link, a page is the last when it is empty, or shorter than the size served (or
    than a page seen before for that $top). Until the size served is known, a page shorter than asked and
    than none seen before is "unsure": one more request (the probe) decides, and when it brings items,
    :meth:`followed` records the unsure page's length as the size served. Thread-safe; a connector keeps one.
    """

    def __init__(self) -> None:
        self._served: dict[tuple[str, int], int] = {}
        self._seen: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def judge(self, listing: str, top: int, count: int, *, link: bool) -> Verdict:
        key = (listing, top)
        with self._lock:
            seen = self._seen[key] = max(self._seen.get(key, 0), count)
            served = self._served.get(key)
            if link:  # a page with a nextLink is never the last; its length is what the server serves
                if count:
                    self._served[key] = max(served or 0, count)
                return "more"
            if count == 0:
                return "last"
            if count >= top:
                return "more"
            if served is not None:
                if count < served:
                    return "last"
                self._served[key] = count
                return "more"
            return "last" if count < seen else "unsure"

    def followed(self, listing: str, top: int, count: int) -> None:
        """A page of ``count`` items (judged unsure) was followed by more: the server serves ``count``."""
        with self._lock:
            key = (listing, top)
            self._served[key] = max(self._served.get(key, 0), count)

    def served(self, listing: str, top: int) -> int | None:
        with self._lock:
            return self._served.get((listing, top))
