"""What the pipeline adds to `catalog-sync serve` (its ``Pipeline.service``): the webhook receiver
(``webhooks``) and the products read API (``read_api``, answered from a per-worker copy, ``read_index``)."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from catalog_sync.service.auth import READ_REFUSALS
from catalog_sync.service.deps import require_read
from sync_core.pipelines.ploomes import read_api, webhooks
from sync_core.pipelines.ploomes.read_index import ProductIndex


def install(app: FastAPI) -> None:
    """Add the endpoints; the read API's copy shares the process's settings with the other hot paths."""
    app.state.products = ProductIndex(app.state.process_settings)
    # Read-only: the token only with API_TOKEN_FOR_READS=true. The webhook checks Ploomes' own key instead.
    app.include_router(read_api.router, dependencies=[Depends(require_read)], responses=READ_REFUSALS)
    app.include_router(webhooks.router)
