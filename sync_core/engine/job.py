"""What the runner asks of a pipeline for one run: a ``Job`` (its steps) and a ``TargetState`` (what the
target holds and how a batch's outcome is recorded).

The runner (``flows/pipeline_run.py`` over ``sync_core.engine.batch``) does, for every run:

    start = job.start(strategy)                      # checks, window, cursor; I/O
    for pages in job.fetch(...):                     # read; I/O
        prepared = job.prepare(pages, dry_run)       # links, creations: the pipeline's own I/O steps
        mapped = job.map(pages, prepared)            # pure: records → desired writes, failures, clean keys
        plan = plan_writes(mapped.desired, target.known(...))   # pure
        outcome = target.apply(plan.writes)          # I/O; each part recorded as it lands
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sync_core.engine.failures import NewFailure
from sync_core.engine.plan import LedgerKey
from sync_core.engine.ports import OnOutcome
from sync_core.engine.runs import COUNTERS
from sync_core.models import FailedWrite, PageRequest, SourcePage, Write, WriteOutcome

if TYPE_CHECKING:
    from sqlmodel import Session

    from sync_core.engine.connections import Connection
    from sync_core.engine.spec import Pipeline
    from sync_core.settings import Settings

JournalNote = tuple[str, str | None, dict[str, Any]]  # (kind, item key, data) of an integration_events row
DIFF_SAMPLE = 20  # writes a dry run shows
# A run's check of a connection reuses a success of this process's this recent (the command line checks just
# before it starts the flow).
CHECK_REUSE_S = 120.0
ITEM_COUNTERS = tuple(name for name in COUNTERS if name != "requests")  # what a batch counts


@dataclass(slots=True)
class SyncCounts:
    """What a batch did; the flow sums batches into the run's total."""

    fetched: int = 0
    mapped: int = 0
    pushed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    created: int = 0  # items the target lacked, created by the pipeline's own step
    inserted: int = 0  # pushed items the target did not hold before
    reasons: Counter[str] = field(default_factory=Counter)
    diffs: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: SyncCounts) -> None:
        for name in (*ITEM_COUNTERS, "created", "inserted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)
        self.diffs.extend(other.diffs[: max(DIFF_SAMPLE - len(self.diffs), 0)])


@dataclass
class RunContext:
    """One run as its job sees it."""

    settings: Settings
    pipeline: Pipeline
    key: str  # what the run's rows, cursors, failures and lease are keyed by (connections.run_key)
    run_id: int | None
    connections: dict[str, Connection]
    connector: Callable[[str], Any]  # role → the run's connector for that role, made on first use
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Start:
    """How a run starts: its first request, the cursor it moves on success, the steps before its pages."""

    first: PageRequest | None
    cursor: tuple[str, str] | None = None
    read_catalogue: bool = False


@dataclass
class Mapped:
    """A batch's records mapped (pure): the writes wanted, records that did not map, keys read right."""

    desired: list[Write] = field(default_factory=list)
    failures: list[NewFailure] = field(default_factory=list)
    clean: list[str] = field(default_factory=list)  # keys read right: their quarantine (``map_context``) ends
    mapped: int = 0
    created: int = 0  # items the target lacked, created by the pipeline's own step
    skipped: int = 0
    skipped_unread: int = 0  # records the source dropped before they became records (counted fetched too)
    reasons: Counter[str] = field(default_factory=Counter)
    notes: list[JournalNote] = field(default_factory=list)


class TargetState(Protocol):
    """What the target holds and how outcomes are recorded: the ledger for a remote store, the table itself
    for the table target."""

    @property
    def fatal(self) -> tuple[type[Exception], ...]:
        """Errors after which going on would only hammer the target."""

    def known(self, writes: Sequence[Write]) -> dict[LedgerKey, str]:
        """(target key, kind) → fingerprint of the value the target holds, for these writes' items."""

    def apply(self, writes: Sequence[Write], on_outcome: OnOutcome | None = None) -> WriteOutcome: ...

    def record(
        self, session: Session, *, succeeded: Sequence[Write], unchanged: Sequence[Write], run_id: int | None
    ) -> None:
        """Record what now holds, in the caller's transaction."""

    def failure(self, failed: FailedWrite) -> NewFailure:
        """The failure row of a write that did not land."""

    def settled(self, writes: Sequence[Write]) -> list[tuple[str, list[str]]]:
        """(context, item keys) of the failures these held values end."""


class Job(Protocol):
    """A pipeline's steps for one run (see the module docstring)."""

    @property
    def target(self) -> TargetState: ...

    @property
    def map_context(self) -> str:
        """The failure context of records that did not map ("map", "parse")."""

    @property
    def journal_noun(self) -> str | None:
        """ "variant": a journal entry "variant_<kind>_updated" per batch and kind (None: none)."""

    def start(self, strategy: str) -> Start: ...

    def fetch(self, request: PageRequest) -> list[SourcePage]:
        """The batch of pages from ``request`` (the last page's ``next`` continues)."""

    def prepare(self, pages: Sequence[SourcePage], *, dry_run: bool) -> Any:
        """The pipeline's own I/O before mapping (links, creations); its result goes to ``map``."""

    def map(self, pages: Sequence[SourcePage], prepared: Any) -> Mapped:
        """Pure: records → desired writes, failures and keys read right."""

    def summary(self, total: SyncCounts) -> dict[str, Any]:
        """Entries the run's summary adds, from the sum of its batches (after the last one)."""

    def close(self) -> None:
        """Release what ``start`` opened (called however the run ends)."""


class CatalogueJob(Job, Protocol):
    """A job whose target's catalogue can be read back (``Pipeline.catalogue_role``)."""

    def read_catalogue(self, first_page: int) -> tuple[int | None, int]:
        """Read and record catalogue pages from ``first_page``; (the next page or None, items read)."""
