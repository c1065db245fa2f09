"""A target across the network (a store's API): the ledger remembers what it holds, keyed by connection."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from sync_core.engine.failures import NewFailure
from sync_core.engine.ledger import load_ledger, record_values
from sync_core.engine.plan import LedgerKey
from sync_core.engine.ports import OnOutcome, Writer
from sync_core.errors import AuthError, CircuitOpenError
from sync_core.models import FailedWrite, Write, WriteOutcome


class RemoteTarget:
    """The TargetState (sync_core.engine.job) of a remote Writer; ``name`` is its connection's name."""

    # Going on after these would only hammer a target that is down or refusing us.
    fatal: tuple[type[Exception], ...] = (CircuitOpenError, AuthError)

    def __init__(self, url: str, name: str, writer: Writer) -> None:
        self.url, self.name, self.writer = url, name, writer

    def known(self, writes: Sequence[Write]) -> dict[LedgerKey, str]:
        return load_ledger(self.url, target=self.name, target_keys=[w.target_key for w in writes])

    def apply(self, writes: Sequence[Write], on_outcome: OnOutcome | None = None) -> WriteOutcome:
        return self.writer.apply(writes, on_outcome=on_outcome)

    def record(
        self, session: Session, *, succeeded: Sequence[Write], unchanged: Sequence[Write], run_id: int | None
    ) -> None:
        record_values(session, target=self.name, writes=succeeded, origin="written", run_id=run_id)

    def failure(self, failed: FailedWrite) -> NewFailure:
        write, name = failed.write, failed.error.__name__
        return NewFailure(f"push:{write.kind}", write.target_key, name, name, failed.message, write.payload())

    def settled(self, writes: Sequence[Write]) -> list[tuple[str, list[str]]]:
        kinds = sorted({w.kind for w in writes})
        return [(f"push:{kind}", [w.target_key for w in writes if w.kind == kind]) for kind in kinds]
