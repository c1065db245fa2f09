"""The ledger: per target connection, item and kind, the fingerprint of the value the target is known to hold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from sync_core.db import in_chunks, session_scope
from sync_core.engine.plan import LedgerKey
from sync_core.models import Write
from sync_core.tables import LedgerEntry, utcnow
from sync_core.upsert import upsert_values

LEDGER_COLUMNS = ("target", "target_key", "kind", "fingerprint", "value", "origin", "run_id", "updated_at")


def load_ledger(url: str, *, target: str, target_keys: Iterable[str]) -> dict[LedgerKey, str]:
    """(target_key, kind) → fingerprint of the value the target is known to hold."""
    keys = sorted(set(target_keys))
    known: dict[LedgerKey, str] = {}
    with session_scope(url) as session:
        for chunk in in_chunks(keys):
            rows = session.exec(
                select(LedgerEntry.target_key, LedgerEntry.kind, LedgerEntry.fingerprint).where(
                    LedgerEntry.target == target, col(LedgerEntry.target_key).in_(chunk)
                )
            )
            known.update({(key, kind): fp for key, kind, fp in rows})
    return known


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
