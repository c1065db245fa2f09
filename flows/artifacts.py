"""Prefect artifacts every run leaves: a summary table, a diff preview for dry runs, and progress."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

COUNTS = ("fetched", "mapped", "pushed", "unchanged", "skipped", "failed", "requests")


def start_progress(pipeline: str) -> UUID:
    return create_progress_artifact(0.0, key=f"{pipeline}-progress", description=f"{pipeline}: pages done")


def report_progress(artifact_id: UUID, done: int, total: int | None) -> None:
    if total:
        update_progress_artifact(artifact_id, min(100.0, 100.0 * done / total))


def publish_summary(summary: dict[str, Any]) -> None:
    """A table of the run's counters, its failures by reason, and (dry run) the first diffs."""
    key = f"{summary['pipeline']}-{summary['scope']}-summary".replace("_", "-")
    rows = [{"metric": name, "value": summary.get(name)} for name in ("status", "duration_s", *COUNTS)]
    rows += [
        {"metric": f"reason {reason}", "value": n} for reason, n in sorted(summary.get("reasons", {}).items())
    ]
    create_table_artifact(rows, key=key, description=f"run {summary['run_id']}: {summary['status']}")
    diffs = summary.get("diffs")
    if summary.get("dry_run") and diffs:
        lines = ["| kind | target | source | new value |", "|---|---|---|---|"]
        lines += [f"| {d['kind']} | {d['target']} | {d['source']} | `{d['value']}` |" for d in diffs]
        create_markdown_artifact(
            "**Dry run: first changes that would be written**\n\n" + "\n".join(lines), key=f"{key}-dry-run"
        )
