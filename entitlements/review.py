"""A caseworker's decisions on an entitlement the rules could not decide (pure rules, no session).

Each decision answers what it changes: the status it moves the entitlement to (through the lifecycle's gate),
the action on record and its note, or Refused when it is not possible now. The console loads the case, asks here
and writes what is answered (beforeservice/console/review.py).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from entitlements.lifecycle import EntitlementStatus, IllegalTransition, transition


class ReviewAction(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    INFO_REQUESTED = "info_requested"
    ASSIGNED = "assigned"


class Refused(ValueError):
    """The decision is not possible now (e.g. the entitlement is no longer pending)."""


@dataclass(frozen=True)
class Case:
    """What the rules need to know about a case: its status, and whether it was approved before."""

    status: str
    approved_before: bool = False


@dataclass(frozen=True)
class Verdict:
    """What a decision writes: `action` None means nothing (an approval repeated)."""

    action: ReviewAction | None
    new_status: EntitlementStatus | None = None
    note: str | None = None
    assignee: str | None = None

    @property
    def repeated(self) -> bool:
        return self.action is None


def _move(case: Case, new: EntitlementStatus) -> EntitlementStatus:
    try:
        return transition(EntitlementStatus(case.status), new)
    except IllegalTransition as exc:
        raise Refused(f"this entitlement is {case.status}; it can no longer be {new.value}") from exc


def _pending(case: Case, why: str) -> None:
    if case.status != EntitlementStatus.PENDING_REVIEW.value:
        raise Refused(f"this entitlement is {case.status}; {why}")


def approve(case: Case, note: str | None) -> Verdict:
    """pending_review → matched. Idempotent: an approved entitlement is never pending again, so approving it again
    (a resubmitted form, a retried request, two caseworkers at once) writes nothing."""
    if case.approved_before:
        return Verdict(None)
    return Verdict(ReviewAction.APPROVED, _move(case, EntitlementStatus.MATCHED), note or None)


def reject(case: Case, reason: str) -> Verdict:
    if not reason.strip():
        raise Refused("a rejection needs a reason")
    return Verdict(ReviewAction.REJECTED, _move(case, EntitlementStatus.REJECTED), reason.strip())


def request_information(case: Case, what: str) -> Verdict:
    _pending(case, "information is requested only while pending review")
    if not what.strip():
        raise Refused("say which information is needed")
    return Verdict(ReviewAction.INFO_REQUESTED, note=what.strip())


def assign(case: Case, assignee: str, colleagues: Collection[str]) -> Verdict:
    """To an active colleague in the decider's agencies, while the case is pending."""
    _pending(case, "only pending cases are assigned")
    if assignee not in colleagues:
        raise Refused(f"'{assignee}' is not an active colleague in your agencies")
    return Verdict(ReviewAction.ASSIGNED, assignee=assignee)
