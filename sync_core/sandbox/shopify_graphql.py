"""Just enough of GraphQL for the Shopify simulator: one query operation (``query($a: T, ...) { ... }`` or a
bare ``{ ... }``) as a tree of fields with aliases, arguments (literals, variables, lists, objects) and
selections. Variable definitions are skipped (their values come from ``variables``), directives ignored;
fragments, mutations and several operations are refused as a GraphQLError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class GraphQLError(ValueError):
    """A query the simulator refuses as a whole: a top-level ``errors`` entry (``code`` when it has one)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Variable:
    name: str


@dataclass(slots=True)
class Field:
    """A selected field: ``alias: name(args) { selections }``; ``key`` is what the answer names it."""

    name: str
    alias: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    selections: list[Field] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.alias or self.name


_TOKEN = re.compile(
    r"""(?P<skip>[\s,]+|\#[^\n]*)
      | (?P<spread>\.\.\.)
      | (?P<punct>[{}()\[\]:!$=@|&])
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<string>"(?:[^"\\\n]|\\.)*")
      | (?P<name>[_A-Za-z][_0-9A-Za-z]*)""",
    re.VERBOSE,
)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unquote(text: str) -> str:
    return re.sub(
        r"\\(u[0-9a-fA-F]{4}|.)",
        lambda m: chr(int(m[1][1:], 16)) if m[1][0] == "u" else _ESCAPES.get(m[1], m[1]),
        text[1:-1],
    )


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise GraphQLError(f"Parse error on {text[at : at + 10]!r} at character {at}")
        kind = match.lastgroup or ""
        if kind != "skip":
            found.append((kind, match.group()))
        at = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens, self.at = _tokens(text), 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end" or (value is not None and token[1] != value):
            raise GraphQLError(f"Parse error on {token[1] or 'end of query'!r} (expected {value or 'more'})")
        self.at += 1
        return token

    def document(self) -> list[Field]:
        kind, word = self.peek()
        if kind == "name":
            if word != "query":
                raise GraphQLError(f"this simulator serves queries only, not a {word}")
            self.take()
            if self.peek()[0] == "name":
                self.take()
            if self.peek()[1] == "(":
                self.skip_balanced("(", ")")
            self.directives()
        selections = self.selections()
        if self.peek()[0] != "end":
            raise GraphQLError("this simulator serves one operation a request, without fragments")
        return selections

    def skip_balanced(self, opening: str, closing: str) -> None:
        depth = 0
        while True:
            value = self.take()[1]
            depth += (value == opening) - (value == closing)
            if depth == 0:
                return

    def directives(self) -> None:
        while self.peek()[1] == "@":
            self.take()
            self.take()
            if self.peek()[1] == "(":
                self.skip_balanced("(", ")")

    def selections(self) -> list[Field]:
        self.take("{")
        found: list[Field] = []
        while self.peek()[1] != "}":
            if self.peek()[0] == "spread":
                raise GraphQLError("fragments are not served by this simulator")
            found.append(self.field())
        self.take("}")
        if not found:
            raise GraphQLError("a selection set must select at least one field")
        return found

    def field(self) -> Field:
        kind, name = self.take()
        if kind != "name":
            raise GraphQLError(f"Parse error on {name!r} (expected a field)")
        alias = None
        if self.peek()[1] == ":":
            self.take()
            alias, name = name, self.take()[1]
        args: dict[str, Any] = {}
        if self.peek()[1] == "(":
            self.take()
            while self.peek()[1] != ")":
                key = self.take()[1]
                self.take(":")
                args[key] = self.value()
            self.take(")")
        self.directives()
        selections = self.selections() if self.peek()[1] == "{" else []
        return Field(name, alias, args, selections)

    def value(self) -> Any:
        kind, text = self.take()
        if text == "$":
            return Variable(self.take()[1])
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "string":
            return _unquote(text)
        if text == "[":
            items = []
            while self.peek()[1] != "]":
                items.append(self.value())
            self.take("]")
            return items
        if text == "{":
            entries: dict[str, Any] = {}
            while self.peek()[1] != "}":
                key = self.take()[1]
                self.take(":")
                entries[key] = self.value()
            self.take("}")
            return entries
        if kind == "name":
            return {"true": True, "false": False, "null": None}.get(text, text)  # else an enum value
        raise GraphQLError(f"Parse error on {text!r} (expected a value)")


def parse_query(text: str) -> list[Field]:
    """The root fields of a query; GraphQLError for anything this simulator does not serve."""
    if not isinstance(text, str) or not text.strip():
        raise GraphQLError("No query string was present")
    return _Parser(text).document()


def argument(value: Any, variables: dict[str, Any]) -> Any:
    """An argument's value with its variables replaced by theirs (an unset variable is null)."""
    if isinstance(value, Variable):
        return variables.get(value.name)
    if isinstance(value, list):
        return [argument(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: argument(v, variables) for k, v in value.items()}
    return value
