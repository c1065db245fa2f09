"""JSON in and out through orjson (several times faster than the standard library), with the standard
library's behaviour: what orjson refuses (an int past 64 bits, NaN, a type only ``json`` knows) falls back to
``json``, so nothing that worked before fails now. Fingerprints keep their own encoder (sync_core.models)."""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON of ``value``."""
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def dumps_text(value: Any) -> str:
    """:func:`dumps` as text (for JSON columns)."""
    return dumps(value).decode()


def loads(data: bytes | str) -> Any:
    """Decode JSON; raises ValueError when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # NaN, Infinity or an int past 64 bits: json reads those
        return json.loads(data)
