"""The ledger: per target connection, item and kind, the fingerprint of the value the target is known to hold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import Session, select

from sync_core.db import session_scope
from sync_core.engine.plan import LedgerKey
from sync_core.json_codec import loads
from sync_core.lookup import rows_by_keys
from sync_core.models import Write
from sync_core.tables import LedgerEntry, utcnow
from sync_core.upsert import upsert_values

LEDGER_COLUMNS = ("target", "target_key", "kind", "fingerprint", "value", "origin", "run_id", "updated_at")


def _held(url: str, target: str, target_keys: Iterable[str], column: str) -> list[tuple[Any, ...]]:
    """(target_key, kind, ``column``) of the ledger rows of ``target`` for these items, in one query."""
    with session_scope(url) as session:
        return rows_by_keys(
            session,
            LedgerEntry,
            ("target_key", "kind", column),
            where={"target": target},
            key="target_key",
            keys=target_keys,
        )


def load_ledger(url: str, *, target: str, target_keys: Iterable[str]) -> dict[LedgerKey, str]:
    """(target_key, kind) → fingerprint of the value the target is known to hold."""
    return {(key, kind): fp for key, kind, fp in _held(url, target, target_keys, "fingerprint")}


def record_values(
    session: Session, *, target: str, writes: Sequence[Write], origin: str, run_id: int | None
) -> None:
    """Upsert the ledger rows for values now held by the target, inside the caller's transaction."""
    now = utcnow()
    upsert_values(
        session,
        LedgerEntry,
        LEDGER_COLUMNS,
        ((target, w.target_key, w.kind, w.fingerprint, w.value, origin, run_id, now) for w in writes),
        keys=("target", "target_key", "kind"),
        update=LEDGER_COLUMNS[3:],
    )


def ledger_value(url: str, *, target: str, target_key: str, kind: str) -> LedgerEntry | None:
    with session_scope(url) as session:
        return session.exec(
            select(LedgerEntry).where(
                LedgerEntry.target == target, LedgerEntry.target_key == target_key, LedgerEntry.kind == kind
            )
        ).first()


def load_ledger_values(
    url: str, *, target: str, writes: Sequence[Write], kinds: Sequence[str]
) -> dict[LedgerKey, dict[str, Any]]:
    """(target_key, kind) → the value the target is known to hold, for those of ``writes`` of ``kinds``."""
    wanted = {(w.target_key, w.kind) for w in writes if w.kind in kinds}
    if not wanted:
        return {}
    rows = _held(url, target, {key for key, _ in wanted}, "value")
    return {(key, kind): _json(value) for key, kind, value in rows if (key, kind) in wanted}


def _json(value: Any) -> dict[str, Any]:
    """A JSON column's value as the driver gives it (text on SQLite, a dict on PostgreSQL)."""
    found: dict[str, Any] = loads(value) if isinstance(value, str | bytes) else dict(value)
    return found
