"""Issue 15: a Vietnamese-speaking family reads the catalog in Vietnamese: every national benefit has a vi name,
summary and how-to-apply, and so do the municipal grants the tables generate (their summary, its caution, and the
information offers for a 시군구 without a row)."""

from __future__ import annotations

from pathlib import Path

import pytest

from entitlements import CATALOG_DIR
from rules_engine.catalog import Catalog
from rules_engine.loader import load_catalog
from rules_engine.yaml_source import read_yaml


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(CATALOG_DIR)


def national_benefit_ids() -> list[str]:
    """The benefits written one per file (not the rows of the municipal tables)."""
    ids = []
    for path in sorted(Path(CATALOG_DIR).rglob("*.yaml")):
        raw = read_yaml(path)
        if "tables" not in path.parts and isinstance(raw, dict) and "id" in raw:
            ids.append(raw["id"])
    return ids


def is_vietnamese(text: str) -> bool:
    """Vietnamese, not an English copy: it carries Vietnamese diacritics."""
    return any(c in text for c in "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")


def test_every_national_benefit_has_a_vietnamese_name_summary_and_how_to_apply(catalog: Catalog) -> None:
    ids = national_benefit_ids()
    assert len(ids) >= 34
    for benefit_id in ids:
        benefit = catalog.benefits[benefit_id]
        for texts in (benefit.name, benefit.summary, benefit.apply_how):
            assert "vi" in texts, benefit_id
            assert is_vietnamese(texts["vi"]) and texts["vi"] != texts["en"], (benefit_id, texts["vi"])
    assert catalog.benefits["parental_benefit"].name["vi"] == "Trợ cấp cho cha mẹ (부모급여)"
    assert "1,000,000 KRW" in catalog.benefits["parental_benefit"].summary["vi"]


def test_municipal_grants_and_their_information_offers_read_in_vietnamese(catalog: Catalog) -> None:
    grants = [b for b in catalog.benefits.values() if b.id.startswith("local_birth_grant_")]
    paid = [b for b in grants if b.payment != "information"]
    offers = [b for b in grants if b.payment == "information"]
    assert paid and offers
    for benefit in grants:
        assert is_vietnamese(benefit.name["vi"]) and is_vietnamese(benefit.summary["vi"]), benefit.id
        assert is_vietnamese(benefit.apply_how["vi"]), benefit.id
        assert all(is_vietnamese(c.reason["vi"]) for c in benefit.conditions if "vi" in c.reason), benefit.id
    assert any("KRW cho con thứ" in b.summary["vi"] or "KRW cho mỗi trẻ" in b.summary["vi"] for b in paid)
    cautioned = [b for b in paid if "not yet confirmed" in b.summary["en"]]
    assert cautioned and all("chưa được xác nhận" in b.summary["vi"] for b in cautioned)
    catch_all = catalog.benefits["local_birth_grant_information_unlisted"]
    assert "nơi bạn cư trú" in catch_all.name["vi"] and "your city" not in catch_all.summary["vi"]
