"""The seams a connector fits, by capability. A pipeline's job uses the ones its connectors have.

- ``Source``: pages of records. A ``PageRequest`` carries a page number, an opaque token (a next link, an
  OData ``$skip``), a watermark (``since_ms``) or a batch of keys, so a numbered JSON API, a cursor-paged
  API, a streamed document read in chunks and a lookup by part numbers all fit ``fetch_page``. Records are
  the source's own objects; only the pipeline's mapper reads their fields.
- ``Writer``: applies absolute ``Write`` values (a REST store; the table target is one too).
- ``CatalogueReader``: pages of what the target holds (for links and for knowing current values).
- ``Replayer``: applies one write through a per-item call (failure replay).
- ``Creator``: creates an item the target lacks and returns the keys of what it created.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from sync_core.models import CataloguePage, NewProduct, PageRequest, SourcePage, Write, WriteOutcome

OnOutcome = Callable[[WriteOutcome], None]


@runtime_checkable
class Checked(Protocol):
    def check(self, *, reuse_s: float = 0.0) -> None:
        """Verify reachability and credentials; raise ConnectorError / ConfigError naming the cause."""


@runtime_checkable
class Source(Protocol):
    def first_page(self, *, since_ms: int | None = None) -> PageRequest:
        """The request for page one of a full (``since_ms`` None) or incremental listing."""

    def fetch_page(self, request: PageRequest) -> SourcePage:
        """Fetch one page; unreadable records come back in ``rejects``, not as exceptions."""


@runtime_checkable
class Writer(Protocol):
    def apply(self, writes: Sequence[Write], on_outcome: OnOutcome | None = None) -> WriteOutcome:
        """Apply absolute writes; per-item refusals come back in ``failed``, not raised. ``on_outcome``
        receives each part's outcome as it lands, so it can be recorded at once."""


@runtime_checkable
class CatalogueReader(Protocol):
    def read_catalogue_page(self, number: int) -> CataloguePage:
        """One page (numbered from 0 or 1, as ``first``) of what the target holds."""


@runtime_checkable
class Replayer(Protocol):
    def apply_one(self, write: Write) -> None:
        """Apply one write through the per-item call; raises ConnectorError."""


@runtime_checkable
class Creator(Protocol):
    def create_product(self, product: NewProduct) -> dict[str, str]:
        """Create a product; return source variant key → new target variant key."""
