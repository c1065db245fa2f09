"""The Ingram pipeline's command line: the options of `catalog-sync sync ingram`, and `catalog-sync ingram
track | untrack | tracked` (the part numbers it keeps priced)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sync_core.errors import ConfigError

MAX_BATCH = 50


def _batch_size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_BATCH:
        raise argparse.ArgumentTypeError(
            f"must be 1 to {MAX_BATCH} (part numbers a call may carry), not {text}"
        )
    return value


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def sync_options(parser: argparse.ArgumentParser) -> None:
    """`sync ingram`'s own options."""
    parser.add_argument(
        "--batch-size",
        type=_batch_size,
        help=f"part numbers per price-and-availability call (1-{MAX_BATCH}, default 50)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=_at_least_one,
        help="price-and-availability calls in flight at once (default 5)",
    )
    parser.add_argument("--no-details", action="store_true", help="price only; fetch no product details")
    parser.add_argument(
        "--force",
        action="store_true",
        help="run even when a run finished less than INGRAM_MIN_INTERVAL_MIN ago",
    )
    parser.add_argument(
        "--shards",
        type=_at_least_one,
        help="split the tracked parts into N runs of the sync-ingram-shard deployment, taken by the pool's "
        "workers (start each with --limit 1 to spread them; default INGRAM_SHARDS; needs PREFECT_API_URL and "
        "`catalog-sync deploy`)",
    )


def flow_params(args: argparse.Namespace) -> dict[str, Any]:
    """The sync-ingram flow's parameters from `sync ingram`'s options (None: the flow's default)."""
    params: dict[str, Any] = {
        "batch_size": args.batch_size,
        "max_concurrent": args.max_concurrent,
        "details": not args.no_details,
        "force": args.force,
        "shards": args.shards,
    }
    return {name: value for name, value in params.items() if value is not None}


def _settings() -> Any:
    from sync_core.db import upgrade
    from sync_core.settings import load_settings

    settings = load_settings()
    upgrade(settings.database_url)
    return settings


def cmd_track(args: argparse.Namespace) -> int:
    from sync_core.pipelines.ingram.tracking import part_problem, read_parts_file, track

    if bool(args.file) == bool(args.parts):
        raise ConfigError("give part numbers or --file FILE (one of them)")
    settings = _settings()
    if args.file:
        found = read_parts_file(Path(args.file))
        origin = {part: f"{Path(args.file).name} line {line}" for part, line in found.parts.items()}
        bad = found.bad
    else:
        bad = [(n, problem) for n, part in enumerate(args.parts, 1) if (problem := part_problem(part))]
        origin = {part: "command line" for part in args.parts if part_problem(part) is None}
    added = track(settings.database_url, origin)
    print(f"tracking {len(origin)} part number(s): {added} new, {len(origin) - added} already tracked")
    if bad:
        where = "line" if args.file else "argument"
        source = f"{args.file}: " if args.file else ""
        shown = "; ".join(f"{where} {n}: {why}" for n, why in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ConfigError(
            f"{source}{len(bad)} {where}(s) left out ({shown}{more}); the other {len(origin)} are tracked"
        )
    return 0


def cmd_untrack(args: argparse.Namespace) -> int:
    from sync_core.pipelines.ingram.tracking import untrack

    removed, unknown = untrack(_settings().database_url, args.parts)
    print(f"no longer tracking {len(removed)} part number(s); their catalogue rows stay as last fetched")
    if unknown:
        raise ConfigError(f"not tracked: {', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''}")
    return 0


def cmd_tracked(args: argparse.Namespace) -> int:
    from sync_core.pipelines.ingram.tracking import tracked_parts

    parts = tracked_parts(_settings().database_url)
    for part in parts:
        print(f"{part.ingram_part_number}\t{part.added_at:%Y-%m-%d %H:%M}\t{part.origin}")
    print(f"{len(parts)} part number(s) tracked", file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    """`catalog-sync ingram track | untrack | tracked`."""
    ingram = sub.add_parser("ingram", help="the part numbers the Ingram Micro pipeline keeps priced")
    actions = ingram.add_subparsers(dest="ingram_action", metavar="ACTION", required=True)
    track = actions.add_parser(
        "track",
        help="track part numbers: PART... or --file F (one a line, or a CSV column)",
        description="Track part numbers given as arguments or read from a file: one a line, or a CSV (comma, "
        "semicolon or tab) whose column is named ingram_part_number, part_number or sku (else the first). "
        "Bad lines are reported with their line number (exit 2); the good ones are tracked.",
    )
    track.add_argument("parts", nargs="*", metavar="PART")
    track.add_argument("--file", metavar="F", help="a file of part numbers")
    track.set_defaults(handler=cmd_track)
    untrack = actions.add_parser("untrack", help="stop tracking part numbers (their rows stay)")
    untrack.add_argument("parts", nargs="+", metavar="PART")
    untrack.set_defaults(handler=cmd_untrack)
    actions.add_parser("tracked", help="list the tracked part numbers").set_defaults(handler=cmd_tracked)
