"""Municipal tables are linted as they load: each mistake stops the catalog with the table file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from entitlements import CATALOG_DIR
from rules_engine.catalog import CatalogError, load_catalog

BUSAN = Path("tables/local_birth_grant/26_busan.yaml")


def _broken(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of the catalog with one edit in the 부산 table; returns the file and the edited line."""
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    table = catalog / BUSAN
    text = table.read_text(encoding="utf-8")
    assert old in text
    table.write_text(text.replace(old, new, 1), encoding="utf-8")
    return table, text[: text.index(old)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('  - code: "26110"\n', '  - code: "26999"\n', "unknown code '26999'"),
        ('  - code: "26110"\n', '  - code: "41110"\n', "belongs to 시도 41"),
        ("    source: https://www.bsjunggu.go.kr\n", "", "missing required key 'source'"),
        ("    source: https://www.bsjunggu.go.kr\n", "    source: bsjunggu.go.kr\n", "official page's URL"),
        ('{1: 0, 2: 200000, "3+": 500000}', '{1: 0, 2: 200000.5, "3+": 500000}', "whole numbers of KRW"),
        ('{1: 0, 2: 200000, "3+": 500000}', '{1: 0, "3+": 500000}', "birth orders must run 1, 2"),
        ('  - code: "26140"\n', '  - code: "26110"\n', "26110 already has a row"),
    ],
)
def test_a_table_mistake_names_the_file_and_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    table, line = _broken(tmp_path, old, new)
    with pytest.raises(CatalogError) as error:
        load_catalog(tmp_path / "catalog")
    assert f"{table}:" in str(error.value) and message in str(error.value)
    reported = int(str(error.value).removeprefix(f"{table}:").split(":", 1)[0])
    assert abs(reported - line) <= 3, (reported, line)  # the row (or its key) that is wrong


def test_two_amounts_for_one_birth_date_overlap(tmp_path: Path) -> None:
    _broken(
        tmp_path,
        '      2023-01-01: {1: 0, 2: 200000, "3+": 10000000}\n',
        '      2023-01-01: {1: 0, 2: 200000, "3+": 10000000}\n      2023-01-01: {"1+": 1}\n',
    )
    with pytest.raises(CatalogError, match=r"26_busan\.yaml: invalid YAML: duplicate key .*\(first on line \d+\)"):
        load_catalog(tmp_path / "catalog")


def test_every_listed_municipality_gets_a_grant_or_the_information_offer() -> None:
    from rules_engine.catalog import load_agencies, read_yaml
    from rules_engine.grant_tables import expand

    declaration = CATALOG_DIR / "birth" / "local_birth_grant.yaml"
    table = expand(declaration, read_yaml(declaration), CATALOG_DIR, load_agencies(CATALOG_DIR / "agencies.yaml"))
    ids = set(load_catalog(CATALOG_DIR).benefits)
    for code in table.codes.municipalities:
        row = table.rows.get(code)
        if row is not None and row.benefit_id is not None:
            assert row.benefit_id in ids and f"local_birth_grant_information_{code}" not in ids
        elif row is None or row.pending:
            assert f"local_birth_grant_information_{code}" in ids
