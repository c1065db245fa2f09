"""`catalog-sync drift [PIPELINE] [--repair] [--sample N]`: the ``check-drift`` flow from the command line.

Exit codes: 0 no drift, or every drifted value repaired; 1 drift found (without --repair), a repair that left
values unwritten, or the run failed; 2 a pipeline not known or whose target can't be checked, settings, or a
provider unreachable (one line, nothing run); 75 another run of the pipeline holds its lease.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sync_core.errors import ConfigError


def add_drift_command(sub: Any) -> None:
    from catalog_sync.cli import positive_int
    from catalog_sync.sync_commands import add_wait

    drift = sub.add_parser(
        "drift",
        help="read the target back; report values edited behind our back, not applied, or moved at the source",
        description="Read the target of PIPELINE (or of every configured pipeline whose target can be read) "
        "back and compare it with what the ledger says it holds and what the source wants now: 'edited' (the "
        "target changed behind our back), 'not-applied' (a write that failed, or was never recorded), "
        "'source-moved' (the source changed since). Publishes a report artifact and a "
        "catalog-sync.drift-found event. Exit 0 no drift (or all repaired), 1 drift found, 2 a pipeline that "
        "cannot be checked.",
    )
    drift.add_argument("pipeline", nargs="?", metavar="PIPELINE", help="a pipeline (default: every one)")
    drift.add_argument(
        "--repair",
        action="store_true",
        help="write the wanted values of what drifted, through the normal write path (ledger, failures, audit)",
    )
    drift.add_argument(
        "--sample",
        type=positive_int,
        metavar="N",
        help="compare a random sample of N items (the target and the source are still read whole)",
    )
    add_wait(drift)
    drift.set_defaults(handler=cmd_drift)


def _chosen(name: str | None) -> list[Any]:
    """The pipelines to check: the named one (ConfigError when unknown or its target can't be checked), or
    every configured one that can be (ConfigError when none)."""
    from catalog_sync.runner import read_settings
    from sync_core.engine.drift import cannot_check
    from sync_core.engine.registry import pipeline, pipelines

    if name:
        spec = pipeline(name)
        if spec.drift is None:
            raise ConfigError(cannot_check(spec.name))
        return [spec]
    settings = read_settings()
    found = [spec for spec in pipelines().values() if spec.drift is not None and spec.configured(settings)]
    if not found:
        raise ConfigError("no configured pipeline has a target that can be checked for drift")
    return found


def cmd_drift(args: argparse.Namespace) -> int:
    from catalog_sync.runner import EXIT_OK, preflight, run_flow

    waiting = {} if args.wait is None else {"run_lease_wait_s": args.wait}  # --wait, as every run command
    for spec in _chosen(args.pipeline):
        settings = preflight(spec, None, None, waiting)  # both sides are read: both are checked
    from flows.check_drift import check_drift

    checked: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []  # (summary, its drifted examples)

    def check(**params: Any) -> Any:
        """The flow, keeping each run's summary; its examples are printed below it, not as a summary line."""
        returned = check_drift(**params)
        for summary in returned if isinstance(returned, list) else [returned]:
            if isinstance(summary, dict):
                checked.append((summary, summary.pop("drift_examples", [])))
        return returned

    code = run_flow(settings, check, pipeline=args.pipeline, repair=args.repair, sample=args.sample)
    for summary, examples in checked:
        for e in examples:
            print(
                f"  {'drift':<12} {summary['pipeline']} {e['drift']}: {e['kind']} of {e['target']} "
                f"({e['source']}) holds {e['holds']}, wants {e['wants']}"
            )
    return code if code != EXIT_OK else _verdict([summary for summary, _ in checked], repair=args.repair)


def _verdict(checked: list[dict[str, Any]], *, repair: bool) -> int:
    """Exit 1 with one line on stderr when drift is left: found (report mode) or not repaired."""
    from catalog_sync.runner import EXIT_FAILED, EXIT_OK

    if repair:
        left = sum(int(s.get("drift_unrepaired") or 0) for s in checked)
        guarded = sum(int(s.get("drift_left_to_sync") or 0) for s in checked)
        if left or guarded:
            why = [f"{left} value(s) refused (see `catalog-sync health`)"] if left else []
            if guarded:
                why.append(f"{guarded} source value(s) the guardrail would keep back, left to the next sync")
            print(f"catalog-sync: drift repair left {'; '.join(why)}", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK
    found = [
        f"{s['pipeline']} {s['drift_edited']} edited, {s['drift_not_applied']} not applied, "
        f"{s['drift_source_moved']} source moved"
        for s in checked
        if s.get("drift_edited") or s.get("drift_not_applied") or s.get("drift_source_moved")
    ]
    if found:
        print(
            f"catalog-sync: drift found: {'; '.join(found)} (`--repair` writes the wanted values)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK
