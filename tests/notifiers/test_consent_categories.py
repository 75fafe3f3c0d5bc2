"""Consent categories have one home (rules_engine.categories.ConsentCategory): the catalog, the consent records and
the API accept exactly its members."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from beforeservice.api.citizens import ConsentChange
from entitlements import CATALOG_DIR
from notifiers.consent import UnknownConsentScope, _check
from rules_engine.catalog import CatalogError
from rules_engine.categories import ConsentCategory, is_category
from rules_engine.loader import load_catalog

VALUES = [c.value for c in ConsentCategory]


def test_every_benefit_of_the_catalog_belongs_to_a_consent_category() -> None:
    benefits = load_catalog(CATALOG_DIR).benefits.values()
    assert all(isinstance(b.category, ConsentCategory) for b in benefits)


def test_the_catalog_refuses_a_category_that_is_not_one(tmp_path: Path) -> None:
    directory = tmp_path / "catalog"
    (directory / "birth").mkdir(parents=True)
    (directory / "agencies.yaml").write_text((CATALOG_DIR / "agencies.yaml").read_text(encoding="utf-8"))
    source = (CATALOG_DIR / "birth" / "first_meeting_voucher.yaml").read_text(encoding="utf-8")
    (directory / "birth" / "broken.yaml").write_text(source.replace("category: childbirth_childcare", "category: pets"))
    with pytest.raises(CatalogError, match=r"unknown category 'pets'; one of .*'bereavement'"):
        load_catalog(directory)


@pytest.mark.parametrize("category", VALUES)
def test_consents_and_the_api_accept_every_category(category: str) -> None:
    _check(category, "push")
    change = ConsentChange.model_validate({"category": category, "channel": "push", "granted": True})
    assert change.category is ConsentCategory(category)


@pytest.mark.parametrize("category", ["pets", "BEREAVEMENT", "elderly ", "", "CHILDBIRTH_CHILDCARE"])
def test_consents_and_the_api_refuse_anything_else(category: str) -> None:
    assert not is_category(category)
    with pytest.raises(UnknownConsentScope):
        _check(category, "push")
    with pytest.raises(ValidationError) as refused:
        ConsentChange.model_validate({"category": category, "channel": "push", "granted": True})
    assert [e["loc"] for e in refused.value.errors()] == [("category",)]


def test_the_api_documents_exactly_the_categories() -> None:
    schema = ConsentChange.model_json_schema()
    assert schema["properties"]["category"]["enum"] == VALUES
