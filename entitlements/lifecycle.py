"""The life of a matched entitlement, from match to grant; transitions outside this map are refused."""

from __future__ import annotations

from enum import StrEnum

from rules_engine.eligibility import Eligibility


class EntitlementStatus(StrEnum):
    MATCHED = "matched"
    PENDING_REVIEW = "pending_review"  # undetermined: a caseworker decides
    NOTIFIED = "notified"
    VIEWED = "viewed"
    APPLIED = "applied"
    GRANTED = "granted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    RETRACTED = "retracted"  # withdrawn by us: the law or the records changed, or the person died


S = EntitlementStatus
TRANSITIONS: dict[EntitlementStatus, frozenset[EntitlementStatus]] = {
    S.PENDING_REVIEW: frozenset({S.MATCHED, S.REJECTED, S.EXPIRED, S.RETRACTED}),
    S.MATCHED: frozenset({S.NOTIFIED, S.VIEWED, S.APPLIED, S.GRANTED, S.EXPIRED, S.RETRACTED}),
    S.NOTIFIED: frozenset({S.VIEWED, S.APPLIED, S.GRANTED, S.EXPIRED, S.RETRACTED}),
    S.VIEWED: frozenset({S.APPLIED, S.GRANTED, S.EXPIRED, S.RETRACTED}),
    S.APPLIED: frozenset({S.GRANTED, S.REJECTED}),
    S.GRANTED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset({S.APPLIED}),  # an agency may still accept a late application
    S.RETRACTED: frozenset(),
}
OPEN = frozenset({S.MATCHED, S.NOTIFIED, S.VIEWED})  # offers that can still expire at their deadline


class IllegalTransition(ValueError):
    pass


def transition(current: EntitlementStatus, new: EntitlementStatus) -> EntitlementStatus:
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"an entitlement cannot go from {current} to {new}")
    return new


def initial_status(eligibility: Eligibility) -> EntitlementStatus:
    if eligibility is Eligibility.ELIGIBLE:
        return S.MATCHED
    if eligibility is Eligibility.UNDETERMINED:
        return S.PENDING_REVIEW
    raise ValueError("a not-eligible decision is not an entitlement")
