"""The drift check's pure part: what the target holds, read back, against what the source wants now and what
the ledger says the target holds. A value that is not the one wanted has drifted in one of three ways:

- ``edited``: the target changed behind our back (it holds something other than what the ledger says);
- ``not-applied``: we failed to apply the wanted value (an open push failure, or the ledger never recorded
  a value for it);
- ``source-moved``: the target holds what the ledger says, but the source wants another value since.

A pipeline declares how its sides are read (:class:`DriftCheck`, ``Pipeline.drift``);
``sync_core.engine.drift_read`` reads them and ``sync_core.engine.drift_repair`` writes wanted values back.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sync_core.engine.plan import LedgerKey
from sync_core.models import Write, fingerprint

EDITED, NOT_APPLIED, SOURCE_MOVED = "edited", "not-applied", "source-moved"
DRIFTS = (EDITED, NOT_APPLIED, SOURCE_MOVED)
EXAMPLES = 20  # drifted values a report, an event and a run's summary show

Holds = Mapping[str, Mapping[str, dict[str, Any]]]  # target key → kind → the value the target reports


@dataclass(frozen=True)
class DriftCheck:
    """How `catalog-sync drift` reads a pipeline's two sides (``Pipeline.drift``): the source through the
    pipeline's own job (links, mapping) over the listing of strategy ``listing`` (the whole source), writing
    nothing; the target's catalogue (``Pipeline.catalogue_role``) page by page from ``first_page``,
    recording nothing."""

    listing: str = "full"
    first_page: int = 0


def cannot_check(name: str) -> str:
    """The one line said of a pipeline that declares no drift check."""
    return f"{name}: its target can't be checked for drift yet"


@dataclass(frozen=True, slots=True)
class Differing:
    """A value the target holds that is not the one the source wants (``write``: what a repair sends)."""

    write: Write
    held: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Drifted:
    """A differing value and how it drifted (one of DRIFTS)."""

    drift: str
    write: Write
    held: dict[str, Any]

    def example(self) -> dict[str, Any]:
        w = self.write
        return {
            "drift": self.drift,
            "kind": w.kind,
            "target": w.target_key,
            "source": w.source_key,
            "holds": self.held,
            "wants": w.value,
        }


@dataclass
class Comparison:
    """The compared values: how many, how many in sync, and those that differ."""

    items: int = 0  # target items compared
    values: int = 0  # their values compared (an item's price, its stock ...)
    in_sync: int = 0
    unreported: int = 0  # values the target's read-back does not report (cannot be compared)
    differing: list[Differing] = field(default_factory=list)


@dataclass
class DriftReport:
    """What a drift check found for one pipeline run (``sampled_of``: with a sample, how many items could be
    compared; ``items`` of them were, chosen at random)."""

    pipeline: str
    comparison: Comparison
    drifted: list[Drifted]
    missing: int = 0  # items the source wants that the target's read-back lacks
    sampled_of: int | None = None

    def counts(self) -> dict[str, int]:
        found = Counter(d.drift for d in self.drifted)
        return {drift: found[drift] for drift in DRIFTS}

    def examples(self, limit: int = EXAMPLES) -> list[dict[str, Any]]:
        return [d.example() for d in self.drifted[:limit]]


def latest(wanted: Iterable[Write]) -> dict[LedgerKey, Write]:
    """(target key, kind) → the write wanted; the last one per item wins, as in a run's plan."""
    return {(w.target_key, w.kind): w for w in wanted}


def comparable(wanted: Mapping[LedgerKey, Write], holds: Holds) -> list[str]:
    """The target items that can be compared: those the source wants that the target reported."""
    return sorted({key for key, _ in wanted if key in holds})


def sample_items(items: Sequence[str], sample: int | None, rng: random.Random) -> list[str]:
    """``items``, or a random ``sample`` of them."""
    if sample is None or sample >= len(items):
        return list(items)
    return sorted(rng.sample(list(items), sample))


def missing_items(wanted: Mapping[LedgerKey, Write], holds: Holds) -> int:
    """How many items the source wants that the target's read-back lacks."""
    return len({key for key, _ in wanted if key not in holds})


def compare(wanted: Mapping[LedgerKey, Write], holds: Holds, items: Collection[str]) -> Comparison:
    """Each wanted value of ``items`` against the value the target holds."""
    chosen = set(items)
    result = Comparison(items=len(chosen))
    for (key, kind), write in wanted.items():
        if key not in chosen:
            continue
        held = holds[key].get(kind)
        if held is None:
            result.unreported += 1
            continue
        result.values += 1
        if fingerprint(kind, held) == write.fingerprint:
            result.in_sync += 1
        else:
            result.differing.append(Differing(write, dict(held)))
    return result


def drift_of(item: Differing, ledger: str | None, failing: bool) -> str:
    """How a differing value drifted, given the ledger's fingerprint of it and whether a push of it failed."""
    held = fingerprint(item.write.kind, item.held)
    if ledger is not None and ledger != held:
        return EDITED
    if failing or ledger is None:
        return NOT_APPLIED
    return SOURCE_MOVED


def classify(
    differing: Sequence[Differing], ledger: Mapping[LedgerKey, str], failing: Collection[LedgerKey]
) -> list[Drifted]:
    """The drift of each differing value (``ledger``: (key, kind) → fingerprint the ledger holds;
    ``failing``: the (key, kind) of open push failures), in item order."""
    found = []
    for item in differing:
        key = (item.write.target_key, item.write.kind)
        found.append(Drifted(drift_of(item, ledger.get(key), key in failing), item.write, item.held))
    return sorted(found, key=lambda d: (d.write.target_key, d.write.kind))


def render(report: DriftReport, repaired: Mapping[str, int] | None = None) -> str:
    """The report as markdown: counts, then the first drifted values (``repaired``: pushed and failed)."""
    c, counts = report.comparison, report.counts()
    scope = (
        f"a random sample of {c.items} of {report.sampled_of} items"
        if report.sampled_of is not None
        else f"all {c.items} items"
    )
    lines = [
        f"**{report.pipeline}: {'drift found' if report.drifted else 'no drift'}** — {scope} read back, "
        f"{c.values} values compared, {c.in_sync} as the source wants",
        "",
        "| drift | values |",
        "|---|---|",
        *(f"| {drift} | {n} |" for drift, n in counts.items()),
    ]
    if report.missing:
        lines.append(f"\n{report.missing} items the source wants are not in the target's read-back.")
    if repaired is not None:
        lines.append(f"\nRepair: {repaired.get('pushed', 0)} written, {repaired.get('failed', 0)} failed.")
    if report.drifted:
        lines += ["", "| drift | kind | target | source | holds | wants |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {e['drift']} | {e['kind']} | {e['target']} | {e['source']} | `{e['holds']}` | `{e['wants']}` |"
            for e in report.examples()
        ]
    return "\n".join(lines)
