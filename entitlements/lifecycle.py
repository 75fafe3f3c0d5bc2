"""The life of a matched entitlement, from match to grant: the one gate every status change goes through.

`TRANSITIONS` is the whole law of it. A change it does not list is refused (`IllegalTransition`), wherever it comes
from: the worker's batch (application.received / benefit.granted, corrections, deaths), the dispatcher (notified),
the daily expiry, the scheduler's milestones, a caseworker's review, a citizen opening an offer. Writers that update
many rows by a condition restrict it to `sources(new)`, so a row in another status is left as it is.

Decisions worth knowing (docs/lifecycle.md):
- An agency's `application.received` / `benefit.granted` is a fact: it moves an offer still pending review to
  applied / granted (the review case is then closed: the queue shows pending_review only).
- `expired`: the application period closed unused (an agency may still accept a late application: → applied).
  `ended`: the right itself ended (a benefit period, an age limit) before anyone applied; nothing follows.
  A granted entitlement stays granted when its period ends: the grant happened; its end date is shown.
"""

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
    EXPIRED = "expired"  # the application closed unused (deadline kind application_closes)
    ENDED = "ended"  # the right ended before it was applied for (deadline kind entitlement_ends)
    RETRACTED = "retracted"  # withdrawn by us: the law or the records changed, or the person died


S = EntitlementStatus
TRANSITIONS: dict[EntitlementStatus, frozenset[EntitlementStatus]] = {
    S.PENDING_REVIEW: frozenset({S.MATCHED, S.REJECTED, S.APPLIED, S.GRANTED, S.EXPIRED, S.ENDED, S.RETRACTED}),
    S.MATCHED: frozenset({S.NOTIFIED, S.VIEWED, S.APPLIED, S.GRANTED, S.EXPIRED, S.ENDED, S.RETRACTED}),
    S.NOTIFIED: frozenset({S.VIEWED, S.APPLIED, S.GRANTED, S.EXPIRED, S.ENDED, S.RETRACTED}),
    S.VIEWED: frozenset({S.APPLIED, S.GRANTED, S.EXPIRED, S.ENDED, S.RETRACTED}),
    S.APPLIED: frozenset({S.GRANTED, S.REJECTED}),
    S.GRANTED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset({S.APPLIED, S.GRANTED}),  # an agency may still accept a late application
    S.ENDED: frozenset(),
    S.RETRACTED: frozenset(),
}
OPEN = frozenset({S.MATCHED, S.NOTIFIED, S.VIEWED})  # offers a citizen can still act on
UNDECIDED = OPEN | {S.PENDING_REVIEW}  # what re-evaluation, expiry and corrections look at
# What an agency's application.received / benefit.granted is checked against: every status but a brand-new one, so
# that one for an offer we retracted, that ended or was rejected is refused by the table (and dead-lettered).
CLOSABLE = UNDECIDED | {S.APPLIED, S.EXPIRED, S.GRANTED, S.REJECTED, S.ENDED, S.RETRACTED}


class IllegalTransition(ValueError):
    pass


def allowed(current: EntitlementStatus, new: EntitlementStatus) -> bool:
    return new in TRANSITIONS[current]


def transition(current: EntitlementStatus, new: EntitlementStatus) -> EntitlementStatus:
    if not allowed(current, new):
        raise IllegalTransition(f"an entitlement cannot go from {current} to {new}")
    return new


def sources(new: EntitlementStatus) -> frozenset[EntitlementStatus]:
    """Every status `new` may be reached from: the guard of an UPDATE that changes many rows by a condition."""
    return frozenset(s for s, targets in TRANSITIONS.items() if new in targets)


def initial_status(eligibility: Eligibility) -> EntitlementStatus:
    if eligibility is Eligibility.ELIGIBLE:
        return S.MATCHED
    if eligibility is Eligibility.UNDETERMINED:
        return S.PENDING_REVIEW
    raise ValueError("a not-eligible decision is not an entitlement")
