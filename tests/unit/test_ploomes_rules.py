"""The Ploomes classification rules: the built-in file reproduces the seed's (CIA_LOC_ → rental, CIA_ →
service, the rest products, category = the group's name), a user's file overrides, a bad file is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_core.errors import ConfigError
from sync_core.pipelines.ploomes.rules import load_rules


def test_the_built_in_rules_reproduce_the_seeds() -> None:
    rules = load_rules()
    assert rules.classify("CIA_LOC_0042", "Locação", "Marteletes") == ("rental", "Locação")
    assert rules.classify("cia_loc_7", None, None) == ("rental", None)
    assert rules.classify("CIA_MANUT_01", "Serviços", None) == ("service", "Serviços")
    assert rules.classify("ATL-GA30", "Atlas", "Compressores") == ("product", "Atlas")
    assert rules.classify(None, None, None) == ("product", None)
    assert (rules.currency(1), rules.currency(2), rules.currency(9), rules.currency(None)) == (
        "BRL",
        "USD",
        "9",
        None,
    )


def test_a_users_file_matches_on_group_and_family_and_names_the_category(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        'default_type = "service"\n'
        '[[rules]]\nfamily = "LOCAÇÃO de equipamentos"\ntype = "rental"\ncategory = "Locação"\n'
        '[[rules]]\ngroup = "atlas"\ncode_prefix = "ATL-"\ntype = "product"\n',
        encoding="utf-8",
    )
    rules = load_rules(str(path))
    assert rules.classify("X1", "Peças", "Locação de Equipamentos") == ("rental", "Locação")
    assert rules.classify("ATL-1", "Atlas", None) == ("product", "Atlas")
    assert rules.classify("ING-1", "Atlas", None) == ("service", "Atlas")  # both conditions must match
    assert rules.currency(1) == "1"  # no [currencies] table: ids as they are


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('[[rules]]\ncode_prefix = "X"\ntype = "rentals"\n', "rule 1's type must be one of service, rental"),
        ('[[rules]]\ntype = "rental"\n', "rule 1 matches nothing: give code_prefix, group or family"),
        ('[[rules]]\ncode_prefix = "X"\ntype = "rental"\ncolour = "red"\n', "unknown key(s) colour"),
        ("[[rules]\n", "not TOML"),
        ("[currencies]\nBRL = 1\n", 'is not <id> = "<code>"'),
    ],
)
def test_a_bad_file_is_one_line_naming_it(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_rules(str(path))
    message = str(refused.value)
    assert message.startswith(f"PLOOMES_RULES_FILE {path}: ") and said in message
    assert "\n" not in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"PLOOMES_RULES_FILE .*nope\.toml: cannot read it"):
        load_rules(str(tmp_path / "nope.toml"))
