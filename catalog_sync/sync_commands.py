"""`catalog-sync sync <pipeline>`, `sync catalogue` and `retry-failures`, built from the registry.

Every registered pipeline gets `sync <command>` (also reachable by its name) with ``--strategy``,
``--connection ROLE=NAME`` and ``--wait``, and runs the flow its declaration names. Two flows take options of
their own, the ones users know (`sync products --full --since-ms N --dry-run`, `sync events --url URL`); any
other pipeline runs through the generic ``sync-pipeline`` flow.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from catalog_sync.runner import preflight, run_flow
from sync_core.engine.spec import SOURCE, TARGET
from sync_core.errors import ConfigError

if TYPE_CHECKING:
    from sync_core.engine.spec import Pipeline


@dataclass(frozen=True)
class FlowCall:
    """How `sync <pipeline>` runs one flow: its help line, the options only it takes, and the run (the
    pre-run checks, then the flow with its parameters; ``strategy`` is one the pipeline declares)."""

    help: Callable[[Pipeline], str]
    options: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Pipeline, str], int]


def _waiting(args: argparse.Namespace) -> dict[str, object]:
    """``--wait SECONDS`` as the run's RUN_LEASE_WAIT_S (checked like the setting)."""
    return {} if args.wait is None else {"run_lease_wait_s": args.wait}


def _accepted(spec: Pipeline, args: argparse.Namespace, params: dict[str, Any]) -> dict[str, object]:
    """The settings of the run: the ones its own parameters stand for (the pipeline's ``param_settings``),
    once the pipeline accepts them (ConfigError otherwise), and ``--wait``."""
    if spec.check_params is not None:
        spec.check_params(params)
    given = {
        spec.param_settings[name]: value for name, value in params.items() if name in spec.param_settings
    }
    return given | _waiting(args)


def _dry_run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="write nothing; show what would change")


def _products_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--full", action="store_true", help="list the whole catalogue, re-read the store")
    parser.add_argument(
        "--since-ms", type=int, help="incremental window in ms back from now (overrides the cursor)"
    )
    _dry_run_option(parser)


def _run_products(args: argparse.Namespace, spec: Pipeline, strategy: str) -> int:
    if args.full:
        if args.strategy not in (None, "full"):
            raise ConfigError(f"--full and --strategy {args.strategy} disagree: give one")
        strategy = "full"
    if args.since_ms is not None and strategy != "incremental":
        given = "--full" if args.full else f"--strategy {strategy}"
        raise ConfigError(f"--since-ms applies to incremental syncs, not {given}")
    overrides = _accepted(spec, args, {"since_ms": args.since_ms} if args.since_ms is not None else {})
    settings = preflight(spec, None, args.connections, overrides)
    from flows.sync_products import sync_products

    return run_flow(
        settings,
        sync_products,
        scope=strategy,
        since_ms=args.since_ms,
        dry_run=args.dry_run,
        connections=args.connections or None,
    )


def _feed_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", help="read this feed instead: http(s)://... or file:///path/to/answer.xml (a saved answer)"
    )


def _run_feed(args: argparse.Namespace, spec: Pipeline, strategy: str) -> int:
    # The pre-run check reads the feed given here; only a URL given here travels as the run's parameter.
    overrides = _accepted(spec, args, {"url": args.url} if args.url else {})
    settings = preflight(spec, None, args.connections, overrides)
    from flows.sync_events import sync_events

    return run_flow(settings, sync_events, url=args.url, connections=args.connections or None)


def _run_declared(args: argparse.Namespace, spec: Pipeline, strategy: str) -> int:
    """A pipeline's own flow (``Pipeline.entrypoint``) with the parameters its ``flow_params`` makes (and
    the strategy, when the flow takes one)."""
    import importlib
    import inspect

    assert spec.entrypoint is not None
    module, _, function = spec.entrypoint.partition(":")
    flow = getattr(importlib.import_module(module), function)
    takes_strategy = "strategy" in inspect.signature(flow.fn).parameters
    if strategy != spec.default_strategy and not takes_strategy:  # replays run elsewhere
        where = (
            f"; its {strategy} runs are `catalog-sync retry-failures --pipeline {spec.name}`"
            if strategy == spec.replay_strategy
            else ""
        )
        raise ConfigError(f"sync {spec.command or spec.name} runs {spec.default_strategy}{where}")
    params = spec.flow_params(args) if spec.flow_params is not None else {}
    if takes_strategy:  # a flow that runs several strategies is told which
        params["strategy"] = strategy
    settings = preflight(spec, None, args.connections, _accepted(spec, args, params), params)
    return run_flow(settings, flow, **params, connections=args.connections or None)


def _run_any(args: argparse.Namespace, spec: Pipeline, strategy: str) -> int:
    settings = preflight(spec, None, args.connections, _accepted(spec, args, {}))
    from flows.pipeline_run import sync_pipeline

    return run_flow(
        settings,
        sync_pipeline,
        pipeline=spec.name,
        strategy=strategy,
        dry_run=args.dry_run,
        connections=args.connections or None,
    )


FLOW_CALLS = {  # by the flow a pipeline declares
    "sync-products": FlowCall(
        lambda spec: "push changed prices and stock (incremental unless --full)",
        _products_options,
        _run_products,
    ),
    "sync-events": FlowCall(
        lambda spec: f"store the events feed ({spec.connectors[SOURCE].base_setting.upper()}) for /search",
        _feed_options,
        _run_feed,
    ),
}
ANY_PIPELINE = FlowCall(lambda spec: spec.title, _dry_run_option, _run_any)
OWN_FLOW = FlowCall(lambda spec: spec.title, lambda parser: None, _run_declared)


def flow_call(spec: Pipeline) -> FlowCall:
    """How `sync <pipeline>` runs: the pipeline's own flow when it declares one, else by its flow's name."""
    if spec.entrypoint is not None:
        return OWN_FLOW
    return FLOW_CALLS.get(spec.flow, ANY_PIPELINE)


def cmd_sync(args: argparse.Namespace) -> int:
    """`sync <pipeline>`: the flow its declaration names, after the checks of the connections it runs on."""
    from sync_core.engine.registry import pipeline

    spec = pipeline(args.pipeline)
    return flow_call(spec).run(args, spec, args.strategy or spec.default_strategy)


def _capable(capability: str, name: str | None) -> list[Pipeline]:
    """The pipeline ``name``, or every configured pipeline with ``capability`` (what the maintenance flows
    run); ConfigError when none is configured."""
    from catalog_sync.runner import read_settings
    from sync_core.engine.registry import pipeline, with_capability

    if name:
        return [pipeline(name)]
    settings = read_settings()
    found = [spec for spec in with_capability(capability) if spec.configured(settings)]
    if not found:
        needs = "; ".join(
            f"{s.name}: {', '.join(n.upper() for n in s.needs())}" for s in with_capability(capability)
        )
        raise ConfigError(f"no pipeline that can do this is configured (settings needed: {needs})")
    return found


def cmd_sync_catalogue(args: argparse.Namespace) -> int:
    for spec in _capable("catalogue_role", args.pipeline):
        assert spec.catalogue_role is not None
        settings = preflight(spec, (spec.catalogue_role,), None, _waiting(args))
    from flows.maintenance import sync_catalogue

    return run_flow(settings, sync_catalogue, pipeline=args.pipeline)


def cmd_retry_failures(args: argparse.Namespace) -> int:
    for spec in _capable("replayable", args.pipeline):
        # Replays go through the target, or ask the source again (a pipeline's replay strategy).
        roles = (TARGET,) if spec.replay_strategy is None else None
        settings = preflight(spec, roles, None, _waiting(args))
    from flows.maintenance import retry_failures

    return run_flow(settings, retry_failures, max_batches=args.max_batches, pipeline=args.pipeline)


def non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=non_negative,
        metavar="SECONDS",
        help="when another run of the pipeline is going, wait this long for it to end (default RUN_LEASE_WAIT_S); "
        "then give up with exit 75",
    )


def connection_choice(text: str) -> tuple[str, str]:
    """``ROLE=NAME`` of ``--connection``; a malformed one is refused with parse_choice's reason."""
    from sync_core.engine.connections import parse_choice

    try:
        return parse_choice(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class ConnectionChoices(argparse.Action):
    """``--connection ROLE=NAME``, repeatable, gathered as role → connection name; a role given two
    connections is refused."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, _: Any = None
    ) -> None:
        role, name = values
        chosen = dict(getattr(namespace, self.dest) or {})
        if chosen.get(role, name) != name:
            parser.error(f"argument --connection: {role} is given two connections ({chosen[role]}, {name})")
        setattr(namespace, self.dest, chosen | {role: name})


def add_sync_commands(sync: Any) -> None:
    """`sync <command>` for every registered pipeline (also reachable by its name), with the options of its
    flow and those every pipeline takes; `sync catalogue` follows the first pipeline that has a catalogue."""
    from sync_core.engine.registry import pipelines

    catalogue = False
    for spec in pipelines().values():
        command = spec.command or spec.name
        call = flow_call(spec)
        aliases = [spec.name] if spec.name != command else []
        parser = sync.add_parser(command, aliases=aliases, help=call.help(spec))
        call.options(parser)
        if spec.sync_options is not None:
            spec.sync_options(parser)
        parser.add_argument(
            "--strategy", choices=spec.strategies, help=f"how to run it (default {spec.default_strategy})"
        )
        parser.add_argument(
            "--connection",
            dest="connections",
            metavar="ROLE=NAME",
            type=connection_choice,
            action=ConnectionChoices,
            default={},
            help=f"run ROLE ({', '.join(spec.connectors)}) on the connection NAME of CONNECTIONS instead of "
            "its default one; repeatable",
        )
        add_wait(parser)
        parser.set_defaults(handler=cmd_sync, pipeline=spec.name)
        if spec.catalogue_role and not catalogue:
            catalogue = True
            _add_catalogue_command(sync)


def _add_pipeline_choice(parser: argparse.ArgumentParser, capability: str, what: str) -> None:
    from sync_core.engine.registry import with_capability

    names = [spec.name for spec in with_capability(capability)]
    parser.add_argument(
        "--pipeline",
        choices=names,
        help=f"only this pipeline's {what} (default: every one's: {', '.join(names)})",
    )


def _add_catalogue_command(sync: Any) -> None:
    catalogue = sync.add_parser("catalogue", help="re-read the store catalogue: links and current values")
    _add_pipeline_choice(catalogue, "catalogue_role", "catalogue")
    add_wait(catalogue)
    catalogue.set_defaults(handler=cmd_sync_catalogue)


def add_retry_command(sub: Any) -> None:
    retry = sub.add_parser(
        "retry-failures", help="replay due failed writes; mark dead after FAILURE_MAX_ATTEMPTS"
    )
    retry.add_argument(
        "--max-batches", type=int, default=10, help="batches of 200 replays at most (default 10)"
    )
    _add_pipeline_choice(retry, "replayable", "failures")
    add_wait(retry)
    retry.set_defaults(handler=cmd_retry_failures)


def add_pipeline_commands(sub: Any) -> None:
    """The commands pipelines declare of their own (``Pipeline.commands``, e.g. the part numbers one tracks)."""
    from sync_core.engine.registry import pipelines

    for spec in pipelines().values():
        if spec.commands is not None:
            spec.commands(sub)
