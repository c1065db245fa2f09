"""The operations HTTP service (`catalog-sync serve`): health, runs, failures and Prometheus metrics."""

from __future__ import annotations

from catalog_sync.service.app import create_app

__all__ = ["create_app"]
