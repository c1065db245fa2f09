"""A pipeline is a declaration: what it reads and writes (connectors by role), the strategies it runs, which
failures it can replay, the deployments operators rely on, and the job that does one run's steps.

The command line, the deployments, health, metrics, reports and ``retry-failures`` read these declarations
through :mod:`sync_core.engine.registry`; none of them names a provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync_core.engine.drift import DriftCheck
    from sync_core.engine.explain import Explaining
    from sync_core.engine.guard import Guard
    from sync_core.engine.job import Job, RunContext
    from sync_core.settings import Settings

SOURCE, TARGET = "source", "target"


@dataclass(frozen=True)
class Pipeline:
    """One pipeline of the engine (see the module docstring).

    ``connectors`` maps a role ("source", "target") to the connector class that plays it; each connector class
    names its provider and the settings of its default connection (``sync_core.engine.connections``).
    ``job`` builds the steps of one run from its context: the engine's runner calls them
    (``sync_core.engine.job``).
    """

    name: str
    title: str  # one line for --help and the health report
    connectors: Mapping[str, Any]
    strategies: tuple[str, ...]
    job: Callable[[RunContext], Job]
    command: str | None = (
        None  # `catalog-sync sync <command>`: the name users know (else the pipeline's name)
    )
    flow: str = "sync-pipeline"  # the Prefect flow that runs it
    replayable: tuple[str, ...] = ()  # failure contexts `retry-failures` replays through the target
    catalogue_role: str | None = None  # role whose catalogue `sync-catalogue` re-reads (a CatalogueReader)
    # `catalog-sync drift`: how its sides are read to compare the target with the ledger and the source
    # (sync_core.engine.drift); None: its target can't be checked for drift yet.
    drift: DriftCheck | None = None
    # Deployments the automations refer to, by purpose ("incremental", "retry"), as <flow>/<deployment>.
    deployments: Mapping[str, str] = field(default_factory=dict)
    # Run parameters that stand for a setting during that run (a feed URL given with --url): param → setting.
    param_settings: Mapping[str, str] = field(default_factory=dict)
    # Refuses a run's parameters the pipeline cannot use: ConfigError with a one-line reason.
    check_params: Callable[[dict[str, Any]], None] | None = None
    # `POST /pipelines/{name}/runs` of `catalog-sync serve`: the request's fields (strategy, ids, category,
    # dry_run) → (the deployment to run, as <flow>/<deployment>; its flow's parameters); ConfigError with a
    # one-line reason for what the pipeline cannot take. None: the deployment of the strategy asked (see
    # catalog_sync.service.triggers), refusing ids and category.
    trigger: Callable[[dict[str, Any]], tuple[str, dict[str, Any]]] | None = None
    # A flow of its own, as "module:function" (``flow`` is its name): `sync <command>` runs it with the
    # parameters ``flow_params`` makes of the options ``sync_options`` adds to the command line.
    entrypoint: str | None = None
    sync_options: Callable[[Any], None] | None = None  # argparse parser → None
    flow_params: Callable[[Any], dict[str, Any]] | None = None  # argparse namespace → the flow's parameters
    # Commands of its own: given `catalog-sync`'s sub-command action, adds its parsers (e.g. a command group of its own).
    commands: Callable[[Any], None] | None = None
    # Failures replayed by a run of this strategy (which asks the source again), not through a target's
    # per-item call: `retry-failures` runs it.
    replay_strategy: str | None = None
    # `catalog-sync demo --pipeline <command>`: "module:function" called with products, change and
    # database_url (against the built-in sandbox), returning the exit code.
    demo: str | None = None
    # Checks a run's parameters against its source before any run starts (the command line's preflight):
    # given role → connector (checked, still open) and the parameters; raises ConfigError (one line).
    preflight: Callable[[dict[str, Any], dict[str, Any]], None] | None = None
    # `catalog-sync serve`: "module:function" given the FastAPI app, adding endpoints of its own (a webhook
    # receiver, a read API), and "module:function" of a loop it runs in one thread of one process while it
    # serves (called with a threading.Event set when it stops; only when the pipeline's connections are
    # configured).
    service: str | None = None
    serve_loop: str | None = None
    # Connections the pipeline keeps itself (e.g. store integrations added by operators): "module:function"
    # given the settings, a role and a name, returning the Connection (or None when it has no such one, so
    # CONNECTIONS is asked); ConfigError with a one-line reason for one it cannot use.
    connection_of: str | None = None
    # `catalog-sync explain` and `GET /items/{pipeline}/{key}`: given the settings, how its items are told
    # (sync_core.engine.explain.Explaining): the rule that makes the target's values of the source's, what
    # it makes now of a source snapshot, and the table a table target writes. None: snapshots, the ledger
    # and failures only.
    explain: Callable[[Settings], Explaining] | None = None
    # The guardrail (sync_core.engine.guard): which of its writes carry a stock and a price, so a run that
    # would zero or slash too many of them is held for an operator. Only for a target that keeps a ledger.
    guard: Guard | None = None

    @property
    def default_strategy(self) -> str:
        return self.strategies[0]

    @property
    def providers(self) -> tuple[str, ...]:
        """The providers of its connectors, in role order."""
        return tuple(dict.fromkeys(cls.provider for cls in self.connectors.values()))

    def needs(self) -> tuple[str, ...]:
        """Every setting its default connections cannot work without."""
        return tuple(name for cls in self.connectors.values() for name in cls.needs)

    def configured(self, settings: Settings) -> bool:
        """Whether its default connections have their settings (False when a role has no default)."""
        defaults = all(getattr(cls, "base_setting", None) for cls in self.connectors.values())
        return defaults and all(getattr(settings, name) for name in self.needs())
