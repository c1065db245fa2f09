"""The two seams every connector fits: a Source of supplier products and a Target that takes writes.

Designed for more than Anar360 → Sazito: a page request carries a number *or* a token, so a numbered
JSON API (Anar360), an OData ``@odata.nextLink`` (Ploomes), a streamed XML snapshot read in chunks
(Fever) and a batch lookup by part numbers (Ingram Micro) all fit ``fetch_page``; a Target applies
absolute ``Write`` values, so a REST store (Sazito) and a PostgreSQL catalogue (upserts) both fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from sync_core.models import (
    CataloguePage,
    NewProduct,
    PageRequest,
    SourcePage,
    StoreVariant,
    Write,
    WriteOutcome,
)


@runtime_checkable
class Source(Protocol):
    """Where products come from."""

    name: str

    def check(self) -> None:
        """Verify credentials and reachability; raise AuthError / TransientError / ConfigError."""

    def first_page(self, *, since_ms: int | None = None) -> PageRequest:
        """The request for page one of a full (``since_ms`` None) or incremental listing."""

    def fetch_page(self, request: PageRequest) -> SourcePage:
        """Fetch one page; unreadable records come back in ``rejects``, not as exceptions."""

    def close(self) -> None: ...


@runtime_checkable
class Target(Protocol):
    """Where values are written."""

    name: str
    write_kinds: frozenset[str]

    def check(self) -> None:
        """Verify credentials and reachability."""

    def read_catalogue_page(self, number: int) -> CataloguePage:
        """One page of what the target holds, for linking and for knowing current values."""

    def current_values(self, variant: StoreVariant) -> dict[str, dict[str, object]]:
        """The aspect values the catalogue reports for ``variant`` (kind → value); empty if unknown."""

    def apply(
        self, writes: Sequence[Write], on_outcome: Callable[[WriteOutcome], None] | None = None
    ) -> WriteOutcome:
        """Apply absolute writes; per-item refusals are returned in ``failed``, not raised.

        ``on_outcome`` receives each batch's outcome as it lands, so it can be recorded at once.
        """

    def apply_one(self, write: Write) -> None:
        """Apply one write through the per-item endpoint (replays); raises ConnectorError."""

    def create_product(self, product: NewProduct) -> dict[str, str]:
        """Create a product; return supplier variant key → new target variant key."""

    def close(self) -> None: ...
