"""Item links: source item ↔ target item per pair of connections, how each was made, and the title index
for the opt-in title matching."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import select

from sync_core.db import session_scope
from sync_core.lookup import rows_by_keys
from sync_core.tables import CatalogueTitle, ItemLink, utcnow
from sync_core.upsert import upsert, upsert_values


@dataclass(frozen=True, slots=True)
class Link:
    target_key: str
    method: str


def load_links(url: str, *, source: str, target: str, source_keys: Iterable[str]) -> dict[str, Link]:
    """Stored links for the given supplier keys."""
    with session_scope(url) as session:
        rows = rows_by_keys(
            session,
            ItemLink,
            ("source_key", "target_key", "method"),
            where={"source": source, "target": target},
            key="source_key",
            keys=source_keys,
        )
    return {key: Link(target_key, method) for key, target_key, method in rows}


def count_links(url: str, *, source: str, target: str) -> int:
    with session_scope(url) as session:
        query = (
            select(sa.func.count())
            .select_from(ItemLink)
            .where(ItemLink.source == source, ItemLink.target == target)
        )
        return int(session.exec(query).one())


def save_links(
    url: str, *, source: str, target: str, links: Sequence[tuple[str, str, str | None, str]]
) -> None:
    """Upsert (source_key, target_key, target_product_key, method) links; a re-seen link keeps its first date."""
    now = utcnow()
    with session_scope(url) as session:
        upsert_values(
            session,
            ItemLink,
            (
                "source",
                "target",
                "source_key",
                "target_key",
                "target_product_key",
                "method",
                "linked_at",
                "seen_at",
            ),
            ((source, target, s, t, p, m, now, now) for s, t, p, m in links),
            keys=("source", "target", "source_key"),
            update=("target_key", "target_product_key", "method", "seen_at"),
        )


def save_titles(url: str, *, target: str, titles: Sequence[tuple[str, str, str | None]]) -> None:
    """Upsert (title_key, target_key, target_product_key) rows of the title index."""
    now = utcnow()
    rows = [
        {"target": target, "title_key": k, "target_key": t, "target_product_key": p, "seen_at": now}
        for k, t, p in titles
    ]
    with session_scope(url) as session:
        upsert(
            session,
            CatalogueTitle,
            rows,
            keys=("target", "title_key"),
            update=("target_key", "target_product_key", "seen_at"),
        )


def match_titles(url: str, *, target: str, title_keys: Iterable[str]) -> dict[str, str]:
    """title_key → target_key for the keys the title index knows."""
    with session_scope(url) as session:
        rows = rows_by_keys(
            session,
            CatalogueTitle,
            ("title_key", "target_key"),
            where={"target": target},
            key="title_key",
            keys=title_keys,
        )
    return dict(rows)
