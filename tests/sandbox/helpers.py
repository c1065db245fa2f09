"""Shared helpers for the sandbox tests."""

from __future__ import annotations

from sync_core.sandbox import SandboxHandle


def linked_ids(handle: SandboxHandle) -> list[int]:
    """Store variant ids whose sku is an Anar360 variant `_id`, in id order."""
    cat = handle.state.catalogue
    return sorted(v.id for v in cat.store_variants.values() if v.sku in cat.variant_index)
