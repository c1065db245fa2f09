"""One process's copy of ``ploomes_products`` behind `/products/...` (``read_index`` keeps it fresh): every
product serialised once, its text folded, and the searches and filters answered from them.

When the table is read, each product is serialised once (orjson) and its name, code and description are folded
(``folding.fold``: NFKD, combining marks dropped, casefolded, whitespace runs made one space) into one text.
Products are kept ordered by folded name, then name, then ``ploomes_id``. A text search looks for ``q`` only
in the texts holding its rarest trigram (three characters); the products holding a trigram are found the first
time a search needs them and kept with the copy, so a catalogue's vocabulary is soon known and a search costs
a few hundred ``in`` tests rather than a pass over 1.3 MB of text (12,000 products, distinct searches:
0.1-0.2 ms once 1,500 trigrams are known, against 1.2 ms), without lengthening the table's reading (0.4 s) by
the 0.3-0.5 s a whole trigram index takes to build (bench/README.md, "Products search API"). The positions a
search and a filter select are kept per copy (``MATCHES_ENTRIES``), so its other pages cost a slice.
`/products/categories` is computed with the copy.
"""

from __future__ import annotations

import time
from array import array
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from catalog_sync.service.folding import fold
from sync_core.pipelines.ploomes.tables import PloomesProduct

MATCHES_ENTRIES = 1024  # positions of a search's matches, per copy: at most 48 kB each (12,000 products)
COMMON_GRAM = 1000  # products: a trigram held by more is worth looking for a rarer one of the same search
TYPES = ("service", "rental", "product")

PRODUCTS: sa.Table = PloomesProduct.__table__  # type: ignore[attr-defined]
SEARCH_TAIL = b'],"total":%d,"limit":%d,"offset":%d},"error":null}'
SEARCH_HEAD = b'{"data":{"products":['
ONE_HEAD, ONE_TAIL = b'{"data":{"product":', b'},"error":null}'
_JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z

# (folded q or None, folded category or None, type or None, active or None, limit, offset)
Query = tuple[str | None, str | None, str | None, bool | None, int, int]
Filter = tuple[str | None, str | None, bool | None]  # folded category, type, active
NO_FILTER: Filter = (None, None, None)


def _instant(value: datetime | None) -> datetime | None:
    # SQLite gives naive UTC times (OPT_NAIVE_UTC reads them so), PostgreSQL aware ones in the session's zone.
    return value.astimezone(UTC) if value is not None and value.tzinfo is not None else value


def decimal_json(value: Decimal | float | None) -> orjson.Fragment | None:
    """A price as an exact JSON number with at least one decimal: ``1200.0``, ``1234.5``, ``0.0999``."""
    if value is None:
        return None
    number = Decimal(value) if isinstance(value, float) else value
    if not number.is_finite():
        return None
    text = f"{number.normalize():f}"
    return orjson.Fragment(text if "." in text else f"{text}.0")


@dataclass
class Snapshot:
    """Every product, in answer order, as JSON fragments, with its folded text and its filters' fields; the
    products holding a trigram (three characters), the products a filter or a search selects, found as
    searches need them."""

    version: tuple[Any, ...]
    loaded_at: float
    fragments: Sequence[bytes] = ()
    texts: Sequence[str] = ()  # each product's folded "name\ncode\ndescription"
    categories: Sequence[str | None] = ()  # folded
    types: Sequence[str] = ()
    active: Sequence[bool] = ()
    by_id: dict[int, bytes] = field(default_factory=dict)
    categories_body: bytes = b'{"data":{"categories":[]},"error":null}'
    _subsets: dict[Filter, tuple[array[int], bytearray]] = field(default_factory=dict)
    _grams: dict[str, array[int]] = field(default_factory=dict)  # trigram -> positions, found when needed
    _matches: OrderedDict[tuple[str, str | None, str | None, bool | None], array[int]] = field(
        default_factory=OrderedDict
    )

    def product(self, ploomes_id: int) -> bytes | None:
        fragment = self.by_id.get(ploomes_id)
        return None if fragment is None else ONE_HEAD + fragment + ONE_TAIL

    def search(self, query: Query) -> bytes:
        """The answer to a query whose values are already folded and checked."""
        q, category, product_type, active, limit, offset = query
        wanted = (category, product_type, active)
        fragments = self.fragments
        if q is None and wanted == NO_FILTER:
            total, page = len(fragments), fragments[offset : offset + limit]
        else:
            positions = self.matches(q, wanted)
            total, page = len(positions), [fragments[n] for n in positions[offset : offset + limit]]
        return SEARCH_HEAD + b",".join(page) + SEARCH_TAIL % (total, limit, offset)

    def matches(self, q: str | None, wanted: Filter) -> Sequence[int]:
        """Positions of the products a text and a filter select, in answer order; kept for the pages and page
        sizes of the same search (the ``MATCHES_ENTRIES`` last used)."""
        if q is None:
            return self._subset(wanted)[0]
        key = (q, *wanted)
        found = self._matches.get(key)
        if found is not None:
            self._matches.move_to_end(key)
            return found
        hits = self._find(q)
        if wanted != NO_FILTER:
            mask = self._subset(wanted)[1]
            hits = [n for n in hits if mask[n]]
        found = self._matches[key] = array("i", hits)
        if len(self._matches) > MATCHES_ENTRIES:
            self._matches.popitem(last=False)
        return found

    def _find(self, q: str) -> Sequence[int]:
        """Positions of the products whose folded text holds ``q``, ascending (``q`` has no separator, so a
        match never spans two fields). A ``q`` of three characters or more is looked for only in the texts
        holding its rarest known trigram; a trigram's products are found once per copy, when a search first
        needs it: the first trigram of ``q`` when none is known, one more while the rarest known is common."""
        texts = self.texts
        if len(q) < 3:
            return [n for n, text in enumerate(texts) if q in text]
        grams = self._grams
        rarest: Sequence[int] | None = None
        unknown = None
        for at in range(len(q) - 2):
            gram = q[at : at + 3]
            postings = grams.get(gram)
            if postings is None:
                unknown = unknown or gram
            elif rarest is None or len(postings) < len(rarest):
                rarest = postings
        if unknown is not None and (rarest is None or len(rarest) > COMMON_GRAM):
            postings = array("i", [n for n, text in enumerate(texts) if unknown in text])
            if not postings:
                return ()  # not kept: a trigram no product holds would let any client grow the table
            grams[unknown] = postings
            if rarest is None or len(postings) < len(rarest):
                rarest = postings
        assert rarest is not None
        return rarest if len(q) == 3 else [n for n in rarest if q in texts[n]]

    def _subset(self, wanted: Filter) -> tuple[array[int], bytearray]:
        """The positions a filter keeps, and the same as a mask; computed once per filter and copy."""
        subset = self._subsets.get(wanted)
        if subset is None:
            category, product_type, active = wanted
            positions = [
                n
                for n in range(len(self.fragments))
                if (category is None or self.categories[n] == category)
                and (product_type is None or self.types[n] == product_type)
                and (active is None or self.active[n] == active)
            ]
            mask = bytearray(len(self.fragments))
            for n in positions:
                mask[n] = 1
            subset = self._subsets[wanted] = (array("i", positions), mask)
        return subset


def data_version(engine: Engine) -> tuple[Any, ...]:
    """What a sync moves when it writes products: the row count and the latest ``last_changed_at``."""
    query = sa.select(sa.func.count(), sa.func.max(PRODUCTS.c.last_changed_at)).select_from(PRODUCTS)
    with engine.connect() as conn:
        return tuple(conn.execute(query).one())


COLUMNS = (
    "ploomes_id", "name", "code", "description", "product_type", "category", "subcategory", "unit_price",
    "currency", "unit_of_measure", "custom_fields", "source_created_at", "source_updated_at", "active",
    "version", "last_synced_at",
)  # fmt: skip


def load_snapshot(engine: Engine, *, now: float | None = None) -> Snapshot:
    """Read the version, then every product (in that order: a write between the two only causes a re-read)."""
    version = data_version(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*(PRODUCTS.c[name] for name in COLUMNS))).all()
    return build_snapshot(version, (row._mapping for row in rows), time.monotonic() if now is None else now)


def build_snapshot(version: tuple[Any, ...], rows: Iterable[Any], loaded_at: float) -> Snapshot:
    """A snapshot of product rows (mappings with ``COLUMNS``)."""
    folded: dict[str, str] = {}  # the same category or description on many products is folded once

    def fold_once(text: str | None) -> str:
        if not text:
            return ""
        done = folded.get(text)
        if done is None:
            done = folded[text] = fold(text)
        return done

    keyed = []
    for row in rows:
        name = row["name"] or ""
        text = "\n".join((fold_once(name), fold_once(row["code"]), fold_once(row["description"])))
        keyed.append(((text.partition("\n")[0], name, row["ploomes_id"]), text, row))
    keyed.sort(key=lambda item: item[0])
    fragments, texts, categories, types, active, by_id, summary = [], [], [], [], [], {}, []
    for _key, text, row in keyed:
        fragment = orjson.dumps(
            {
                "ploomes_id": row["ploomes_id"],
                "name": row["name"],
                "code": row["code"],
                "description": row["description"],
                "product_type": row["product_type"],
                "category": row["category"],
                "subcategory": row["subcategory"],
                "unit_price": decimal_json(row["unit_price"]),
                "currency": row["currency"],
                "unit_of_measure": row["unit_of_measure"],
                "custom_fields": row["custom_fields"] if row["custom_fields"] is not None else {},
                "source_created_at": _instant(row["source_created_at"]),
                "source_updated_at": _instant(row["source_updated_at"]),
                "active": bool(row["active"]),
                "version": row["version"],
                "last_synced_at": _instant(row["last_synced_at"]),
            },
            option=_JSON_OPTIONS,
        )
        fragment = bytes(memoryview(fragment))  # orjson's bytes keep a buffer of 4-8 kB: 100 MB per copy
        fragments.append(fragment)
        by_id[int(row["ploomes_id"])] = fragment
        texts.append(text)
        category = fold_once(row["category"]) or None
        categories.append(category)
        types.append(row["product_type"])
        active.append(bool(row["active"]))
        summary.append((row["category"], category, row["product_type"], bool(row["active"])))
    return Snapshot(
        version=version,
        loaded_at=loaded_at,
        fragments=fragments,
        texts=texts,
        categories=categories,
        types=types,
        active=active,
        by_id=by_id,
        categories_body=categories_body(summary),
    )


def categories_body(rows: Iterable[tuple[str | None, str | None, str, bool]]) -> bytes:
    """`/products/categories` from (category, folded category, type, active) per product: categories that fold alike are one, shown in their most frequent spelling;
    ordered by folded name, products without a category last (``"category": null``)."""
    spellings: dict[str | None, Counter[str]] = {}
    counts: dict[str | None, tuple[Counter[str], list[int]]] = {}
    for category, key, product_type, active in rows:
        types, totals = counts.setdefault(key, (Counter(), [0, 0]))
        types[product_type] += 1
        totals[0] += 1
        totals[1] += bool(active)
        if category is not None:
            spellings.setdefault(key, Counter())[category] += 1
    out = []
    for key in sorted(counts, key=lambda k: (k is None, k or "")):
        types, (products, active_count) = counts[key]
        shown = None if key is None else min(spellings[key].items(), key=lambda kv: (-kv[1], kv[0]))[0]
        out.append(
            {
                "category": shown,
                "products": products,
                "active": active_count,
                "types": {t: types[t] for t in sorted(types, key=_type_order)},
            }
        )
    return orjson.dumps({"data": {"categories": out}, "error": None})


def _type_order(product_type: str) -> tuple[int, str]:
    return (TYPES.index(product_type) if product_type in TYPES else len(TYPES), product_type)
