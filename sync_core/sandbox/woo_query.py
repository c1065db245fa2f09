"""The WooCommerce simulator's listing parameters: per_page (default 10, at most 100: more is refused, not
capped), page (1-based; past the end an empty list), orderby/order, ``_fields``, ``include``, ``sku`` (a
comma list), ``modified_after`` (strictly after, to the second; in the site's zone unless
``dates_are_gmt=true``), and the answers' error bodies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

from sync_core.sandbox.woo_catalogue import SITE_ZONE

ORDERBY = ("date", "id", "include", "title", "slug", "modified")


class InvalidParam(ValueError):
    """A parameter WordPress refuses (400 rest_invalid_param naming it)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def error(status: int, code: str, message: str, **data: Any) -> JSONResponse:
    """A WooCommerce error answer ``{"code", "message", "data": {"status", ...}}``."""
    return JSONResponse({"code": code, "message": message, "data": {"status": status, **data}}, status)


def invalid(exc: InvalidParam) -> JSONResponse:
    return error(
        400, "rest_invalid_param", f"Invalid parameter(s): {exc.name}", params={exc.name: str(exc)},
        details={exc.name: {"code": "rest_invalid_param", "message": str(exc), "data": None}},
    )  # fmt: skip


def _integer(params: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParam(name, f"{name} is not of type integer.") from None
    if value < low or high is not None and value > high:
        bound = (
            f"between {low} (inclusive) and {high} (inclusive)" if high else f"greater than or equal to {low}"
        )
        raise InvalidParam(name, f"{name} must be {bound}")
    return value


def _date(params: Mapping[str, str], name: str, gmt: bool) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidParam(name, f"Invalid date. {name} must be in ISO8601 format.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC if gmt else SITE_ZONE)
    return when.astimezone(UTC).replace(microsecond=0)


def _ids(params: Mapping[str, str], name: str) -> set[int] | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise InvalidParam(name, f"{name}[0] is not of type integer.") from None


@dataclass(frozen=True)
class Listing:
    """A listing's parameters, parsed; ``InvalidParam`` from :meth:`parse` for one WordPress refuses."""

    per_page: int = 10
    page: int = 1
    orderby: str = "date"
    descending: bool = True
    fields: tuple[str, ...] | None = None
    include: set[int] | None = None
    skus: set[str] | None = None
    modified_after: datetime | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Listing:
        orderby = params.get("orderby", "date")
        if orderby not in ORDERBY:
            raise InvalidParam("orderby", f"orderby is not one of {', '.join(ORDERBY)}.")
        order = params.get("order", "desc")
        if order not in ("asc", "desc"):
            raise InvalidParam("order", "order is not one of asc, desc.")
        gmt = params.get("dates_are_gmt", "false").lower() in ("true", "1")
        fields = params.get("_fields")
        skus = params.get("sku")
        return cls(
            per_page=_integer(params, "per_page", 10, 1, 100),
            page=_integer(params, "page", 1, 1, None),
            orderby=orderby,
            descending=order == "desc",
            fields=tuple(f.strip().split(".")[0] for f in fields.split(",") if f.strip()) if fields else None,
            include=_ids(params, "include"),
            skus={s.strip() for s in skus.split(",") if s.strip()} if skus else None,
            modified_after=_date(params, "modified_after", gmt),
        )

    def select(
        self, records: list[dict[str, Any]], created: Callable[[dict[str, Any]], str]
    ) -> list[dict[str, Any]]:
        """The records (served JSON) that match, in the asked order."""
        kept = [
            r
            for r in records
            if (self.include is None or r["id"] in self.include)
            and (self.skus is None or r["sku"] in self.skus)
            and (self.modified_after is None or _gmt(r["date_modified_gmt"]) > self.modified_after)
        ]
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "id": lambda r: r["id"],
            "include": lambda r: r["id"],
            "title": lambda r: (r.get("name", ""), r["id"]),
            "slug": lambda r: (r.get("slug", ""), r["id"]),
            "modified": lambda r: (r["date_modified_gmt"], r["id"]),
            "date": lambda r: (created(r), r["id"]),
        }
        return sorted(kept, key=keys[self.orderby], reverse=self.descending)

    def page_of(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """This page of ``records``, trimmed to ``_fields``."""
        rows = records[(self.page - 1) * self.per_page : self.page * self.per_page]
        if self.fields is None:
            return rows
        return [{k: v for k, v in row.items() if k in self.fields} for row in rows]


def _gmt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
