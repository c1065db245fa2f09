"""`catalog-sync explain PIPELINE KEY [--json]`: one item's story from the state store (sync_core.engine.explain):
the source's last values and when they were read, the rule, what the target holds, the run and requests that
wrote it, and any open failure or held write. An unknown item is one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sync_core.errors import ConfigError

INDENT = " " * 10
MATCHES = {
    "named": "",
    "body": " (its audited body carries the item)",
    "only": " (the run's only {kind} call)",
    "nearest": " (the last of the run's {calls} {kind} calls before the value was recorded; which of them "
    "carried the item is not audited)",
}


def add_explain_command(sub: Any) -> None:
    explain = sub.add_parser(
        "explain",
        help="one item's story: the source's last values, the rule, what the target holds, the writes, "
        "open failures and held writes",
        description="Tell one item's story from the state store, to answer \"why does the store show this "
        'value?" without reading logs: the values the source last gave and when they were read (by which '
        "run), the rule that turns them into the target's values (e.g. multiplier, markup, rounding, stock "
        "rule) and what it makes of them now, what the ledger says the target holds (or the row a table "
        "target holds), the run that wrote it and its requests (request id, status, time), and any open "
        "failure or held write. KEY is the item's key at the source (a supplier's variant id or part number, a "
        "CRM product id, <store>/<variant id>, <base plan>/<plan>) or at the target (a store's variant id, an "
        "event id). "
        "Reads the state store only. Exit 2 when the store knows nothing of the item.",
    )
    explain.add_argument("pipeline", metavar="PIPELINE", help="a pipeline's name or command (e.g. products)")
    explain.add_argument("key", metavar="KEY", help="the item's source or target key")
    explain.add_argument("--json", action="store_true", help="print the story as JSON")
    explain.set_defaults(handler=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    from catalog_sync.runner import read_settings
    from sync_core.db import upgrade
    from sync_core.engine.explain import explain_item
    from sync_core.engine.registry import pipeline

    spec = pipeline(args.pipeline)
    settings = read_settings()
    upgrade(settings.database_url)
    story = explain_item(settings, spec, args.key)
    if story is None:
        raise ConfigError(
            f"{spec.name} knows no item {args.key!r}: never read, linked, written or failed (a source key "
            "or a target key)"
        )
    print(json.dumps(story, indent=2, ensure_ascii=False) if args.json else "\n".join(story_lines(story)))
    return 0


def story_lines(story: dict[str, Any]) -> list[str]:
    """The story as text for people, a section a line or a few (see the module docstring)."""
    lines = [f"{story['pipeline']} · {story['key']}"]
    for source in story["sources"]:
        lines.append(_line("source", f"{source['source_key']} read {source['read_at']}{_by(source['run'])}"))
        lines.append(INDENT + _pairs(source["values"]))
        if source["wanted"]:
            lines.append(_line("wanted", _pairs(source["wanted"])))
    if not story["sources"]:
        lines.append(_line("source", "no snapshot: not read since snapshots are kept"))
    for name, text in story["rule"].items():
        lines.append(_line("rule" if name == next(iter(story["rule"])) else "", f"{name}: {_text(text)}"))
    for link in story["links"]:
        lines.append(
            _line(
                "link",
                f"{link['source']} {link['source_key']} → {link['target']} {link['target_key']} "
                f"({link['method']}, {link['linked_at']})",
            )
        )
    for entry in story["targets"]:
        lines.extend(_target(entry))
    for row in story["rows"]:
        lines.append(
            _line(
                "row", f"{row['table']} {row['key']}: written at {row['written_at']}{_by(row['written_by'])}"
            )
        )
        lines.extend(f"{INDENT}{name}: {_text(value)}" for name, value in row["values"].items())
    if not (story["targets"] or story["rows"]):
        lines.append(_line("target", "holds nothing we know of (no ledger entry, no row)"))
    for f in story["failures"]:
        retry = f", next try {f['next_retry_at']}" if f["status"] == "pending" and f["next_retry_at"] else ""
        lines.append(
            _line(
                "failure",
                f"{f['context']} {f['item_key']}: {f['status']}, {f['reason']} ({f['error_class']}), "
                f"{f['attempts']} attempt(s), last {f['last_failed_at']}{retry}: {f['last_error']}",
            )
        )
    if not story["failures"]:
        lines.append(_line("failures", "none open"))
    for h in story["held"]:
        lines.append(
            _line(
                "held",
                f"{h['kind']} {h['target_key']} {_text(h['value'])} (the ledger had {_text(h['before'])}): "
                f"{h['status']} by run {h['run_id']}, {h['reason']}, since {h['created_at']}",
            )
        )
    if not story["held"]:
        lines.append(_line("held", "none"))
    return lines


def _target(entry: dict[str, Any]) -> list[str]:
    if entry["origin"] == "written":
        how = f"written{_by(entry['run'])} at {entry['updated_at']}"
    else:
        how = f"{entry['origin']} (read in the store's catalogue) at {entry['updated_at']}"
    if entry["as_wanted"] is True:
        how += "; what the rule makes of the last read now"
    elif entry["as_wanted"] is False:
        how += "; NOT what the rule makes of the last read now (a change not written yet: see failures, held)"
    head = f"{entry['target']} {entry['target_key']} {entry['kind']} {_text(entry['value'])}: {how}"
    lines = [_line("target", head)]
    for r in entry["requests"]:
        note = MATCHES[r["match"]].format(kind=entry["kind"], calls=r.get("calls"))
        lines.append(
            f"{INDENT}request {r['request_id']} {r['method']} {r['url']} → {r['status']} {r['outcome']} "
            f"at {r['started_at']}{note}"
        )
    if entry["origin"] == "written" and not entry["requests"]:
        lines.append(f"{INDENT}no audited request of that run found for it")
    return lines


def _line(label: str, text: str) -> str:
    return f"{label:<{len(INDENT)}}{text}"


def _by(run: dict[str, Any] | None) -> str:
    return f" by run {run['id']} ({run['scope']}, {run['status']})" if run else ""


def _pairs(values: dict[str, Any]) -> str:
    return " · ".join(f"{name} {_text(value)}" for name, value in values.items())


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
