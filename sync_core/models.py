"""Provider-neutral records that flow between connectors, mapping, diffing and the store."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A record the source could not read; it goes to ``failures`` with its reason."""

    key: str | None
    reason: str
    message: str
    payload: dict[str, Any]
    error_class: str = "MappingError"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page to fetch: a 1-based number, or an opaque token for cursor-paged sources."""

    number: int = 1
    size: int = 100
    since_ms: int | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class SourcePage:
    """One page from a source; ``next`` is None on the last page."""

    request: PageRequest
    records: list[Any]  # the source's own record objects: only the pipeline's mapper reads their fields
    rejects: list[RejectedRecord]
    next: PageRequest | None
    total: int | None = None
    last_number: int | None = None  # the last page number the server's total implies, when it reports one


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    """One item of a target's catalogue as read back: its key, its product's, its SKU and names, and the
    value of each write kind it holds (kind → value, only the kinds the target reported)."""

    key: str
    product_key: str
    sku: str | None
    product_name: str
    title: str | None
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CataloguePage:
    """One page of the target's catalogue."""

    number: int
    items: list[CatalogueItem]
    next: int | None
    total: int | None = None
    last_number: int | None = None  # the last page number the server's total implies, when it reports one


@dataclass(frozen=True, slots=True)
class Write:
    """One value to set on one target item.

    ``kind`` names the aspect ("price", "stock"); ``value`` is the whole value of that aspect, so the
    write is absolute and can be replayed safely.
    """

    kind: str
    target_key: str
    source_key: str
    value: dict[str, Any]
    digest: str | None = None  # the value's fingerprint when the mapper computes its own

    def __post_init__(self) -> None:
        # Made once: a write is fingerprinted when planned and again when its ledger row is recorded.
        if self.digest is None:
            object.__setattr__(self, "digest", fingerprint(self.kind, self.value))

    @property
    def fingerprint(self) -> str:
        return self.digest  # type: ignore[return-value]  # set by __post_init__

    def payload(self) -> dict[str, Any]:
        """The write as a failure's payload, replayed from it later (:meth:`from_payload`)."""
        return {
            "kind": self.kind,
            "target_key": self.target_key,
            "source_key": self.source_key,
            "value": self.value,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Write:
        return cls(payload["kind"], payload["target_key"], payload["source_key"], payload["value"])


@dataclass(slots=True)
class WriteOutcome:
    """What the target said about a group of writes."""

    succeeded: list[Write] = field(default_factory=list)
    failed: list[FailedWrite] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FailedWrite:
    """A write the target refused or that could not be sent: the error's class and its one-line message."""

    write: Write
    error: type[Exception]
    message: str


@dataclass(frozen=True, slots=True)
class NewProduct:
    """A source product to create in the target (a Creator's input)."""

    source_key: str
    name: str
    description: str
    variants: tuple[tuple[str, dict[str, Any]], ...]  # (source variant key, {kind: value})


# One encoder for every fingerprint (json.dumps with options builds a new one per call). Its output must never
# change: the ledger keeps fingerprints across versions, and a new spelling would resend every value once.
_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(kind: str, value: dict[str, Any]) -> str:
    """Stable short hash of an aspect value: equal values, equal fingerprints."""
    raw = _FINGERPRINT_JSON.encode([kind, value])
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()
