"""Which deployment a `POST /pipelines/{name}/runs` starts, and with which flow parameters.

The pipeline's ``trigger`` (``sync_core.engine.spec.Pipeline``) decides when it declares one; else
:func:`default_plan`: the deployment its ``deployments`` names for the strategy asked (else for its default
strategy, else its first), with ``strategy`` and ``dry_run`` passed only to a flow that takes them (its
signature, read from the entrypoint prefect.yaml gives that deployment, without importing it), and ``ids`` /
``category`` refused.
"""

from __future__ import annotations

import ast
import functools
import logging
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from catalog_sync.service.errors import MAX_ECHO, one_line
from sync_core.engine.registry import pipeline as find_pipeline
from sync_core.engine.registry import pipelines
from sync_core.engine.spec import Pipeline
from sync_core.errors import ConfigError

log = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parents[2]  # the checkout: prefect.yaml and flows/
DEFAULT_FIELDS = ("strategy", "dry_run")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class TriggerRequest(BaseModel):
    """What to run; every field may be left out (an empty body runs the default strategy)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    strategy: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="one of the pipeline's strategies; its default when null", examples=["full"]
    )
    ids: list[Text] | None = Field(
        None,
        max_length=1000,
        description="only these items (ids as the pipeline knows them); for pipelines whose trigger takes them",
        examples=[["SKU-1001", "SKU-1002"]],
    )
    category: Text | None = Field(
        None, description="only this category; for pipelines whose trigger takes one", examples=[None]
    )
    dry_run: bool = Field(False, description="plan and report, write nothing (flows that take dry_run)")


class TriggerRefused(Exception):
    """A request answered in the error envelope with ``status`` and ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def label(spec: Pipeline) -> str:
    return spec.command or spec.name


def resolve(name: str) -> Pipeline:
    """The pipeline called ``name`` or whose command it is; TriggerRefused 404 listing the known ones."""
    try:
        return find_pipeline(name)
    except ConfigError:
        known = ", ".join(label(p) for p in pipelines().values())
        raise TriggerRefused(
            404, "not_found", f"no pipeline named {name[:MAX_ECHO]!r} (known: {known})"
        ) from None


@functools.cache
def _entrypoints(project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    """prefect.yaml's deployments: name → entrypoint ("flows/x.py:function")."""
    with (project_dir / "prefect.yaml").open() as f:
        document = yaml.safe_load(f) or {}
    return {d["name"]: d["entrypoint"] for d in document.get("deployments") or [] if d.get("entrypoint")}


@functools.cache
def _function_parameters(entrypoint: str, project_dir: Path = PROJECT_DIR) -> frozenset[str]:
    """The parameter names of the function at ``entrypoint``, read from its source (nothing is imported)."""
    path, _, function = entrypoint.rpartition(":")
    tree = ast.parse((project_dir / path).read_text(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            args = node.args
            return frozenset(a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs])
    raise ConfigError(f"prefect.yaml's entrypoint {entrypoint} names no function")


def flow_parameters(deployment: str) -> frozenset[str]:
    """The parameters the flow of ``deployment`` (<flow>/<deployment>) takes, per the entrypoint prefect.yaml
    gives it; none when prefect.yaml does not hold it (or cannot be read: logged)."""
    try:
        entrypoint = _entrypoints().get(deployment.partition("/")[2])
        return _function_parameters(entrypoint) if entrypoint else frozenset()
    except (OSError, yaml.YAMLError, SyntaxError, ConfigError) as exc:
        log.warning("the parameters of %s's flow are unknown: %s", deployment, one_line(exc))
        return frozenset()


def _takes(spec: Pipeline, parameters: frozenset[str]) -> str:
    parts = [f"strategy ({' or '.join(spec.strategies)})"]
    if "dry_run" in parameters:
        parts.append("dry_run")
    return " and ".join(parts)


def default_plan(spec: Pipeline, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The deployment and flow parameters of a pipeline without a ``trigger`` (see the module docstring);
    ConfigError for what it cannot take, TriggerRefused 409 when it declares no deployment."""
    asked = fields.get("strategy")
    strategy = asked or spec.default_strategy
    deployment = spec.deployments.get(strategy)
    own = deployment is not None
    if deployment is None:
        deployment = spec.deployments.get(spec.default_strategy) or next(
            iter(spec.deployments.values()), None
        )
    if deployment is None:
        raise TriggerRefused(
            409,
            "not_deployed",
            f"pipeline {label(spec)} declares no deployment; run it with `catalog-sync sync`",
        )
    parameters = flow_parameters(deployment)
    extra = [name for name in fields if name not in DEFAULT_FIELDS and fields[name] is not None]
    if extra:
        raise ConfigError(
            f"pipeline {label(spec)} takes {_takes(spec, parameters)}, not {' or '.join(extra)}"
        )
    params: dict[str, Any] = {}
    if "strategy" in parameters:
        params["strategy"] = strategy
    elif asked and not own:
        raise ConfigError(f"pipeline {label(spec)} has no deployment that runs strategy {strategy!r}")
    if "dry_run" in parameters:
        params["dry_run"] = bool(fields.get("dry_run"))
    elif fields.get("dry_run"):
        raise ConfigError(f"pipeline {label(spec)} takes {_takes(spec, parameters)}, not dry_run")
    return deployment, params


def plan(name: str, body: TriggerRequest) -> tuple[str, dict[str, Any]]:
    """The deployment to run and its parameters; TriggerRefused for a request that cannot be run."""
    spec = resolve(name)
    if body.strategy is not None and body.strategy not in spec.strategies:
        raise TriggerRefused(
            400,
            "invalid_parameter",
            f"pipeline {label(spec)} runs {' or '.join(spec.strategies)}, not {body.strategy[:MAX_ECHO]!r}",
        )
    fields = body.model_dump()
    try:
        deployment, params = spec.trigger(fields) if spec.trigger is not None else default_plan(spec, fields)
    except ConfigError as exc:
        raise TriggerRefused(400, "invalid_parameter", one_line(exc)) from None
    flow, _, deployment_name = deployment.partition("/")
    if not flow or not deployment_name:
        raise ValueError(f"pipeline {spec.name}'s trigger named {deployment!r}, not <flow>/<deployment>")
    return deployment, params
