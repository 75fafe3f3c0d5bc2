"""What a template needs to know about one offer (the catalog's words plus the entitlement's figures)."""

from __future__ import annotations

from datetime import date
from typing import Any

from rules_engine.catalog import Benefit


def offer_line(benefit: Benefit, amount_krw: int | None, payment: str, deadline: date | None) -> dict[str, Any]:
    return {
        "benefit_id": benefit.id,
        "name_ko": benefit.name["ko"],
        "name_en": benefit.name["en"],
        "agency_ko": benefit.agency.name["ko"],
        "agency_en": benefit.agency.name["en"],
        "summary_ko": benefit.summary["ko"],
        "summary_en": benefit.summary["en"],
        "amount_krw": amount_krw,
        "payment": payment,
        "deadline": deadline.isoformat() if deadline else None,
        "apply_url": benefit.apply_url,
        "apply_how_ko": benefit.apply_how["ko"],
        "apply_how_en": benefit.apply_how["en"],
    }
