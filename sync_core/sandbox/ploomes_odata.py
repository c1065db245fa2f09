"""The OData v4 subset the Ploomes simulator understands (contracts/ploomes.md): `$filter` (eq, gt, ge, and),
`$orderby`, `$top`, `$skip`, `$select`, `$expand` and the opaque `$skiptoken` of its `@odata.nextLink`.

A date-time literal must carry an offset (`-03:00`, `%2B05:30`, `Z`): one without is a 400, and so is a `+`
sent unencoded (it arrives as a space). Unknown fields, operators and `$` options are 400s too.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

OPTIONS = ("$filter", "$orderby", "$top", "$skip", "$select", "$expand", "$skiptoken")
OPERATORS = ("eq", "gt", "ge")
_TOKENS = re.compile(r"'(?:[^']|'')*'|[()]|[^\s()]+")
_DATE = re.compile(
    r"(?P<stamp>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?)?)(?P<offset>Z|[+-]\d{2}:\d{2})?"
)
_INT = re.compile(r"-?\d{1,18}")


class ODataError(ValueError):
    """A query the simulator refuses with 400 (the message says why)."""


@dataclass(frozen=True)
class Entity:
    """What a query may name: `fields` (filterable and sortable) → (kind "int" | "str" | "datetime", getter);
    `selectable` JSON fields; `expandable` navigation properties; `tiebreak` orders equal sort keys."""

    name: str
    fields: Mapping[str, tuple[str, Callable[[Any], Any]]]
    selectable: Sequence[str]
    expandable: Sequence[str] = ()
    tiebreak: Callable[[Any], Any] = field(default=lambda row: 0)


Condition = tuple[Callable[[Any], Any], str, Any]


@dataclass
class Query:
    """A parsed query: conditions (getter, operator, value), sort keys (getter, descending), the page, and
    what to select and expand (None: everything / nothing)."""

    conditions: list[Condition]
    order: list[tuple[Callable[[Any], Any], bool]]
    top: int
    skip: int
    select: list[str] | None
    expand: set[str]
    options: dict[str, str]  # the `$` options as given (for the next link's token)

    def matches(self, row: Any) -> bool:
        """True when `row` satisfies every condition (null is only equal to null, never greater)."""
        for getter, op, value in self.conditions:
            actual = getter(row)
            if op == "eq":
                if actual != value:
                    return False
            elif actual is None or value is None or not (actual > value if op == "gt" else actual >= value):
                return False
        return True

    def sort(self, rows: list[Any], tiebreak: Callable[[Any], Any]) -> list[Any]:
        """`rows` in the query's order, nulls first; equal keys in `tiebreak` order."""
        rows = sorted(rows, key=tiebreak)
        for getter, descending in reversed(self.order):
            rows.sort(key=_nulls_first(getter), reverse=descending)
        return rows


def _nulls_first(getter: Callable[[Any], Any]) -> Callable[[Any], tuple[bool, Any]]:
    def key(row: Any) -> tuple[bool, Any]:
        value = getter(row)
        return value is not None, value

    return key


def parse_datetime(text: str) -> datetime:
    """A date-time literal with an offset; raises ODataError for one without (or a malformed one)."""
    found = _DATE.fullmatch(text)
    if found is None:
        raise ODataError(f"'{text}' is not a date-time literal")
    if found["offset"] is None:
        raise ODataError(
            f"the date-time literal '{text}' has no offset: add one (-03:00, Z; a '+' must be sent as %2B)"
        )
    if "T" not in found["stamp"]:
        raise ODataError(f"'{text}' is a date, not a date-time")
    offset = "+00:00" if found["offset"] == "Z" else found["offset"]
    try:
        moment = datetime.fromisoformat(found["stamp"] + offset)
    except ValueError as exc:
        raise ODataError(f"'{text}' is not a valid date-time") from exc
    return moment


def _literal(kind: str, token: str) -> Any:
    if token == "null":
        return None
    if kind == "int":
        if not _INT.fullmatch(token):
            raise ODataError(f"'{token}' is not an integer")
        return int(token)
    if kind == "str":
        if len(token) < 2 or token[0] != "'" or token[-1] != "'":
            raise ODataError(f"'{token}' is not a string literal (quote it: 'text')")
        return token[1:-1].replace("''", "'")
    if token.startswith("'"):
        raise ODataError(f"the date-time literal {token} must not be quoted")
    return parse_datetime(token)


def parse_filter(text: str, entity: Entity) -> list[Condition]:
    """`Field op literal [and Field op literal ...]` → conditions."""
    tokens = _TOKENS.findall(text)
    if not tokens:
        raise ODataError("$filter is empty")
    conditions: list[Condition] = []
    at = 0
    while True:
        if len(tokens) - at < 3:
            raise ODataError(f"$filter: expected 'Field operator value' at '{' '.join(tokens[at:])}'")
        name, op, literal = tokens[at : at + 3]
        if name not in entity.fields:
            raise ODataError(f"$filter: {entity.name} has no filterable field '{name}'")
        if op not in OPERATORS:
            raise ODataError(f"$filter: unknown operator '{op}' (supported: {', '.join(OPERATORS)})")
        kind, getter = entity.fields[name]
        conditions.append((getter, op, _literal(kind, literal)))
        at += 3
        if at == len(tokens):
            return conditions
        if tokens[at] != "and":
            raise ODataError(f"$filter: expected 'and' at '{' '.join(tokens[at:])}'")
        at += 1


def parse_orderby(text: str, entity: Entity) -> list[tuple[Callable[[Any], Any], bool]]:
    """`Field [asc|desc], ...` → sort keys."""
    order = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise ODataError(f"$orderby: cannot read '{part.strip()}' (Field [asc|desc])")
        if words[0] not in entity.fields:
            raise ODataError(f"$orderby: {entity.name} has no sortable field '{words[0]}'")
        order.append((entity.fields[words[0]][1], len(words) == 2 and words[1] == "desc"))
    return order


def _count(options: Mapping[str, str], name: str, default: int) -> int:
    raw = options.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit():
        raise ODataError(f"{name} must be a non-negative integer")
    return int(raw)


def parse_expand(text: str, entity: Entity) -> set[str]:
    """`Nav[($select=...)], ...`; nested options other than $select are refused."""
    names: set[str] = set()
    for item in re.findall(r"[^,(]+(?:\([^)]*\))?", text):
        name, _, nested = item.strip().partition("(")
        if name not in entity.expandable:
            raise ODataError(f"$expand: {entity.name} cannot expand '{name}'")
        for option in filter(None, nested.rstrip(")").split(";")):
            if not option.strip().startswith("$select="):
                raise ODataError(f"$expand: unsupported nested option '{option.strip()}'")
        names.add(name)
    return names


def encode_token(options: Mapping[str, str], skip: int) -> str:
    """The opaque `$skiptoken` of the page starting at `skip` of the query `options`."""
    raw = json.dumps({"o": dict(options), "s": skip}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        options, skip = dict(data["o"]), int(data["s"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ODataError("$skiptoken is not one this server issued") from exc
    return {**{str(k): str(v) for k, v in options.items()}, "$skip": str(skip)}


def parse_query(params: Mapping[str, str], entity: Entity, cap: int) -> Query:
    """The query of a request's parameters (`$skiptoken` replaces the others); raises ODataError."""
    options = {k: v for k, v in params.items() if k.startswith("$")}
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ODataError(f"unsupported query options: {', '.join(unknown)}")
    if "$skiptoken" in options:
        options = _decode_token(options["$skiptoken"])
    select = None
    if "$select" in options:
        select = [name.strip() for name in options["$select"].split(",")]
        wrong = [name for name in select if name not in entity.selectable and name not in entity.expandable]
        if wrong:
            raise ODataError(f"$select: {entity.name} has no field {', '.join(wrong)}")
    return Query(
        conditions=parse_filter(options["$filter"], entity) if "$filter" in options else [],
        order=parse_orderby(options["$orderby"], entity) if "$orderby" in options else [],
        top=min(_count(options, "$top", cap), cap),
        skip=_count(options, "$skip", 0),
        select=select,
        expand=parse_expand(options["$expand"], entity) if "$expand" in options else set(),
        options={k: v for k, v in options.items() if k != "$skip"},
    )


def shaped(row: dict[str, Any], select: list[str] | None, expanded: set[str]) -> dict[str, Any]:
    """A row's JSON cut to `$select` (expanded properties stay)."""
    if select is None:
        return row
    keep = set(select) | expanded
    return {k: v for k, v in row.items() if k in keep}


# ----- the entities the simulator serves -------------------------------------------------------------
PRODUCTS = Entity(
    "Products",
    fields={
        "Id": ("int", attrgetter("id")),
        "Name": ("str", attrgetter("name")),
        "Code": ("str", attrgetter("code")),
        "GroupId": ("int", attrgetter("group_id")),
        "FamilyId": ("int", attrgetter("family_id")),
        "CreateDate": ("datetime", attrgetter("created")),
        "LastUpdateDate": ("datetime", attrgetter("updated")),
    },
    selectable=(
        "Id",
        "Name",
        "Code",
        "Description",
        "GroupId",
        "FamilyId",
        "MeasurementUnit",
        "CurrencyId",
        "UnitPrice",
        "CreateDate",
        "LastUpdateDate",
    ),
    expandable=("OtherProperties",),
    tiebreak=attrgetter("tiebreak"),
)
_ROW_FIELDS = {"Id": ("int", lambda row: row["Id"]), "Name": ("str", lambda row: row["Name"])}
GROUP_ENTITY = Entity("Products@Groups", _ROW_FIELDS, ("Id", "Name"), tiebreak=lambda row: row["Id"])
FAMILY_ENTITY = Entity(
    "Products@Families",
    {**_ROW_FIELDS, "GroupId": ("int", lambda row: row["GroupId"])},
    ("Id", "Name", "GroupId"),
    tiebreak=lambda row: row["Id"],
)
