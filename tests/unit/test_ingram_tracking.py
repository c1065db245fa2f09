"""Reading a parts file: one part number a line, or a CSV column; bad lines reported with their number, the
good ones kept; part numbers stay text."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_core.errors import ConfigError
from sync_core.pipelines.ingram.tracking import part_problem, read_parts, read_parts_file


def test_one_part_number_a_line_keeps_leading_zeros_and_letters() -> None:
    found = read_parts("012345\n3E0042\n\n# a comment\n  4A0036  \n012345\n")
    assert found.parts == {"012345": 1, "3E0042": 2, "4A0036": 5}
    assert found.bad == []


def test_a_csv_column_is_found_by_its_header() -> None:
    text = "vendor,Ingram Part Number,qty\nDELL,012345,1\nHP,3E0042,2\n"
    assert read_parts(text).parts == {"012345": 2, "3E0042": 3}


def test_a_csv_without_a_known_header_uses_its_first_column() -> None:
    assert read_parts("012345;a\n3E0042;b\n").parts == {"012345": 1, "3E0042": 2}


def test_bad_lines_are_reported_with_their_number_and_the_good_ones_kept() -> None:
    found = read_parts("part_number\n012345\nAB CD\n3E0042\n" + "X" * 41 + "\n")
    assert found.parts == {"012345": 2, "3E0042": 4}
    assert [number for number, _ in found.bad] == [3, 5]
    assert "'AB CD' is not a part number" in found.bad[0][1]


def test_a_csv_row_without_the_column_is_bad() -> None:
    found = read_parts('sku,name\n012345,a\n,\n""\n')
    assert found.parts == {"012345": 2}
    assert found.bad == []  # an empty row is passed by


def test_a_file_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read .*missing.csv"):
        read_parts_file(tmp_path / "missing.csv")


def test_a_latin1_file_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "parts.csv"
    path.write_bytes("\ufeffpart\n012345\n".encode())
    assert read_parts_file(path).parts == {"012345": 2}


@pytest.mark.parametrize("text", ["012345", "3E0042", "ABC-12/X.5", "a_b"])
def test_part_numbers(text: str) -> None:
    assert part_problem(text) is None


@pytest.mark.parametrize("text", ["", " 1", "a b", "-12", "é1"])
def test_not_part_numbers(text: str) -> None:
    assert part_problem(text) is not None
