"""What wrote a value a target holds, for `catalog-sync explain` (sync_core.engine.explain): the ledger row,
the run that wrote it and its requests.

The requests of a write are the writing run's calls of its kind (whose context or URL names the kind): those
that name the item (context or URL), else those whose audited body carries it (AUDIT_BODIES), else (a bulk
call's audit row does not list its items) the last successful one before the ledger recorded the value,
``only`` when the run made one, else ``nearest``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_core.engine.runs import aware
from sync_core.tables import ExternalRequest, LedgerEntry, SyncRun

REQUESTS = 5  # requests shown per write
RUN = ("id", "pipeline", "scope", "status", "dry_run", "started_at", "finished_at")
REQUEST = ("correlation_id", "method", "url", "context", "status", "outcome", "attempt", "started_at")


def pick(row: Any, names: Iterable[str]) -> dict[str, Any]:
    """``names`` of a row, times in UTC ISO 8601 (SQLite hands back naive ones)."""
    return {n: utc(getattr(row, n)) for n in names}


def utc(value: Any) -> Any:
    """A time as UTC ISO 8601; anything else as it is."""
    return aware(value).isoformat() if isinstance(value, datetime) else value


def escape(text: str) -> str:
    """``text`` for a LIKE pattern with ``\\`` as its escape."""
    return re.sub(r"([\\%_])", r"\\\1", text)


def like(column: Any, text: str) -> Any:
    """``column`` holds ``text`` somewhere."""
    return column.like(f"%{escape(text)}%", escape="\\")


def target_entry(s: Session, row: LedgerEntry, wanted: Any) -> dict[str, Any]:
    """A ledger row (what the target holds); for a value we wrote, its run and requests."""
    written = row.origin == "written" and row.run_id is not None
    readable = wanted is not None and not (isinstance(wanted, dict) and "error" in wanted)
    return {
        **pick(row, ("target", "target_key", "kind", "value", "origin", "updated_at")),
        "as_wanted": row.value == wanted if readable else None,
        "run": runs(s, [row.run_id]).get(row.run_id) if written else None,
        "requests": requests(s, row) if written else [],
    }


def requests(s: Session, row: LedgerEntry) -> list[dict[str, Any]]:
    """The requests that wrote ``row``'s value (see the module docstring for how they are matched)."""
    context, url = col(ExternalRequest.context), col(ExternalRequest.url)
    writes = select(ExternalRequest).where(
        ExternalRequest.run_id == row.run_id,
        ExternalRequest.provider == row.target,
        col(ExternalRequest.method).not_in(("GET", "HEAD")),
        sa.or_(like(context, row.kind), like(url, row.kind)),  # of its kind: a price call, not a stock one
    )
    newest, key = col(ExternalRequest.started_at).desc(), row.target_key
    named = writes.where(sa.or_(like(context, key), like(url, key)))
    found = [r for r in s.exec(named.order_by(newest).limit(50)) if names(f"{r.context} {r.url}", key)]
    if found:
        return [request(r, "named") for r in found[:REQUESTS]]
    carrying = writes.where(like(col(ExternalRequest.request_body), key))
    found = [r for r in s.exec(carrying.order_by(newest).limit(50)) if names(r.request_body or "", key)]
    if found:
        return [request(r, "body") for r in found[:REQUESTS]]
    calls = writes.where(ExternalRequest.outcome == "success")
    count = s.exec(select(sa.func.count()).select_from(calls.subquery())).one()
    before = calls.where(ExternalRequest.started_at <= row.updated_at).order_by(newest)
    nearest = s.exec(before.limit(1)).first()
    return [request(nearest, "only" if count == 1 else "nearest", calls=count)] if nearest else []


def names(text: str, key: str) -> bool:
    """Whether ``text`` names ``key`` as a whole word (variant 12 is not named by 123)."""
    return re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", text) is not None


def request(r: ExternalRequest, match: str, **extra: Any) -> dict[str, Any]:
    """An audit row as the story shows it, with how it was matched."""
    fields = pick(r, REQUEST)
    return {"request_id": fields.pop("correlation_id"), **fields, "match": match, **extra}


def runs(s: Session, ids: Iterable[int | None]) -> dict[int | None, dict[str, Any]]:
    """The sync_runs rows of ``ids``, by id, as the story shows them."""
    wanted = [i for i in ids if i is not None]
    return {r.id: pick(r, RUN) for r in s.exec(select(SyncRun).where(col(SyncRun.id).in_(wanted)))}
