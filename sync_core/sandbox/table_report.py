"""How a table's rows compare with a simulator's oracle: one report and one comparison for every oracle."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass
class TableReport:
    """Rows equal to the oracle, rows that differ (key, column, expected, actual), missing and extra rows;
    ``key_name`` names the key in the JSON summary ("part", "ploomes_id")."""

    key_name: str = "key"
    correct: int = 0
    wrong: list[tuple[Any, str, Any, Any]] = field(default_factory=list)
    missing: list[Any] = field(default_factory=list)
    unexpected: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the table holds exactly the oracle's rows."""
        return not (self.wrong or self.missing or self.unexpected)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (the first 20 of each list)."""
        wrong = [
            {self.key_name: key, "column": column, "expected": str(exp), "actual": str(act)}
            for key, column, exp, act in self.wrong[:20]
        ]
        return {
            "ok": self.ok,
            "correct": self.correct,
            "wrong_count": len(self.wrong),
            "wrong": wrong,
            "missing_count": len(self.missing),
            "missing": self.missing[:20],
            "unexpected_count": len(self.unexpected),
            "unexpected": self.unexpected[:20],
        }


def compare_rows(
    expected: Mapping[K, Mapping[str, Any]],
    rows: Iterable[Mapping[str, Any]],
    *,
    key: Callable[[Mapping[str, Any]], K],
    fields: Sequence[str],
    cell: Callable[[str, Any], Any],
    key_name: str,
) -> TableReport:
    """Compare table rows (``key`` of a row → its oracle row; only ``fields`` are compared, each value as
    ``cell(column, value)`` makes it) with the oracle."""
    report = TableReport(key_name)
    seen: set[K] = set()
    for row in rows:
        found = key(row)
        seen.add(found)
        want = expected.get(found)
        if want is None:
            report.unexpected.append(found)
            continue
        differences = [
            (found, column, want[column], row.get(column))
            for column in fields
            if cell(column, want[column]) != cell(column, row.get(column))
        ]
        report.wrong += differences
        report.correct += not differences
    report.missing = [k for k in expected if k not in seen]
    return report
