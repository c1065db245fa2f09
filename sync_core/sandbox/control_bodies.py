"""Reading the JSON bodies of the sandbox's control routes (`/_sandbox/...`): a refused body is a
``BadBody`` (a ValueError) whose message the route answers with a 400."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request


class BadBody(ValueError):
    """A control body the route cannot use; the message says why."""


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``)."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise BadBody("the body must be JSON") from exc
    if not isinstance(data, dict):
        raise BadBody("the body must be a JSON object")
    return data


def non_negative_int(body: dict[str, Any], name: str, default: int | None = None) -> int | None:
    """``body[name]``: a non-negative integer, or ``default`` when absent."""
    value = body.get(name, default)
    if value is not None and (type(value) is not int or value < 0):
        raise BadBody(f"{name} must be a non-negative integer")
    return value
