"""`GET /search`: online events inside a time window, from the project's own store (contracts/fever.md).

Parameters are read here rather than by FastAPI (cheaper on this hot path), and a bad one is answered in the
contract's envelope. Accepted: ISO 8601 date-times (``2021-02-01T00:00:00Z``, ``...+02:00``, fractions of a
second); a value without an offset is UTC; an offset whose ``+`` arrived as a space (unencoded in the URL) is
read as ``+``; an empty value is the same as none. A date alone (``2021-02-01``) is refused: at the window's
end it could mean that midnight or that whole day.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from catalog_sync.service.auth import READ_SECURITY
from catalog_sync.service.deps import check_read
from catalog_sync.service.errors import ErrorResponse, error_response, store_answer
from catalog_sync.service.search_index import EventIndex, Window

router = APIRouter(tags=["search"])

MAX_PARAMETER_LENGTH = 64
_TIME_PART = re.compile(r"[Tt ]\d")
_SPACED_OFFSET = re.compile(r"(\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?) (\d\d(?::?\d\d)?)$")
EXAMPLE = "2021-02-01T00:00:00Z"
STARTS_AT_DOC = (
    "earliest start, inclusive: an ISO 8601 date-time, UTC when it has no offset; none: no lower bound"
)
ENDS_AT_DOC = "latest end, inclusive: an ISO 8601 date-time, UTC when it has no offset; none: no upper bound"


class BadParameter(ValueError):
    """A parameter the route refuses with 400; ``code`` goes into the error envelope."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class EventOut(BaseModel):
    id: str = Field(
        description="UUID, stable for an event across syncs",
        examples=["3fa85f64-5717-4562-b3fc-2c963f66afa6"],
    )
    title: str = Field(examples=["Camela en concierto"])
    start_date: str = Field(description="YYYY-MM-DD, UTC", examples=["2021-06-30"])
    start_time: str = Field(description="HH:MM:SS, UTC", examples=["21:00:00"])
    end_date: str = Field(description="YYYY-MM-DD, UTC", examples=["2021-06-30"])
    end_time: str = Field(description="HH:MM:SS, UTC", examples=["22:00:00"])
    min_price: float = Field(description="lowest zone price", examples=[15.0])
    max_price: float = Field(description="highest zone price", examples=[30.0])


class EventList(BaseModel):
    events: list[EventOut]


class SearchResponse(BaseModel):
    """The events whose [start, end] lies inside the window, ordered by start (then id)."""

    data: EventList
    error: None = None


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": SearchResponse, "description": "Events inside the window (possibly none)"},
    400: {
        "model": ErrorResponse,
        "description": "A parameter is not a date-time (code `invalid_parameter`), or starts_at is after "
        "ends_at (code `invalid_range`)",
    },
    500: {
        "model": ErrorResponse,
        "description": "The store cannot answer: database down, bad settings (code `internal_error`)",
    },
}


def parse_instant(name: str, raw: str | None) -> datetime | None:
    """An aware UTC datetime from a query value; None when absent or empty; raises BadParameter."""
    if raw is None or not raw.strip():
        return None
    text = _SPACED_OFFSET.sub(r"\1+\2", raw.strip())
    refusal = BadParameter(
        "invalid_parameter",
        f"{name} must be an ISO 8601 date-time such as {EXAMPLE}, not {raw[:MAX_PARAMETER_LENGTH]!r}",
    )
    if len(text) > MAX_PARAMETER_LENGTH or not _TIME_PART.search(text):
        raise refusal
    try:
        value = datetime.fromisoformat(text)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise refusal from None


def parse_window(request: Request) -> Window:
    """The normalised (UTC) window of a request: equal instants written differently share one cache entry."""
    params = request.query_params
    values: list[datetime | None] = []
    for name in ("starts_at", "ends_at"):
        given = params.getlist(name)
        if len(given) > 1:
            raise BadParameter("invalid_parameter", f"{name} is given {len(given)} times; give it once")
        values.append(parse_instant(name, given[0] if given else None))
    starts_at, ends_at = values
    if starts_at is not None and ends_at is not None and starts_at > ends_at:
        raise BadParameter(
            "invalid_range",
            f"starts_at ({starts_at:%Y-%m-%dT%H:%M:%SZ}) is after ends_at ({ends_at:%Y-%m-%dT%H:%M:%SZ})",
        )
    return starts_at, ends_at


def _parameter(name: str, description: str, example: str) -> dict[str, Any]:
    schema = {"type": "string", "format": "date-time"}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        "example": example,
    }


# Declared for the docs only: FastAPI's own parameter handling cost 40 % of a cached answer's time.
PARAMETERS = [
    _parameter("starts_at", STARTS_AT_DOC, EXAMPLE),
    _parameter("ends_at", ENDS_AT_DOC, "2021-03-01T00:00:00+01:00"),
]


@router.get(
    "/search",
    response_class=Response,
    response_model=None,
    responses=RESPONSES,
    openapi_extra={"parameters": PARAMETERS, **READ_SECURITY},
)
async def search(request: Request) -> Response:
    """Online events that start at or after ``starts_at`` and end at or before ``ends_at`` (both bounds
    inclusive, both optional), ordered by start. Served from the store, never from the provider; at most
    about a second behind the last sync."""
    check_read(request)  # deps.ReadAccess, without the cost of a FastAPI dependency on this hot path
    try:
        window = parse_window(request)
    except BadParameter as exc:
        return error_response(400, exc.code, str(exc))
    events: EventIndex = request.app.state.search
    return await store_answer("/search", events.body(window), store="event store")
