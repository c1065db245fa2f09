"""The part numbers the pipeline tracks: read from a file (one a line, or a column of a CSV), added, removed,
listed. A bad line is reported with its number and the good ones are kept."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col, select

from sync_core.db import in_chunks, session_scope
from sync_core.errors import ConfigError
from sync_core.pipelines.ingram.tables import TrackedPart
from sync_core.tables import utcnow
from sync_core.upsert import upsert

PART_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,39}")
# Header names (lower case, without spaces, dashes or underscores) of the column that holds part numbers.
PART_COLUMNS = ("ingrampartnumber", "partnumber", "part", "imsku", "sku")
DELIMITERS = ",;\t"


@dataclass
class PartsFile:
    """What a parts file holds: part numbers with the line each came from, and the lines refused."""

    parts: dict[str, int] = field(default_factory=dict)  # part number → its (first) line
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)


def part_problem(text: str) -> str | None:
    """Why ``text`` is not a part number (None when it is one)."""
    if not PART_PATTERN.fullmatch(text):
        shown = text if len(text) <= 40 else text[:37] + "..."
        return f"{shown!r} is not a part number (letters, digits and . _ / -, at most 40)"
    return None


def _column(header: list[str]) -> int | None:
    names = [re.sub(r"[\s_-]", "", name.lower()) for name in header]
    for wanted in PART_COLUMNS:
        if wanted in names:
            return names.index(wanted)
    return None


def read_parts(text: str) -> PartsFile:
    """Part numbers of a file: one a line, or a CSV (comma, semicolon or tab) whose column is named like
    ``ingram_part_number`` / ``part_number`` / ``sku`` (the first column when none is). Blank lines and lines
    starting with ``#`` are passed by; a repeated part number is kept once."""
    found = PartsFile()
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    delimiter = next((d for d in DELIMITERS if d in first), None)
    rows: list[tuple[int, list[str]]]
    if delimiter is None:
        rows = [(n, [line]) for n, line in enumerate(lines, 1)]
    else:
        rows = list(enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1))
    column = 0
    header_at = next((i for i, (_, row) in enumerate(rows) if any(c.strip() for c in row)), None)
    if header_at is not None:
        header = rows[header_at][1]
        named = _column(header)
        if named is not None or (delimiter is not None and part_problem(header[0].strip()) is not None):
            column = named or 0
            rows = rows[header_at + 1 :]  # a header line, not a part number
    for number, row in rows:
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if column >= len(cells):
            found.bad.append((number, f"no column {column + 1}"))
            continue
        problem = part_problem(cells[column])
        if problem is not None:
            found.bad.append((number, problem))
        else:
            found.parts.setdefault(cells[column], number)
    return found


def read_parts_file(path: Path) -> PartsFile:
    """:func:`read_parts` of a file; ConfigError (one line) when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return read_parts(text)


def track(url: str, parts: dict[str, str]) -> int:
    """Track these part numbers (part → where it came from); returns how many were not tracked before."""
    if not parts:
        return 0
    now = utcnow()
    with session_scope(url) as session:
        before = len(known_parts(session, list(parts)))
        rows = [{"ingram_part_number": p, "origin": o[:255], "added_at": now} for p, o in parts.items()]
        upsert(session, TrackedPart, rows, keys=("ingram_part_number",), update=())
    return len(parts) - before


def untrack(url: str, parts: Sequence[str]) -> tuple[list[str], list[str]]:
    """Stop tracking these part numbers; (removed, not tracked). Their catalogue rows stay as last fetched."""
    with session_scope(url) as session:
        held = known_parts(session, parts)
        for chunk in in_chunks(sorted(held)):
            session.execute(sa.delete(TrackedPart).where(col(TrackedPart.ingram_part_number).in_(chunk)))
    removed = [p for p in parts if p in held]
    return removed, [p for p in parts if p not in held]


def known_parts(session: object, parts: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in in_chunks(list(dict.fromkeys(parts))):
        query = select(TrackedPart.ingram_part_number).where(col(TrackedPart.ingram_part_number).in_(chunk))
        found.update(session.exec(query))  # type: ignore[attr-defined]
    return found


def tracked_parts(url: str) -> list[TrackedPart]:
    """Every tracked part number, in order."""
    with session_scope(url) as session:
        query = select(TrackedPart).order_by(col(TrackedPart.ingram_part_number))
        return list(session.exec(query))


def tracked_numbers(url: str) -> list[str]:
    """Every tracked part number, in order (what a run prices)."""
    with session_scope(url) as session:
        query = select(TrackedPart.ingram_part_number).order_by(col(TrackedPart.ingram_part_number))
        return list(session.exec(query))
