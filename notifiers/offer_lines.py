"""What a template needs to know about one offer (the catalog's words plus the entitlement's figures)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from rules_engine.catalog import Benefit
from rules_engine.deadlines import DatedDeadline


def deadline_lines(deadlines: Sequence[DatedDeadline], today: date | None) -> list[dict[str, Any]]:
    """Each dated deadline for a template: its kind (the words depend on it), its day, and whether it passed on
    `today` (a passed retroactive window changes the text: the right stands, paid from the month of application)."""
    return [
        {"kind": d.kind.value, "last_day": d.last_day.isoformat(), "passed": today is not None and d.passed(today)}
        for d in deadlines
    ]


def offer_line(
    benefit: Benefit,
    amount_krw: int | None,
    payment: str,
    deadline: date | None,
    deadlines: Sequence[DatedDeadline] = (),
    today: date | None = None,
) -> dict[str, Any]:
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
        "deadline": deadline.isoformat() if deadline else None,  # the day the offer ends, if any
        "deadlines": deadline_lines(deadlines, today),  # every dated deadline with its kind (the words use these)
        "apply_url": benefit.apply_url,
        "apply_how_ko": benefit.apply_how["ko"],
        "apply_how_en": benefit.apply_how["en"],
    }
