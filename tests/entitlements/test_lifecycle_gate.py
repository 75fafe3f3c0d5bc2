"""The lifecycle is the gate: every status change passes the transition table; a forbidden one is refused."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from entitlements.households import Citizen, Household
from entitlements.lifecycle import (
    CLOSABLE,
    TRANSITIONS,
    EntitlementStatus,
    IllegalTransition,
    allowed,
    sources,
    transition,
)
from entitlements.matching import OpenEntitlement, StatusChange, handle
from tests.entitlements.test_life_events import CATALOG, book_of, event, suwon_family

S = EntitlementStatus
FORBIDDEN = [(a, b) for a in S for b in S if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "new"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_every_transition_the_table_does_not_list_is_refused(current: S, new: S) -> None:
    with pytest.raises(IllegalTransition):
        transition(current, new)
    assert current not in sources(new)


def test_the_decisions_the_table_encodes() -> None:
    # An agency's word that someone applied or was granted is a fact, also for an offer pending review.
    assert allowed(S.PENDING_REVIEW, S.APPLIED) and allowed(S.PENDING_REVIEW, S.GRANTED)
    # A granted entitlement stays granted when its period ends; nothing leaves a final status.
    for final in (S.GRANTED, S.REJECTED, S.ENDED, S.RETRACTED):
        assert TRANSITIONS[final] == frozenset()
    # Expired (the application closed) may still be applied for late; ended (the right ended) may not.
    assert allowed(S.EXPIRED, S.APPLIED) and not allowed(S.ENDED, S.APPLIED)
    assert sources(S.NOTIFIED) == {S.MATCHED}


def _received(kind: str = "application.received", event_id: str = "app-1") -> Any:
    data = {"benefit_id": "child_allowance", "citizen_id": "m1", "received_on": "2024-03-10"}
    if kind == "benefit.granted":
        data = {"benefit_id": "child_allowance", "citizen_id": "m1", "granted_on": "2024-03-20"}
    return event(f"kr.go.mohw.{kind}", "/agencies/mohw/bokjiro", data, event_id=event_id)


def _family() -> Household:
    household = suwon_family()
    household.members["c1"] = Citizen("c1", "hh-1", "child", date(2024, 3, 1), 1)
    return household


def test_application_received_for_an_offer_pending_review_applies_it() -> None:
    household = _family()
    pending = OpenEntitlement("o1", "child_allowance", "c1", "hh-1", S.PENDING_REVIEW, None)
    outcome = handle(_received(), book_of(household, [pending]), CATALOG)
    assert [(c.entitlement_id, c.status) for c in outcome.status_changes] == [("o1", S.APPLIED)]


def test_application_then_grant_in_one_batch_follow_the_table() -> None:
    household = _family()
    book = book_of(household, [OpenEntitlement("o1", "child_allowance", "c1", "hh-1", S.NOTIFIED, 100_000)])
    handle(_received(), book, CATALOG)
    granted = handle(_received("benefit.granted", "grant-1"), book, CATALOG)
    assert [(c.entitlement_id, c.status) for c in granted.status_changes] == [("o1", S.GRANTED)]
    assert book.open["o1"].status is S.GRANTED
    again = handle(_received("benefit.granted", "grant-2"), book, CATALOG)
    assert again.status_changes == []  # the same fact told twice changes nothing


def test_an_application_told_after_the_grant_changes_nothing() -> None:
    """Agencies' events may arrive out of order: a grant implies the application."""
    household = _family()
    book = book_of(household, [OpenEntitlement("o1", "child_allowance", "c1", "hh-1", S.GRANTED, 100_000)])
    assert handle(_received(), book, CATALOG).status_changes == []
    assert book.open["o1"].status is S.GRANTED


@pytest.mark.parametrize("status", [S.RETRACTED, S.ENDED, S.REJECTED])
def test_an_agency_event_for_an_offer_we_retracted_ended_or_rejected_is_a_forbidden_transition(status: S) -> None:
    household = _family()
    book = book_of(household, [OpenEntitlement("o1", "child_allowance", "c1", "hh-1", status, 100_000)])
    with pytest.raises(IllegalTransition, match=f"o1 is {status}"):
        handle(_received("benefit.granted", "grant-1"), book, CATALOG)
    assert book.open["o1"].status is status  # nothing remembered


def test_a_grant_for_a_corrected_offer_lands_on_the_correction_not_the_retracted_original() -> None:
    household = _family()
    book = book_of(
        household,
        [
            OpenEntitlement("old", "child_allowance", "c1", "hh-1", S.RETRACTED, 100_000),
            OpenEntitlement("new", "child_allowance", "c1", "hh-1", S.NOTIFIED, 110_000),
        ],
    )
    outcome = handle(_received("benefit.granted", "grant-1"), book, CATALOG)
    assert [(c.entitlement_id, c.status) for c in outcome.status_changes] == [("new", S.GRANTED)]


def test_the_batch_gate_refuses_any_forbidden_change_and_remembers_none() -> None:
    household = _family()
    book = book_of(
        household,
        [
            OpenEntitlement("o1", "child_allowance", "c1", "hh-1", S.NOTIFIED, 100_000),
            OpenEntitlement("o2", "parental_benefit", "c1", "hh-1", S.RETRACTED, 1_000_000),
        ],
    )
    with pytest.raises(IllegalTransition, match="o2"):
        book.record([StatusChange("o1", S.APPLIED, "x"), StatusChange("o2", S.MATCHED, "y")])
    assert book.open["o1"].status is S.NOTIFIED


def test_closable_covers_every_status_an_agency_event_may_land_from() -> None:
    assert sources(S.APPLIED) | sources(S.GRANTED) <= CLOSABLE
