"""One item's story from the state store (`catalog-sync explain`, `GET /items/{pipeline}/{key}`): what the
source last gave and when, the rule that makes the target's values of it, what the target holds (the ledger
of a remote target, the row of a table target), the run and requests that wrote it, and what is still open
(failures, held writes). Reads only the state store; never asks a provider.

The ledger's values come with the run and requests that wrote them: sync_core.engine.explain_writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_core.db import session_scope
from sync_core.engine.connections import parse_run_key
from sync_core.engine.explain_writes import RUN, escape, like, pick, runs, target_entry, utc
from sync_core.engine.snapshots import plain
from sync_core.engine.spec import SOURCE, TARGET
from sync_core.tables import Failure, HeldWrite, ItemLink, LedgerEntry, SourceSnapshot, SyncRun

if TYPE_CHECKING:
    from sync_core.engine.spec import Pipeline
    from sync_core.settings import Settings

OPEN_HELD = ("deferred", "held")
SHOWN = 20  # rows of a kind shown at most, and entries of a long list value (an event's zones)
LINK = ("source", "target", "source_key", "target_key", "method", "linked_at")
FAILURE = ("pipeline", "context", "item_key", "status", "reason", "error_class", "attempts")
FAILURE_TIMES = ("first_failed_at", "last_failed_at", "next_retry_at")
HELD = ("run_id", "target", "target_key", "kind", "source_key", "value", "before", "reason", "status")


@dataclass(frozen=True)
class Explaining:
    """How a pipeline's items are told (``Pipeline.explain``). ``rule``: how the target's values are made of
    the source's, in words and numbers; ``wanted``: what the rule makes now of a snapshot (its source key and
    values → kind → value, ``{"error": reason}`` for one it refuses); ``table`` and ``key``: the SQLModel table
    a table target writes and its key column, ``changed`` its column of when a row was last written."""

    rule: Mapping[str, Any] = field(default_factory=dict)
    wanted: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None
    table: Any = None
    key: str = "id"
    changed: str | None = "last_changed_at"


def explain_item(settings: Settings, spec: Pipeline, key: str) -> dict[str, Any] | None:
    """The story of ``key`` (a source key or a target key) in pipeline ``spec``, JSON-ready; None when the
    state store knows nothing of it. Raises PersistenceError when the store cannot answer."""
    how = spec.explain(settings) if spec.explain is not None else Explaining()
    with session_scope(settings.database_url) as s:
        names = _connection_names(s, spec)
        links = _links(s, names, key) if {SOURCE, TARGET} <= set(names) else []
        source_keys = {key, *(link.source_key for link in links)}
        snapshots = _snapshots(s, spec.name, source_keys) or _snapshots_naming(s, spec.name, key)
        source_keys |= {snap.source_key for snap in snapshots}
        target_keys = {key, *(link.target_key for link in links)}
        target_keys.update(t for snap in snapshots for t in snap.target_keys)
        wanted = {snap.source_key: _wanted(how, snap.source_key, snap.values) for snap in snapshots}
        by_target = {
            (t, kind): value
            for snap in snapshots
            for t in snap.target_keys
            for kind, value in wanted[snap.source_key].items()
        }
        ledger = _ledger(s, names.get(TARGET, set()), target_keys)
        targets = [target_entry(s, row, by_target.get((row.target_key, row.kind))) for row in ledger]
        rows = _rows(s, spec.name, how, target_keys) if how.table is not None else []
        failures = _failures(s, spec.name, source_keys | target_keys)
        held = _held(s, spec.name, source_keys, target_keys)
        if not (snapshots or links or targets or rows or failures or held):
            return None
        readers = runs(s, [snap.run_id for snap in snapshots])
        sources = [
            {
                **pick(snap, ("pipeline", "source_key", "values", "read_at", "target_keys")),
                "run": readers.get(snap.run_id),
                "wanted": wanted[snap.source_key],
            }
            for snap in snapshots
        ]
        return {
            "pipeline": spec.name,
            "key": key,
            "rule": plain(dict(how.rule)),
            "sources": sources,
            "links": [pick(link, LINK) for link in links],
            "targets": targets,
            "rows": rows,
            "failures": failures,
            "held": held,
        }


def _connection_names(s: Session, spec: Pipeline) -> dict[str, set[str]]:
    """Role → the names of the connections the pipeline's runs used (its default ones included)."""
    keys = s.exec(select(SyncRun.pipeline).where(_of(col(SyncRun.pipeline), spec.name)).distinct())
    names: dict[str, set[str]] = {role: {cls.provider} for role, cls in spec.connectors.items()}
    for run_key in keys:
        for role, name in parse_run_key(run_key)[1].items():
            names.setdefault(role, set()).add(name)
    return names


def _of(column: Any, name: str) -> Any:
    """Rows of pipeline ``name``: keyed by its name, by name@connections or by a shard's name#part."""
    stem = escape(name)
    return sa.or_(
        column == name, column.like(f"{stem}@%", escape="\\"), column.like(f"{stem}#%", escape="\\")
    )


def _links(s: Session, names: dict[str, set[str]], key: str) -> list[ItemLink]:
    query = select(ItemLink).where(
        col(ItemLink.source).in_(names[SOURCE]),
        col(ItemLink.target).in_(names[TARGET]),
        sa.or_(col(ItemLink.source_key) == key, col(ItemLink.target_key) == key),
    )
    return list(s.exec(query.limit(SHOWN)))


def _snapshots(s: Session, name: str, keys: Collection[str]) -> list[SourceSnapshot]:
    query = select(SourceSnapshot).where(_of(col(SourceSnapshot.pipeline), name))
    return list(s.exec(query.where(col(SourceSnapshot.source_key).in_(list(keys))).limit(SHOWN)))


def _snapshots_naming(s: Session, name: str, target_key: str) -> list[SourceSnapshot]:
    """The snapshots that map to ``target_key`` (a scan of the pipeline's: only when no key led to one)."""
    text = sa.cast(col(SourceSnapshot.target_keys), sa.Text)
    named = like(text, json.dumps(target_key, ensure_ascii=False))
    query = select(SourceSnapshot).where(_of(col(SourceSnapshot.pipeline), name), named)
    return [snap for snap in s.exec(query.limit(SHOWN)) if target_key in snap.target_keys]


def _wanted(how: Explaining, key: str, values: dict[str, Any]) -> dict[str, Any]:
    """What the rule makes now of a snapshot's values (an older snapshot's shape may not fit it)."""
    if how.wanted is None:
        return {}
    try:
        return plain(how.wanted(key, values))  # type: ignore[no-any-return]
    except (KeyError, TypeError, ValueError) as exc:
        return {"error": f"the rule cannot read this snapshot: {type(exc).__name__}: {exc}"}


def _ledger(s: Session, targets: Collection[str], keys: Collection[str]) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(
        col(LedgerEntry.target).in_(list(targets)), col(LedgerEntry.target_key).in_(list(keys))
    )
    return list(s.exec(query.order_by(col(LedgerEntry.target_key), col(LedgerEntry.kind))))


def _rows(s: Session, name: str, how: Explaining, keys: Collection[str]) -> list[dict[str, Any]]:
    """The table target's rows of ``keys``, each with the run that was going when it was last written."""
    table: sa.Table = how.table.__table__
    column = table.c[how.key]
    try:
        parse: Callable[[str], Any] = column.type.python_type
    except NotImplementedError:
        parse = str
    parsed = []
    for key in keys:
        try:
            parsed.append(parse(key))
        except (TypeError, ValueError):
            continue  # not a key of this table (a source key of another shape)
    found = s.execute(sa.select(table).where(column.in_(parsed))).mappings() if parsed else ()
    rows = []
    for row in found:
        changed = row.get(how.changed) if how.changed else None
        rows.append(
            {
                "table": table.name,
                "key": str(row[how.key]),
                "values": {k: _short(plain(utc(v))) for k, v in row.items()},
                "written_at": utc(changed),
                "written_by": _writer(s, name, changed) if changed is not None else None,
            }
        )
    return rows


def _writer(s: Session, name: str, at: datetime) -> dict[str, Any] | None:
    """The run of the pipeline that was going at ``at`` (a pipeline's runs on one connection never overlap)."""
    query = select(SyncRun).where(
        _of(col(SyncRun.pipeline), name),
        col(SyncRun.dry_run).is_(False),
        SyncRun.started_at <= at,
        sa.or_(col(SyncRun.finished_at).is_(None), col(SyncRun.finished_at) >= at),
    )
    found = s.exec(query.order_by(col(SyncRun.started_at).desc()).limit(1)).first()
    return pick(found, RUN) if found is not None else None


def _short(value: Any) -> Any:
    """A long list cut to its first SHOWN entries and a count of the rest."""
    if isinstance(value, list) and len(value) > SHOWN:
        return [*value[:SHOWN], f"... {len(value) - SHOWN} more"]
    return value


def _failures(s: Session, name: str, keys: Collection[str]) -> list[dict[str, Any]]:
    query = select(Failure).where(
        _of(col(Failure.pipeline), name), col(Failure.item_key).in_(list(keys)), Failure.status != "resolved"
    )
    return [
        {
            **pick(f, FAILURE),
            "last_error": (f.last_error.splitlines() or [""])[0][:300],
            **pick(f, FAILURE_TIMES),
        }
        for f in s.exec(query.order_by(col(Failure.last_failed_at).desc()).limit(SHOWN))
    ]


def _held(
    s: Session, name: str, source_keys: Collection[str], target_keys: Collection[str]
) -> list[dict[str, Any]]:
    query = select(HeldWrite).where(
        _of(col(HeldWrite.pipeline), name),
        col(HeldWrite.status).in_(OPEN_HELD),
        sa.or_(
            col(HeldWrite.target_key).in_(list(target_keys)), col(HeldWrite.source_key).in_(list(source_keys))
        ),
    )
    return [
        pick(h, (*HELD, "created_at"))
        for h in s.exec(query.order_by(col(HeldWrite.created_at).desc()).limit(SHOWN))
    ]
