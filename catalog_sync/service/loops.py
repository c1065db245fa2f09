"""The pipelines' loops that `catalog-sync serve` runs beside its workers (``Pipeline.serve_loop``, e.g. the
drain of a webhook inbox): one thread each, in the serving process (the supervisor when there are several
workers), for the pipelines whose connections are configured."""

from __future__ import annotations

import logging
import threading

from sync_core.engine.registry import imported, pipelines
from sync_core.settings import Settings

log = logging.getLogger(__name__)


def start_serve_loops(settings: Settings) -> tuple[threading.Event, list[str]]:
    """Start the loops; the event that stops them, and the names of the pipelines whose loop runs."""
    stop = threading.Event()
    started = []
    for spec in pipelines().values():
        if spec.serve_loop is None or not spec.configured(settings):
            continue
        loop = imported(spec.serve_loop)
        threading.Thread(target=loop, args=(stop,), name=f"{spec.name}-loop", daemon=True).start()
        started.append(spec.name)
    return stop, started
