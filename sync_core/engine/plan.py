"""Desired state vs what the target is known to hold → the writes to make (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sync_core.models import Write

LedgerKey = tuple[str, str]  # (target_key, kind)


@dataclass(slots=True)
class WritePlan:
    """Writes to send, and the desired values the target already holds."""

    writes: list[Write] = field(default_factory=list)
    unchanged: list[Write] = field(default_factory=list)


def plan_writes(desired: Iterable[Write], known: Mapping[LedgerKey, str]) -> WritePlan:
    """Keep a write only when its fingerprint differs from the known one; the last desired value per item wins."""
    latest: dict[LedgerKey, Write] = {}
    for write in desired:
        latest[(write.target_key, write.kind)] = write
    plan = WritePlan()
    for key, write in latest.items():
        (plan.unchanged if known.get(key) == write.fingerprint else plan.writes).append(write)
    return plan
