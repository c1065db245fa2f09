"""The dashboard's form posts, read without python-multipart: ``application/x-www-form-urlencoded`` bodies
only, at most :data:`MAX_FORM_BYTES`, strict UTF-8; a field sent twice keeps its first value."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from sync_core.errors import ConfigError
from sync_core.pipelines.stores.dashboard.render import Problem
from sync_core.pipelines.stores.integrations import check_threshold

MAX_FORM_BYTES = 16 * 1024
MAX_FIELDS = 32
FORM_TYPE = "application/x-www-form-urlencoded"
CHECKED = frozenset({"1", "on", "true", "yes"})
ADD_FIELDS = ("name", "platform", "url", "credentials_env", "credentials_block", "threshold")
ADD_FLAGS = ("active", "auto_sync", "sync_now")
MAX_VALUE = 2000  # characters of any one text field (a store URL is the longest)


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's fields; 415, 413 or 400 pages for what is not a small URL-encoded UTF-8 form."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Problem(413, f"the form is larger than {MAX_FORM_BYTES // 1024} KiB")
    if kind != FORM_TYPE and (kind or body):  # an empty post without a type is an empty form
        raise Problem(415, f"send the form as {FORM_TYPE}")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
        )
    except UnicodeDecodeError:
        raise Problem(400, "the form is not UTF-8") from None
    except ValueError:
        raise Problem(400, f"the form has more than {MAX_FIELDS} fields") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def checked(form: dict[str, str], name: str) -> bool:
    """A checkbox: sent (with a true-ish value) when ticked, absent when not."""
    return form.get(name, "").strip().lower() in CHECKED


def empty_add_form() -> dict[str, Any]:
    """The add-store form as first shown: active and auto-sync ticked, nothing else filled."""
    return dict.fromkeys(ADD_FIELDS, "") | {
        "platform": "shopify",
        "active": True,
        "auto_sync": True,
        "sync_now": False,
    }


def add_form(form: dict[str, str]) -> dict[str, Any]:
    """The add-store form's values as entered (to show again with a refusal)."""
    return {name: form.get(name, "").strip() for name in ADD_FIELDS} | {
        flag: checked(form, flag) for flag in ADD_FLAGS
    }


def check_add_form(values: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``api.NewStore`` from the entered values; ConfigError (one line) for a value the model
    itself cannot take (the rest is checked by ``integrations.add``)."""
    for name in ADD_FIELDS:
        if len(values[name]) > MAX_VALUE:
            raise ConfigError(f"{name} must be at most {MAX_VALUE} characters long")
    return {
        "name": values["name"],
        "platform": values["platform"],
        "url": values["url"],
        "credentials_env": values["credentials_env"] or None,
        "credentials_block": values["credentials_block"] or None,
        "threshold": check_threshold(values["threshold"]),
        "active": values["active"],
        "auto_sync": values["auto_sync"],
        "sync_now": values["sync_now"],
    }
