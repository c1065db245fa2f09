"""The pipelines' loops that `catalog-sync serve` runs beside its workers (``Pipeline.serve_loop``, e.g. the
drain of a webhook inbox): one thread each, in the serving process (the supervisor when there are several
workers), for the pipelines whose connections are configured."""

from __future__ import annotations

import logging
import threading

from sync_core.engine.registry import imported, pipelines
from sync_core.settings import Settings

log = logging.getLogger(__name__)


STOP_WAIT_S = 30.0  # how long a stopping service waits for a loop's current step (a run) to end


class ServeLoops:
    """The loops started (``names``: their pipelines); ``stop()`` asks them to end and waits a while."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.names: list[str] = []

    def stop(self, wait_s: float = STOP_WAIT_S) -> None:
        """Ask every loop to end, and wait up to ``wait_s`` for them (a drain finishing its run): what they
        leave unfinished (a claimed delivery) is taken again later."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=wait_s)
            if thread.is_alive():
                log.warning(
                    "%s did not end within %.0f s; what it was doing is taken up later", thread.name, wait_s
                )


def start_serve_loops(settings: Settings) -> ServeLoops:
    """Start the loops of the configured pipelines that declare one."""
    loops = ServeLoops()
    for spec in pipelines().values():
        if spec.serve_loop is None or not spec.configured(settings):
            continue
        loop = imported(spec.serve_loop)
        thread = threading.Thread(
            target=loop, args=(loops.stop_event,), name=f"{spec.name}-loop", daemon=True
        )
        thread.start()
        loops.threads.append(thread)
        loops.names.append(spec.name)
    return loops
