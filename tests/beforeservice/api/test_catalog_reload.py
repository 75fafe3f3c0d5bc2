"""A catalog edit reaches the API without a restart, as it reaches the worker (beforeservice.catalog_watch)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entitlements import CATALOG_DIR
from tests.beforeservice.api.stack import Stack, start_stack
from tests.beforeservice.api.test_evaluations import by_benefit, example
from tests.conftest import wait_for

pytestmark = pytest.mark.integration
GRANTS = Path("tables") / "local_birth_grant" / "41_gyeonggi.yaml"
SUWON_2026 = "2026-01-01: {1: 500000, 2: 1000000,"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(CATALOG_DIR, directory)
    return directory


@pytest.fixture(scope="module")
def stack(catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Looked at on every request, so that the test need not wait for the check interval (1 s by default).
    env = {"CATALOG_DIR": str(catalog), "CATALOG_CHECK_SECONDS": "0"}
    yield from start_stack("sqlite", tmp_path_factory.mktemp("catalog-reload"), env)


def suwon_grant(stack: Stack) -> dict[str, Any]:
    r = stack.client.post("/v1/evaluations", json=example(), headers=stack.bearer("kim.suwon"))
    assert r.status_code == 200, r.text
    return by_benefit(r.json())["suwon_birth_grant"]


def test_an_edited_amount_is_what_the_api_evaluates_next(stack: Stack, catalog: Path) -> None:
    assert suwon_grant(stack)["amount_krw"] == 1_000_000  # a second child born in 2026
    grants = catalog / GRANTS
    text = grants.read_text(encoding="utf-8")
    assert SUWON_2026 in text
    grants.write_text(text.replace(SUWON_2026, "2026-01-01: {1: 500000, 2: 1200000,"), encoding="utf-8")

    wait_for(lambda: suwon_grant(stack)["amount_krw"] == 1_200_000, 30, what="the API to evaluate the edited rule")


def test_a_broken_edit_leaves_the_api_on_the_previous_catalog(stack: Stack, catalog: Path) -> None:
    grants = catalog / GRANTS
    before = suwon_grant(stack)["amount_krw"]
    grants.write_text(grants.read_text(encoding="utf-8").replace("amounts:", "amounts: [", 1), encoding="utf-8")
    assert suwon_grant(stack)["amount_krw"] == before  # the broken file is read, refused, and not used
