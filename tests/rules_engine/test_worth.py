"""An offer's worth, in its one home: the cases conflicts, notification order and outreach rely on."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from rules_engine.conflicts import Conflict, resolve_conflicts
from rules_engine.eligibility import Eligibility
from rules_engine.worth import yearly_worth


@pytest.mark.parametrize(
    ("amount_krw", "payment", "worth"),
    [
        (1_000_000, "once", 1_000_000),  # a one-off amount is worth itself
        (100_000, "monthly", 1_200_000),  # a monthly benefit is worth a year of payments
        (None, "monthly", 0),  # an amount not known yet is worth nothing, never a guess
        (None, "once", 0),
        (None, "information", 0),  # information offers come last
        (0, "monthly", 0),
    ],
)
def test_yearly_worth(amount_krw: int | None, payment: str, worth: int) -> None:
    assert yearly_worth(amount_krw, payment) == worth


def _decision(benefit_id: str, amount_krw: int | None, payment: str) -> Any:
    benefit = SimpleNamespace(id=benefit_id, payment=payment, name={"ko": benefit_id, "en": benefit_id})
    return SimpleNamespace(benefit=benefit, eligibility=Eligibility.ELIGIBLE, amount_krw=amount_krw)


def test_a_better_conflict_keeps_the_offer_worth_more_over_a_year() -> None:
    """100,000 a month (1.2M a year) beats 1,000,000 once, though the one-off amount is larger."""
    conflict = Conflict(("grant_once", "allowance_monthly"), "better", {"ko": "", "en": ""}, "law")
    decisions = [_decision("grant_once", 1_000_000, "once"), _decision("allowance_monthly", 100_000, "monthly")]
    kept, _ = resolve_conflicts([conflict], decisions)
    assert [d.benefit.id for d in kept] == ["allowance_monthly"]
