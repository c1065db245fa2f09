"""`POST /webhooks/ploomes` on `catalog-sync serve`: a delivery whose ``X-Ploomes-Validation-Key`` matches
PLOOMES_WEBHOOK_KEY (compared in constant time) is kept in the inbox and answered 202 at once; the drain
(``drain.py``) turns the inbox into runs. A missing or wrong key is answered 401, counted (outcome
``forged``) and logged without the key; a body that is no product delivery is answered 400 and counted
(``unreadable``). Loaded by the service through the pipeline's ``routes``."""

from __future__ import annotations

import hmac
import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from catalog_sync.service.errors import error_response, error_responses, one_line
from sync_core.errors import ConfigError, PersistenceError
from sync_core.pipelines.ploomes import inbox
from sync_core.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
KEY_HEADER = "X-Ploomes-Validation-Key"
MAX_BODY = 1_000_000  # bytes: a product with its custom fields is a few kB


class Accepted(BaseModel):
    delivery: int = Field(description="the delivery's id in the inbox", examples=[42])


class AcceptedResponse(BaseModel):
    data: Accepted
    error: None = None


RESPONSES = {202: {"model": AcceptedResponse, "description": "Kept; a real-time run applies it shortly"}} | (
    error_responses(
        {
            400: "Not a Ploomes product delivery (code `invalid_request`)",
            401: "Missing or wrong X-Ploomes-Validation-Key (code `unauthorized`)",
            503: "PLOOMES_WEBHOOK_KEY is not set, or the state store cannot keep the delivery (`unavailable`)",
        }
    )
)


@router.post("/webhooks/ploomes", status_code=202, response_class=Response, responses=RESPONSES)
async def receive(request: Request) -> Response:
    """A Ploomes product delivery (`{"Action": "Create|Update|Delete", "Entity": "Product", "New", "Old"}`
    with header `X-Ploomes-Validation-Key`): kept in the inbox, applied by a real-time run within seconds;
    bursts are coalesced into few runs. Never lost: if Prefect or Ploomes is down, it waits in the inbox."""
    try:
        settings: Settings = request.app.state.settings_loader()
    except ConfigError as exc:
        log.error("/webhooks/ploomes: invalid settings: %s", exc)
        return error_response(503, "unavailable", "the service's settings are invalid; its log says which")
    url = settings.database_url
    if settings.ploomes_webhook_key is None:
        return error_response(
            503, "unavailable", "PLOOMES_WEBHOOK_KEY is not set: no delivery can be checked"
        )
    given = request.headers.get(KEY_HEADER, "")
    expected = settings.ploomes_webhook_key.get_secret_value()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning(
            "/webhooks/ploomes: refused a delivery from %s: %s",
            request.client.host if request.client else "?",
            "no validation key" if not given else "wrong validation key",
        )
        await _count(url, "forged")
        return error_response(401, "unauthorized", f"missing or wrong {KEY_HEADER}")
    raw = await request.body()
    try:
        if len(raw) > MAX_BODY:
            raise inbox.BadDelivery(f"the body is over {MAX_BODY} bytes")
        body: Any = orjson.loads(raw)
        delivery = inbox.read_delivery(body)
    except (orjson.JSONDecodeError, inbox.BadDelivery) as exc:
        reason = str(exc) if isinstance(exc, inbox.BadDelivery) else "the body is not JSON"
        await _count(url, "unreadable")
        return error_response(400, "invalid_request", reason)
    try:
        kept = await run_in_threadpool(inbox.keep, url, delivery, body)
    except (SQLAlchemyError, PersistenceError) as exc:
        log.error("/webhooks/ploomes: the inbox did not keep a delivery: %s", one_line(exc))
        return error_response(503, "unavailable", "the state store cannot keep the delivery; send it again")
    content = orjson.dumps({"data": {"delivery": kept}, "error": None})
    return Response(content, status_code=202, media_type="application/json")


async def _count(url: str, outcome: str) -> None:
    try:
        await run_in_threadpool(inbox.count, url, outcome)
    except (SQLAlchemyError, PersistenceError) as exc:
        log.warning("/webhooks/ploomes: could not count a %s delivery: %s", outcome, one_line(exc))
