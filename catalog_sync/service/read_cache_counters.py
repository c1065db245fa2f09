"""The read APIs' answer-cache counters, ``catalog_sync_read_cache_{hits,misses,reloads}_total{api}``:
prometheus_client ``Counter``s, summed over every worker of one `catalog-sync serve` by its multiprocess mode.

`catalog-sync serve` sets ``PROMETHEUS_MULTIPROC_DIR`` to a directory of its own before prometheus_client is
imported in any process that serves (prometheus_client chooses then whether values live in memory or in that
directory's files); each worker then counts in files of its own, and ``read_cache_totals`` sums every file,
those of workers that died included (a counter never goes down when `serve` replaces one). Without the
variable (a test's client, an app served by other means), the counts are this process's own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
HELP_SUFFIX = "summed over every worker process of this service"
HELP = {  # help text by field
    "hits": f"Answers served from an API's answer cache, {HELP_SUFFIX}",
    "misses": f"Answers computed (not in the answer cache), {HELP_SUFFIX}",
    "reloads": f"Reads of the whole table into a worker's in-memory copy, {HELP_SUFFIX}",
}
FIELDS = tuple(HELP)
_COUNTERS = {
    name: Counter(f"catalog_sync_read_cache_{name}", help_text, ["api"], registry=None)
    for name, help_text in HELP.items()
}
_FIELD_OF = {f"catalog_sync_read_cache_{name}": name for name in FIELDS}


@dataclass(frozen=True)
class ReadCacheCounters:
    """One API's counters in this process: ``hit()``, ``miss()``, ``reload()`` add one."""

    hit: Callable[[], None]
    miss: Callable[[], None]
    reload: Callable[[], None]


def read_cache_counters(api: str) -> ReadCacheCounters:
    """``api``'s counters; its series are shown (at 0) from now on."""
    return ReadCacheCounters(*(_COUNTERS[name].labels(api=api).inc for name in FIELDS))


def read_cache_totals() -> dict[str, dict[str, float]]:
    """Hits, misses and reloads per API: of every worker's files under ``PROMETHEUS_MULTIPROC_DIR`` when it is
    set, else of this process."""
    directory = os.environ.get(MULTIPROCESS_DIR)
    metrics: Iterable[Metric]
    if directory:
        collector = MultiProcessCollector(None, path=directory)  # type: ignore[no-untyped-call]
        metrics = collector.collect()  # type: ignore[no-untyped-call]
    else:
        metrics = [metric for counter in _COUNTERS.values() for metric in counter.collect()]
    totals: dict[str, dict[str, float]] = {}
    for metric in metrics:
        field = _FIELD_OF.get(metric.name)
        if field is None:
            continue
        for sample in metric.samples:
            if sample.name == f"{metric.name}_total":  # not the in-process counter's `_created`
                counts = totals.setdefault(sample.labels["api"], dict.fromkeys(FIELDS, 0.0))
                counts[field] += sample.value
    return dict(sorted(totals.items()))
