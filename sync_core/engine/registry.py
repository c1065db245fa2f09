"""The registry of pipelines: every module of ``sync_core.pipelines`` that declares ``PIPELINE`` (a
:class:`~sync_core.engine.spec.Pipeline`), plus any registered with :func:`register` (an example in the tests,
a plug-in). The command line, the deployments, health, metrics and reports look pipelines up here."""

from __future__ import annotations

import importlib
import pkgutil
import threading
from typing import Any

from sync_core.engine.spec import Pipeline
from sync_core.errors import ConfigError

PACKAGE = "sync_core.pipelines"
_lock = threading.Lock()
_pipelines: dict[str, Pipeline] = {}
_loaded = False


def _load() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        package = importlib.import_module(PACKAGE)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            module = importlib.import_module(f"{PACKAGE}.{info.name}")
            declared = getattr(module, "PIPELINE", None)
            if isinstance(declared, Pipeline):
                _pipelines.setdefault(declared.name, declared)
        _loaded = True


def register(pipeline: Pipeline) -> Pipeline:
    """Add a pipeline declared outside ``sync_core.pipelines``; returns it (usable as a module's last line)."""
    _load()
    with _lock:
        known = _pipelines.get(pipeline.name)
        if known is not None and known is not pipeline:
            raise ConfigError(f"a pipeline named {pipeline.name!r} is already registered")
        _pipelines[pipeline.name] = pipeline
    return pipeline


def unregister(name: str) -> None:
    with _lock:
        _pipelines.pop(name, None)


def pipelines() -> dict[str, Pipeline]:
    """Every pipeline by name, in name order."""
    _load()
    with _lock:
        return dict(sorted(_pipelines.items()))


def pipeline(name: str) -> Pipeline:
    """The pipeline called ``name`` (or whose command is ``name``); ConfigError naming the known ones."""
    known = pipelines()
    found = known.get(name) or next((p for p in known.values() if p.command == name), None)
    if found is None:
        names = ", ".join(p.command or p.name for p in known.values())
        raise ConfigError(f"no pipeline named {name!r} (known: {names})")
    return found


def with_capability(attribute: str) -> list[Pipeline]:
    """The pipelines whose declaration sets ``attribute`` (e.g. "replayable", "catalogue_role")."""
    return [p for p in pipelines().values() if getattr(p, attribute)]


def imported(reference: str) -> Any:
    """What a declaration's "module:attribute" reference names (``Pipeline.entrypoint``, ``routes`` ...)."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)
