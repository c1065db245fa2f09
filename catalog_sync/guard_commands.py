"""`catalog-sync release RUN_ID` and `catalog-sync discard RUN_ID`: an operator's answer to a run the guardrail
held (sync_core.engine.guard). `release` sends its held writes through the release-held flow; `discard`
drops them."""

from __future__ import annotations

import argparse
from typing import Any

from catalog_sync.runner import EXIT_OK, preflight, read_settings, run_flow


def add_guard_commands(sub: Any, add_wait: Any) -> None:
    release = sub.add_parser(
        "release",
        help="send the writes of a run the guardrail held (see `catalog-sync runs`: status held)",
        description="Send the writes a held run kept back, through the normal write path (audit, ledger, "
        "failures), as a run of its pipeline; a write whose item a later run wrote since is skipped. The held "
        "run ends `released`.",
    )
    release.add_argument("run_id", type=int, metavar="RUN_ID", help="the held run's id")
    add_wait(release)
    release.set_defaults(handler=cmd_release)
    discard = sub.add_parser(
        "discard",
        help="drop the writes of a run the guardrail held; nothing is sent",
        description="Drop the writes a held run kept back; the run ends `discarded`. The next run plans "
        "those items again from what the target holds.",
    )
    discard.add_argument("run_id", type=int, metavar="RUN_ID", help="the held run's id")
    discard.set_defaults(handler=cmd_discard)


def cmd_release(args: argparse.Namespace) -> int:
    from sync_core.db import upgrade
    from sync_core.engine.connections import parse_run_key
    from sync_core.engine.registry import pipeline
    from sync_core.engine.settle import held_run
    from sync_core.engine.spec import TARGET

    settings = read_settings()
    upgrade(settings.database_url)
    held = held_run(settings.database_url, args.run_id)  # one line when there is no such held run
    name, chosen = parse_run_key(held.pipeline)
    waiting = {} if args.wait is None else {"run_lease_wait_s": args.wait}
    settings = preflight(pipeline(name), (TARGET,), chosen, waiting)
    from flows.release import release_held

    return run_flow(settings, release_held, run_id=args.run_id)


def cmd_discard(args: argparse.Namespace) -> int:
    from sync_core.db import upgrade
    from sync_core.engine.settle import discard

    settings = read_settings()
    upgrade(settings.database_url)
    dropped = discard(settings.database_url, args.run_id)
    print(f"run {args.run_id}: {dropped} held write(s) discarded; nothing was sent")
    return EXIT_OK
