"""`GET /items/{pipeline}/{key}`: one item's story from the state store (sync_core.engine.explain), as
`catalog-sync explain` tells it. It shows an item's history (values, writes, requests, failures), so it asks
for the bearer token always, like the endpoints that change something (``WriteAccess``), not only with
API_TOKEN_FOR_READS.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from catalog_sync.service.auth import WRITE_REFUSALS
from catalog_sync.service.deps import SettingsDep, WriteAccess
from catalog_sync.service.errors import MAX_ECHO, STORE_ERROR, ErrorResponse, error_response
from sync_core.errors import ConfigError
from sync_core.json_codec import dumps
from sync_core.settings import Settings

router = APIRouter(tags=["items"])


class ItemStory(BaseModel):
    """One item's story; every time is UTC ISO 8601."""

    pipeline: str = Field(examples=["anar360-sazito"])
    key: str = Field(description="the key asked for (a source key or a target key)", examples=["64f0c1a2"])
    rule: dict[str, Any] = Field(
        description="how the target's values are made of the source's (e.g. multiplier, markup, rounding, "
        "stock rule), as configured now"
    )
    sources: list[dict[str, Any]] = Field(
        description="the source's last values per source item: read_at, the run that read them, the target "
        "keys they map to, and `wanted`: what the rule makes of them now"
    )
    links: list[dict[str, Any]] = Field(description="source item ↔ target item links, how and when made")
    targets: list[dict[str, Any]] = Field(
        description="what the ledger says the target holds, per item and kind: value, origin (written or "
        "observed), when, `as_wanted`, the run that wrote it and its requests (request_id, status, outcome, "
        "time; `match`: named, body, only or nearest)"
    )
    rows: list[dict[str, Any]] = Field(
        description="a table target's row: its values, when written and by which run"
    )
    failures: list[dict[str, Any]] = Field(description="open failures (pending or dead) of the item")
    held: list[dict[str, Any]] = Field(description="writes of the item the guardrail holds")


class ItemResponse(BaseModel):
    data: ItemStory
    error: None = None


RESPONSES: dict[int | str, dict[str, Any]] = {
    **WRITE_REFUSALS,
    404: {
        "model": ErrorResponse,
        "description": "No such pipeline, or the state store knows nothing of the item (code `not_found`)",
    },
    503: {
        "model": ErrorResponse,
        "description": f"{STORE_ERROR[503]}; or API_TOKEN is not set (code `unavailable`)",
    },
}


def _story(settings: Settings, name: str, key: str) -> dict[str, Any] | str:
    """The story, or why there is none (one line)."""
    from sync_core.engine.explain import explain_item
    from sync_core.engine.registry import pipeline

    try:
        spec = pipeline(name)
    except ConfigError as exc:
        return str(exc)
    story = explain_item(settings, spec, key)
    return story if story is not None else f"{spec.name} knows no item {key[:MAX_ECHO]!r}"


@router.get(
    "/items/{pipeline}/{key:path}",
    summary="Explain an item",
    response_model=ItemResponse,
    responses=RESPONSES,
)
async def item_story(
    pipeline: Annotated[
        str, PathParam(description="a pipeline's name or its command", examples=["anar360-sazito"])
    ],
    key: Annotated[
        str,
        PathParam(
            description="the item's source key or target key (it may hold a slash: `<store>/<variant id>`)",
            examples=["64f0c1a2"],
        ),
    ],
    settings: SettingsDep,
    _: WriteAccess,
) -> Response:
    """Why the target shows what it shows: the source's last values and when they were read, the rule, what
    the target holds, the run and requests that wrote it, and any open failure or held write. Needs
    `Authorization: Bearer <API_TOKEN>` always (it shows an item's history)."""
    found = await run_in_threadpool(_story, settings, pipeline, key)
    if isinstance(found, str):
        return error_response(404, "not_found", found)
    return Response(dumps({"data": found, "error": None}), media_type="application/json")
