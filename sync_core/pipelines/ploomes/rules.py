"""The classification rules of Ploomes products: a small TOML file the user can edit (PLOOMES_RULES_FILE,
else the built-in ``rules.toml``): code prefix, group or family → product type and category, and the
currency codes of Ploomes' currency ids. Read once per run; a bad file is a one-line ConfigError naming it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync_core.errors import ConfigError

BUILT_IN = Path(__file__).with_name("rules.toml")
TYPES = ("service", "rental", "product")
RULE_KEYS = {"code_prefix", "group", "family", "type", "category"}


@dataclass(frozen=True)
class Rule:
    type: str
    code_prefix: str | None = None  # upper-cased
    group: str | None = None  # case-folded
    family: str | None = None  # case-folded
    category: str | None = None

    def matches(self, code: str | None, group: str | None, family: str | None) -> bool:
        if self.code_prefix is not None and not (code or "").upper().startswith(self.code_prefix):
            return False
        if self.group is not None and (group or "").casefold() != self.group:
            return False
        return self.family is None or (family or "").casefold() == self.family


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]
    default_type: str = "product"
    currencies: tuple[tuple[int, str], ...] = ()

    def classify(self, code: str | None, group: str | None, family: str | None) -> tuple[str, str | None]:
        """(product type, category) of a product: its first matching rule's, else the default type and its
        group's name."""
        for rule in self.rules:
            if rule.matches(code, group, family):
                return rule.type, rule.category or group
        return self.default_type, group

    def currency(self, currency_id: int | None) -> str | None:
        if currency_id is None:
            return None
        return dict(self.currencies).get(currency_id, str(currency_id))


def load_rules(path: str = "") -> Rules:
    """The rules of ``path`` (the built-in file when empty); ConfigError (one line) for a missing or bad file."""
    source = Path(path) if path else BUILT_IN
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"PLOOMES_RULES_FILE {source}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"PLOOMES_RULES_FILE {source}: not TOML ({exc})") from None
    try:
        return _rules(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"PLOOMES_RULES_FILE {source}: {exc}") from None


def _rules(data: dict[str, Any]) -> Rules:
    default = _type(data.get("default_type", "product"), "default_type")
    rules = []
    for n, raw in enumerate(data.get("rules", []), 1):
        if not isinstance(raw, dict):
            raise ValueError(f"rule {n} is not a table ([[rules]])")
        unknown = set(raw) - RULE_KEYS
        if unknown:
            raise ValueError(f"rule {n} has unknown key(s) {', '.join(sorted(unknown))}")
        if not {"code_prefix", "group", "family"} & set(raw):
            raise ValueError(f"rule {n} matches nothing: give code_prefix, group or family")
        prefix, group, family = raw.get("code_prefix"), raw.get("group"), raw.get("family")
        rules.append(
            Rule(
                type=_type(raw.get("type"), f"rule {n}'s type"),
                code_prefix=str(prefix).upper() if prefix is not None else None,
                group=str(group).casefold() if group is not None else None,
                family=str(family).casefold() if family is not None else None,
                category=str(raw["category"]) if raw.get("category") else None,
            )
        )
    currencies = []
    for key, code in dict(data.get("currencies", {})).items():
        if not str(key).isdigit() or not isinstance(code, str):
            raise ValueError(f'currencies: {key!r} = {code!r} is not <id> = "<code>"')
        currencies.append((int(key), code))
    return Rules(tuple(rules), default, tuple(currencies))


def _type(value: Any, what: str) -> str:
    if value not in TYPES:
        raise ValueError(f"{what} must be one of {', '.join(TYPES)}, not {value!r}")
    return str(value)
